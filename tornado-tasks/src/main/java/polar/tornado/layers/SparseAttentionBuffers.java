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
 */
public record SparseAttentionBuffers(int units, List<Buffer<?>> routerWeight, List<Buffer<FloatArray>> routerBias, int[] k,
                                     Buffer<FloatArray> scores, Buffer<IntArray> selected) {
    public SparseAttentionBuffers {
        if (routerWeight.size() != k.length || routerBias.size() != k.length) throw new IllegalArgumentException("one router and k per layer");
        routerWeight = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(routerWeight));
        routerBias = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(routerBias));
        k = k.clone();
    }

    /** Whether decode steps of {@code layer} route: a router is present and the layer is not layer 0. */
    public boolean sparse(int layer) {
        return layer >= 1 && layer < k.length && routerWeight.get(layer) != null && k[layer] >= 1;
    }
}
