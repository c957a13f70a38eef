package polar.engine.sparsity;

/**
 * How a batch's MLP router logits become one score per neuron, summed over the batch's tokens;
 * the top-k(B) neurons by that score are computed. The {@link MlpTable} records the rule it was
 * calibrated with, and the engine must select by the same rule.
 */
public enum MlpScore {
    /** {@code sum_b ReLU(z_b)}: the Polar Sparsity paper's rule. Neurons every token scores below 0 tie at 0. */
    RELU_SUM("relu_sum"),
    /**
     * {@code sum_b softplus(z_b) = -log prod_b (1 - sigmoid(z_b))}: ranks neurons by the probability that
     * at least one token of the batch activates them (the router's sigmoid read as a probability), which
     * is what batched recall counts. Like ReLU for large logits, but it still orders negative ones.
     */
    SOFTPLUS_SUM("softplus_sum");

    /** The name in {@code polar-sparsity.json}. */
    public final String jsonName;

    MlpScore(String jsonName) { this.jsonName = jsonName; }

    /** One token's contribution for logit {@code z} (never negative). */
    public float of(float z) {
        return switch (this) {
            case RELU_SUM -> Math.max(0f, z);
            case SOFTPLUS_SUM -> (float) (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
        };
    }

    public static MlpScore fromJson(String name) {
        for (MlpScore s : values()) if (s.jsonName.equals(name)) return s;
        return null;
    }
}
