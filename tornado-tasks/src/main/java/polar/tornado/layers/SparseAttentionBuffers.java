package polar.tornado.layers;

import java.util.List;
import polar.tornado.graph.Buffer;
import polar.tornado.types.FloatArray;
import polar.tornado.types.IntArray;

/**
 * The device side of Polar Sparsity's attention for {@link LayerGraphBuilder}: per layer the
 * router ({@code weight [units, hidden]}, {@code bias [units]}, float32; null where the layer runs
 * dense) and the units each decode token keeps ({@code k[layer]}), plus the step's scratch:
 * router {@code scores [maxTokens, units]} and {@code selected [maxTokens, maxK]}.
 * Layer 0 and prefill steps always run dense.
 *
 * <p>With {@code oracle}, no router is read: decode steps run dense attention, then each token keeps
 * the {@code k[layer]} units with the largest output norm ({@code scores} holds the squared norms)
 * and the others' outputs are zeroed, which is what selective attention over those units gives.
 * Every layer >= 1 with {@code k >= 1} takes part; router lists may hold nulls only.
 */
public record SparseAttentionBuffers(int units, List<Buffer<?>> routerWeight, List<Buffer<FloatArray>> routerBias, int[] k,
                                     Buffer<FloatArray> scores, Buffer<IntArray> selected, boolean oracle) {
    public SparseAttentionBuffers {
        if (routerWeight.size() != k.length || routerBias.size() != k.length) throw new IllegalArgumentException("one router and k per layer");
        routerWeight = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(routerWeight));
        routerBias = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(routerBias));
        k = k.clone();
    }

    /** Routed by the trained routers. */
    public SparseAttentionBuffers(int units, List<Buffer<?>> routerWeight, List<Buffer<FloatArray>> routerBias, int[] k,
                                  Buffer<FloatArray> scores, Buffer<IntArray> selected) {
        this(units, routerWeight, routerBias, k, scores, selected, false);
    }

    /** Whether decode steps of {@code layer} select units: not layer 0, {@code k >= 1}, and a router present (or the oracle). */
    public boolean sparse(int layer) {
        return layer >= 1 && layer < k.length && (oracle || routerWeight.get(layer) != null) && k[layer] >= 1;
    }
}
