package polar.engine.sparsity;

/**
 * The tensors of {@value RouterWeights#FILE_NAME}, named {@code layers.<layer>.<suffix>} and stored
 * as float32 in PyTorch's linear layout ({@code [out, in]}).
 */
public enum RouterTensor {
    /** Attention router weight, {@code [units, hidden]}. */
    ATTN_WEIGHT("attn_router.weight"),
    /** Attention router bias, {@code [units]}. */
    ATTN_BIAS("attn_router.bias"),
    /** Two-layer attention router's first layer weight, {@code [inner, hidden]} (its ATTN_WEIGHT is then {@code [units, inner]}). */
    ATTN_INNER_WEIGHT("attn_router.inner.weight"),
    /** Two-layer attention router's first layer bias, {@code [inner]}. */
    ATTN_INNER_BIAS("attn_router.inner.bias"),
    /** MLP router first (low-rank) projection, {@code [rank, hidden]}. */
    MLP_DOWN("mlp_router.down.weight"),
    /** MLP router second projection, {@code [ffn, rank]}. */
    MLP_UP("mlp_router.up.weight");

    public final String suffix;

    RouterTensor(String suffix) { this.suffix = suffix; }

    public String name(int layer) { return "layers." + layer + "." + suffix; }

    /** A tensor name split into its layer and kind, or null when it is not a router tensor name. */
    public record Name(int layer, RouterTensor kind) {}

    public static Name parse(String name) {
        if (!name.startsWith("layers.")) return null;
        int dot = name.indexOf('.', 7);
        if (dot < 0) return null;
        int layer;
        try {
            layer = Integer.parseInt(name.substring(7, dot));
        } catch (NumberFormatException e) {
            return null;
        }
        if (layer < 0) return null;
        String suffix = name.substring(dot + 1);
        for (RouterTensor t : values()) if (t.suffix.equals(suffix)) return new Name(layer, t);
        return null;
    }
}
