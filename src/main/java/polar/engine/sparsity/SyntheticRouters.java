package polar.engine.sparsity;

import java.util.SplittableRandom;
import polar.model.ModelConfig;

/**
 * Random but valid attention routers for a model of random weights (see {@code polar.model.SyntheticModel}):
 * every layer but 0 gets a router of the real shape, {@code [units, hidden]} plus bias, so a decode step does
 * exactly the work of a trained Polar model (router GEMM, top-k, selective attention) while the heads it picks
 * are arbitrary. The plan is the default one ({@link SparsityPlan#defaults}); the MLP stays dense.
 */
public final class SyntheticRouters {
    private SyntheticRouters() {}

    /** Routers and default plan for {@code config}, from {@code seed}. */
    public static PolarSparsity create(ModelConfig config, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int units = AttentionUnit.of(config).count(config), hidden = config.hidden();
        double scale = 1 / Math.sqrt(hidden);
        RouterWeights.AttentionRouter[] attention = new RouterWeights.AttentionRouter[config.layers()];
        for (int l = 1; l < attention.length; l++) {
            float[] weight = new float[units * hidden], bias = new float[units];
            for (int i = 0; i < weight.length; i++) weight[i] = (float) ((random.nextDouble() * 2 - 1) * scale);
            attention[l] = new RouterWeights.AttentionRouter(units, hidden, weight, bias);
        }
        PolarSparsity s = new PolarSparsity(SparsityPlan.defaults(config), new RouterWeights(attention, new RouterWeights.MlpRouter[config.layers()]));
        s.checkFits(config, "synthetic routers");
        return s;
    }
}
