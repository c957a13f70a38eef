package polar.engine.parallel;

import java.util.ArrayList;
import java.util.List;
import polar.tornado.graph.Arg;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.GemmTask;
import polar.tornado.graph.KernelMethods;
import polar.tornado.graph.KernelRef;
import polar.tornado.graph.KernelTask;
import polar.tornado.graph.Task;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.Activations;
import polar.tornado.kernels.RankKernels;
import polar.tornado.kernels.SparseMlp;
import polar.tornado.layers.KvBuffers;
import polar.tornado.layers.LayerGraphBuilder;
import polar.tornado.layers.ModelBuffers;
import polar.tornado.layers.Precision;
import polar.tornado.layers.StepBuffers;
import polar.tornado.layers.StepShape;
import polar.tornado.layers.TransformerShape;
import polar.tornado.types.FloatArray;

/**
 * The step graphs of one tensor-parallel rank, made from those of an ordinary builder over the
 * rank's (narrower) model. Each layer adds two blocks into the residual stream {@code step.x}
 * with GEMMs that accumulate ({@code beta = 1}): the attention output projection and the MLP's
 * last projection. On a rank, those GEMMs produce partial sums, so:
 * <ul>
 *   <li>rank 0 keeps accumulating into the residual ({@code x + partial}, plus the block's bias,
 *       which only rank 0 holds); every other rank overwrites it ({@code beta = 0}: {@code x = partial});</li>
 *   <li>the graph is cut right after the block (after rank 0's bias add), and the {@link RankBackend}
 *       all-reduces the rows the GEMM wrote, so every rank then holds {@code x + sum of partials}.</li>
 * </ul>
 * Polar Sparsity's MLP ends in a kernel that adds into the residual (FC2, whose last split merges
 * the others) instead: on every rank
 * but 0 the residual rows are cleared right before it, to the same effect. Everything else (norms,
 * attention over the rank's heads, KV writes, embeddings, the LM head) runs on every rank as built.
 * The inner builder may be any {@link LayerGraphBuilder} whose blocks end in such accumulating
 * GEMMs or FC2; one that adds into the residual otherwise is refused.
 */
final class TensorParallelLayerBuilder extends LayerGraphBuilder {
    private static final KernelRef ADD_BIAS = KernelRef.of((KernelMethods.P4<FloatArray, FloatArray, Integer, Integer>) Activations::addBias);
    private static final KernelRef CLEAR = KernelRef.of((KernelMethods.P2<FloatArray, Integer>) RankKernels::clear);
    /** The sparse MLP's FC2 kernels: {@code out += h . W2t + bias} (argument 4 is {@code out}). */
    private static final List<KernelRef> SPARSE_FC2 = List.of(KernelRef.of(SparseMlp.class, "fc2F16"), KernelRef.of(SparseMlp.class, "fc2F32"));
    private static final int FC2_OUT = 4;

    private final LayerGraphBuilder inner;
    private final RankBackend rank;

    TensorParallelLayerBuilder(LayerGraphBuilder inner, RankBackend rank, TransformerShape shape, Precision precision, ModelBuffers weights,
                               KvBuffers kv, StepBuffers step, int partitionSize) {
        super(shape, precision, weights, kv, step, partitionSize);
        this.inner = inner.withResidualBiasInNorm(false); // the all-reduce comes after rank 0's bias add
        this.rank = rank;
    }

    @Override
    public List<TaskGraph> build(StepShape s) {
        List<TaskGraph> graphs = new ArrayList<>();
        int blocks = 0;
        for (TaskGraph g : inner.build(s)) blocks += split(g, s, graphs);
        if (blocks != 2 * shape.layers()) {
            throw new IllegalStateException("tensor parallelism expects each of the " + shape.layers() + " layers to add two blocks into "
                    + step.x() + " with accumulating GEMMs (attention output, MLP down projection) or the sparse MLP's FC2, found " + blocks
                    + " in the graphs of " + s);
        }
        return graphs;
    }

    /** Appends {@code g}'s pieces to {@code out}, each block's piece marked for an all-reduce; returns the number of blocks. */
    private int split(TaskGraph g, StepShape s, List<TaskGraph> out) {
        int blocks = 0;
        boolean first = rank.communicator().rank() == 0;
        TaskGraph piece = new TaskGraph(g.name());
        RankBackend.AllReduce pending = null;
        for (Task task : g.tasks()) {
            if (pending != null && !isBiasOfResidual(task)) {
                rank.allReduceAfter(piece, pending);
                out.add(piece);
                piece = new TaskGraph(g.name() + " after block " + blocks);
                pending = null;
            }
            if (task instanceof GemmTask gemm && gemm.c() == step.x() && gemm.beta() != 0) {
                piece.add(first ? gemm : overwriting(gemm));
                pending = rowsOf(gemm);
                blocks++;
            } else if (task instanceof KernelTask k && addsSparseMlpIntoResidual(k)) {
                // The kernel adds into x: on every rank but 0, x starts from zero (the norm before the MLP has read it,
                // and split FC2 has written only its partials).
                int values = s.tokens() * shape.hidden();
                if (!first) piece.add(new KernelTask(CLEAR, Grid.of(values), List.of(step.x(), Arg.i32(values))));
                piece.add(k);
                pending = new RankBackend.AllReduce(step.x(), 0, values);
                blocks++;
            } else {
                piece.add(task);
            }
        }
        if (pending != null) rank.allReduceAfter(piece, pending);
        if (!piece.tasks().isEmpty()) out.add(piece);
        return blocks;
    }

    /** The sparse MLP's last kernel, which adds into the residual: FC2 (its last split adds the others' partials). */
    private boolean addsSparseMlpIntoResidual(KernelTask k) {
        return SPARSE_FC2.contains(k.kernel()) && k.args().get(FC2_OUT) == step.x();
    }

    /** A bias add into the residual right after a block (rank 0's O-projection or fc2 bias), which belongs to the block. */
    private boolean isBiasOfResidual(Task task) {
        return task instanceof KernelTask k && k.kernel().equals(ADD_BIAS) && k.args().getFirst() == step.x();
    }

    private static GemmTask overwriting(GemmTask t) {
        return new GemmTask(t.a(), t.aOffset(), t.lda(), t.b(), t.bOffset(), t.ldb(), t.c(), t.cOffset(), t.ldc(), t.m(), t.n(), t.k(), t.alpha(), 0f);
    }

    private static RankBackend.AllReduce rowsOf(GemmTask t) {
        Buffer<?> c = t.c();
        if (t.ldc() != t.n()) throw new IllegalStateException("residual GEMM into " + c + " with row stride " + t.ldc() + " != " + t.n() + " columns");
        return new RankBackend.AllReduce(c, t.cOffset(), (long) t.m() * t.n());
    }
}
