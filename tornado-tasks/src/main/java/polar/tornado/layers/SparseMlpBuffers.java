package polar.tornado.layers;

import java.util.List;
import polar.tornado.graph.Buffer;
import polar.tornado.types.FloatArray;
import polar.tornado.types.IntArray;

/**
 * The device side of Polar Sparsity's MLP (ReLU models) for {@link LayerGraphBuilder}: per layer
 * the router ({@code down [rank, hidden]}, {@code up [ffn, rank]}, float32; null where the layer
 * runs dense) and {@code w2t [ffn, hidden]} (the MLP's down weight transposed), and
 * {@code k[layer][batch - 1]}, the neurons a decode step of {@code batch} sequences computes
 * (0: dense). {@code softplus}: aggregate the batch's router logits by softplus sum
 * (else ReLU sum). Scratch: {@code low [maxTokens, maxRank]}, {@code scores [maxTokens, ffn]},
 * {@code sums [ffn]}, {@code active [ffn]}, {@code h [maxTokens, ffn]}, {@code partial [1]}.
 */
public record SparseMlpBuffers(List<Buffer<?>> routerDown, List<Buffer<FloatArray>> routerUp, int[] rank, List<Buffer<?>> w2t,
                               int[][] k, boolean softplus, Buffer<FloatArray> low, Buffer<FloatArray> scores, Buffer<FloatArray> sums,
                               Buffer<IntArray> active, Buffer<FloatArray> h, Buffer<FloatArray> partial) {

    /** Neurons layer {@code layer} computes in a decode step of {@code batch} tokens, or -1: dense. */
    public int k(int layer, int batch, int ffn) {
        if (layer < 1 || layer >= k.length || routerDown.get(layer) == null || batch < 1 || batch > k[layer].length) return -1;
        int n = k[layer][batch - 1];
        return n >= 1 && n <= ffn ? n : -1;
    }
}
