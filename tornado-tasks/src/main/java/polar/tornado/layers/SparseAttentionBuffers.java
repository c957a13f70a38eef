package polar.tornado.layers;

import java.util.List;
import polar.tornado.graph.Buffer;
import polar.tornado.kernels.HeadRouter;
import polar.tornado.types.FloatArray;
import polar.tornado.types.IntArray;

/**
 * The device side of Polar Sparsity's attention for {@link LayerGraphBuilder}: per layer the
 * router ({@code weight [units, hidden]}, {@code bias [units]}, float32; null where the layer runs
 * dense) and the units each decode token keeps ({@code k[layer]}), plus the step's scratch:
 * router {@code scores [maxTokens, units]}, {@code selected [maxTokens, maxK]}, and the fused router's
 * {@code partial} scores ({@link HeadRouter#partialLength}) and {@code arrivals [maxTokens]} (zeros).
 * Layer 0 and prefill steps always run dense.
 *
 * <p>With {@code oracle}, no router is read: decode steps run dense attention, then each token keeps
 * the {@code k[layer]} units with the largest output norm ({@code scores} holds the squared norms)
 * and the others' outputs are zeroed, which is what selective attention over those units gives.
 * Every layer >= 1 with {@code k >= 1} takes part; router lists may hold nulls only.
 */
public record SparseAttentionBuffers(int units, List<Buffer<?>> routerWeight, List<Buffer<FloatArray>> routerBias, int[] k,
                                     Buffer<FloatArray> scores, Buffer<IntArray> selected, Buffer<FloatArray> partial, Buffer<IntArray> arrivals,
                                     boolean oracle, TwoLayer twoLayer) {
    public SparseAttentionBuffers {
        if (routerWeight.size() != k.length || routerBias.size() != k.length) throw new IllegalArgumentException("one router and k per layer");
        if (twoLayer != null && twoLayer.weight().size() != k.length) throw new IllegalArgumentException("one first router layer per layer");
        routerWeight = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(routerWeight));
        routerBias = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(routerBias));
        k = k.clone();
    }

    /**
     * First layers of two-layer routers ({@code scores = ReLU(normed W1^T + b1) W^T + b}, the router weight then
     * {@code [units, inner]}): per layer {@code weight [inner, hidden]} and {@code bias [inner]} (null where the
     * layer's router is linear) and {@code inner}; the step's scratch {@code pre [maxTokens, maxInner]} (float32)
     * and {@code act [maxTokens, maxInner]} (the activations' GEMM input type).
     */
    public record TwoLayer(List<Buffer<?>> weight, List<Buffer<FloatArray>> bias, int[] inner, Buffer<FloatArray> pre, Buffer<?> act) {
        public TwoLayer {
            weight = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(weight));
            bias = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(bias));
            inner = inner.clone();
        }
    }

    /** Routed by the trained (linear) routers. */
    public SparseAttentionBuffers(int units, List<Buffer<?>> routerWeight, List<Buffer<FloatArray>> routerBias, int[] k,
                                  Buffer<FloatArray> scores, Buffer<IntArray> selected, Buffer<FloatArray> partial, Buffer<IntArray> arrivals) {
        this(units, routerWeight, routerBias, k, scores, selected, partial, arrivals, false, null);
    }

    /** Whether decode steps of {@code layer} select units: not layer 0, {@code k >= 1}, and a router present (or the oracle). */
    public boolean sparse(int layer) {
        return layer >= 1 && layer < k.length && (oracle || routerWeight.get(layer) != null) && k[layer] >= 1;
    }

    /** Whether {@code layer}'s router has two layers. */
    public boolean twoLayer(int layer) {
        return twoLayer != null && twoLayer.weight().get(layer) != null;
    }
}
