package polar.tornado.layers;

import java.util.List;
import polar.tornado.graph.Buffer;
import polar.tornado.kernels.SparseMlp;
import polar.tornado.types.FloatArray;
import polar.tornado.types.IntArray;

/**
 * The device side of Polar Sparsity's MLP (ReLU models) for {@link LayerGraphBuilder}: per layer
 * the router ({@code down [rank, hidden]}, {@code up [ffn, rank]}, both in the activations' GEMM
 * type, like {@code low}; null where the layer runs dense) and {@code w2t [ffn, hidden]} (the MLP's
 * down weight transposed, in the weights' type), and {@code k[layer][batch - 1]}, the neurons a
 * decode step of {@code batch} sequences computes (0: dense). {@code softplus}: aggregate the
 * batch's router logits by softplus sum (else ReLU sum). Scratch: {@code low [maxTokens, maxRank]}
 * (activation type), {@code scores [maxTokens, ffn]}, {@code sums [ffn]}, {@code active [ffn]},
 * {@code h [maxTokens, ffn]}, {@code partial}, FC2's split-K partials (at least
 * {@link #partialLength} for the largest step; one element turns split-K off), and {@code arrivals},
 * FC2's count of finished splits per output tile ({@link #arrivalsLength}, zeros).
 */
public record SparseMlpBuffers(List<Buffer<?>> routerDown, List<Buffer<?>> routerUp, int[] rank, List<Buffer<?>> w2t,
                               int[][] k, boolean softplus, Buffer<?> low, Buffer<FloatArray> scores, Buffer<FloatArray> sums,
                               Buffer<IntArray> active, Buffer<FloatArray> h, Buffer<FloatArray> partial,
                               Buffer<IntArray> arrivals) {
    public SparseMlpBuffers {
        for (int l = 0; l < routerDown.size(); l++) {
            Buffer<?> down = routerDown.get(l), up = routerUp.get(l);
            if (down == null) continue;
            // cuBLAS multiplies two inputs of one type: normed . down^T -> low, low . up^T -> scores.
            if (down.type() != low.type() || up == null || up.type() != low.type()) {
                throw new IllegalArgumentException("MLP router of layer " + l + ": down " + down.type() + ", up " + (up == null ? null : up.type())
                        + " and low " + low.type() + " must share the activations' type");
            }
        }
    }

    /**
     * Neurons layer {@code layer} computes in a decode step of {@code batch} tokens, or -1: dense,
     * also where the table's k is so large for this batch that the dense MLP is faster
     * ({@link SparseMlp#fasterThanDense}).
     */
    public int k(int layer, int batch, int ffn) {
        if (layer < 1 || layer >= k.length || routerDown.get(layer) == null || batch < 1 || batch > k[layer].length) return -1;
        int n = k[layer][batch - 1];
        return n >= 1 && n <= ffn && SparseMlp.fasterThanDense(batch, n, ffn) ? n : -1;
    }

    /** Elements of {@code partial} for FC2 split-K at every batch up to {@link SparseMlp#MAX_BATCH_TILE}; larger batches split less (the builder caps splits to fit). */
    public static long partialLength(int hidden) {
        return (long) SparseMlp.MAX_SPLITS * SparseMlp.MAX_BATCH_TILE * hidden;
    }

    /** Ints of {@code arrivals} for steps of up to {@code maxTokens} tokens: one per FC2 output tile (batch tile x columns). */
    public static long arrivalsLength(int maxTokens, int hidden) {
        long batchTiles = (maxTokens + SparseMlp.MAX_BATCH_TILE - 1) / SparseMlp.MAX_BATCH_TILE;
        return batchTiles * ((hidden + SparseMlp.CHUNK - 1) / SparseMlp.CHUNK);
    }
}
