package polar.bench;

import java.util.Locale;

/**
 * How much of a decode step Polar Sparsity keeps: {@code heads}, the fraction of attention heads
 * (MHA) or KV groups (GQA) each sequence reads in layers 1 and up (layer 0 stays dense), and
 * {@code mlp}, the fraction of MLP neurons the batch keeps (ReLU models). {@link #DENSE} keeps all.
 */
public record Sparsity(double heads, double mlp) {
    public static final Sparsity DENSE = new Sparsity(1, 1);

    /** Above this MLP density a layer runs dense (DESIGN.md). */
    static final double MLP_DENSE_ABOVE = 0.8;
    /** Selected neurons are rounded up to a multiple of this (the gather kernels' tile). */
    static final int NEURON_TILE = 128;

    public Sparsity {
        if (!(heads > 0 && heads <= 1) || !(mlp > 0 && mlp <= 1)) {
            throw new IllegalArgumentException("densities must be in (0, 1]: heads " + heads + ", mlp " + mlp);
        }
    }

    public boolean dense() { return heads == 1 && mlp == 1; }

    /** Heads (or KV groups) each sequence keeps out of {@code units}: at least one. */
    public int keptHeads(int units) {
        return Math.max(1, (int) Math.round(heads * units));
    }

    /** Neurons the batch keeps out of {@code ffn}: rounded up to the tile, all of them above {@link #MLP_DENSE_ABOVE}. */
    public int keptNeurons(int ffn) {
        int k = Math.min(ffn, (int) Math.ceil(mlp * ffn / NEURON_TILE) * NEURON_TILE);
        return k > MLP_DENSE_ABOVE * ffn ? ffn : k;
    }

    /** {@code dense}, or {@code polar(heads 0.5, mlp 1)}. */
    public String label() {
        return dense() ? "dense" : String.format(Locale.ROOT, "polar(heads %s, mlp %s)", trim(heads), trim(mlp));
    }

    private static String trim(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }
}
