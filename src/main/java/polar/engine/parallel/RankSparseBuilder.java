package polar.engine.parallel;

import static polar.tornado.graph.Arg.i32;

import polar.tornado.graph.Grid;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.RankKernels;
import polar.tornado.layers.KvBuffers;
import polar.tornado.layers.LayerGraphBuilder;
import polar.tornado.layers.ModelBuffers;
import polar.tornado.layers.Precision;
import polar.tornado.layers.SparseAttentionBuffers;
import polar.tornado.layers.StepBuffers;
import polar.tornado.layers.StepShape;
import polar.tornado.layers.TransformerShape;
import polar.tornado.types.ElementType;

/**
 * The layer graphs of a tensor-parallel rank with Polar Sparsity ({@link RankSparsity}): each
 * decode token's attention units are chosen over the whole model, as on one device, and the rank
 * attends over those of them that are its own; the MLP is the one-device sparse MLP over the
 * rank's neurons. {@link TensorParallelLayerBuilder} then cuts the graphs for the all-reduces.
 */
final class RankSparseBuilder extends LayerGraphBuilder {
    private final RankSparsity sparsity;

    RankSparseBuilder(TransformerShape shape, Precision precision, ModelBuffers weights, KvBuffers kv, StepBuffers step, int partitionSize,
                      RankSparsity sparsity) {
        super(shape, precision, weights, kv, step, partitionSize);
        this.sparsity = sparsity;
        withSparseAttention(sparsity.attention);
        withSparseMlp(sparsity.mlp);
    }

    /** The router and top-k over every unit of the model, then the rank's share of the selection. */
    @Override
    protected void route(TaskGraph g, int l, int t) {
        SparseAttentionBuffers local = sparseAttention, all = sparsity.routing;
        sparseAttention = all; // the parent's routing, over the whole model's router
        try {
            super.route(g, l, t);
        } finally {
            sparseAttention = local;
        }
        g.parallel(RankKernels::localize, Grid.of(t), all.selected(), local.selected(), i32(t), i32(all.k()[l]), i32(local.k()[l]),
                i32(sparsity.firstUnit), i32(local.units()));
    }

    /** Selective attention over the rank's share; a token that chose none of the rank's units gets zeros. */
    @Override
    protected void selectiveAttention(TaskGraph g, int l, StepShape s) {
        super.selectiveAttention(g, l, s);
        SparseAttentionBuffers all = sparsity.routing;
        int t = s.tokens(), width = shape.group() * shape.headDim(), units = sparseAttention.units();
        Grid grid = Grid.rows(t, width);
        if (step.attn().type() == ElementType.F16) {
            g.parallel(RankKernels::zeroUnroutedHalf, grid, all.selected(), as(step.attn(), ElementType.F16), i32(t), i32(all.k()[l]),
                    i32(sparsity.firstUnit), i32(units), i32(width));
        } else {
            g.parallel(RankKernels::zeroUnrouted, grid, all.selected(), as(step.attn(), ElementType.F32), i32(t), i32(all.k()[l]),
                    i32(sparsity.firstUnit), i32(units), i32(width));
        }
    }
}
