package polar.tornado.layers;

import static polar.tornado.graph.Arg.constant;
import static polar.tornado.graph.Arg.f32;
import static polar.tornado.graph.Arg.i32;

import java.util.ArrayList;
import java.util.List;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.Activations;
import polar.tornado.kernels.Attention;
import polar.tornado.kernels.Embeddings;
import polar.tornado.kernels.HeadRouter;
import polar.tornado.kernels.Norms;
import polar.tornado.kernels.MlpRouterScores;
import polar.tornado.kernels.OracleHeads;
import polar.tornado.kernels.Rope;
import polar.tornado.kernels.SparseMlp;
import polar.tornado.kernels.SelectiveAttention;
import polar.tornado.kernels.TopK;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/**
 * Builds the task graphs of one step: {@code embedding}, one graph per layer, and {@code head}
 * (final norm and LM head over each sequence's last token). Built once per {@link StepShape}
 * and replayed: everything that changes per step is read from {@link StepBuffers}' inputs.
 *
 * <p>A layer: norm -> fused QKV GEMM (+bias) -> RoPE and KV write (one kernel) -> paged attention (split-K merged in the same launch)
 * -> output GEMM accumulated into the residual -> norm -> MLP, whose last GEMM also accumulates
 * into the residual. The two seams for Polar Sparsity are {@link #attention} (selective heads)
 * and {@link #mlp} (gathered neurons).
 */
public class LayerGraphBuilder {
    protected final TransformerShape shape;
    protected final Precision precision;
    protected final ModelBuffers weights;
    protected final KvBuffers kv;
    protected final StepBuffers step;
    /** Positions per split-K partition (best a multiple of {@link Attention#TILE}). */
    protected final int partitionSize;
    /** Polar Sparsity's attention part, or null: dense. */
    protected SparseAttentionBuffers sparseAttention;
    /** Polar Sparsity's MLP part (ReLU models), or null: dense. */
    protected SparseMlpBuffers sparseMlp;
    /**
     * SMs that FC2's split-K is sized for: the H100's 132. A device with fewer SMs just runs a few
     * more work-groups per SM; the builder does not depend on the backend.
     */
    static final int FC2_MULTIPROCESSORS = 132;
    /** Whether a block's output bias is added by the LayerNorm that reads the residual next (one launch less); see {@link #withResidualBiasInNorm}. */
    protected boolean residualBiasInNorm = true;

    public LayerGraphBuilder(TransformerShape shape, Precision precision, ModelBuffers weights, KvBuffers kv, StepBuffers step,
                             int partitionSize) {
        if (shape.group() > Attention.MAX_GROUP || shape.headDim() > Attention.MAX_HEAD_DIM
                || shape.group() * shape.headDim() > Attention.MAX_GROUP_WIDTH || shape.headDim() % Attention.HEAD_DIM_MULTIPLE != 0) {
            throw new IllegalArgumentException("attention supports up to " + Attention.MAX_GROUP + " query heads per KV head, head size "
                    + Attention.MAX_HEAD_DIM + " (a multiple of " + Attention.HEAD_DIM_MULTIPLE + ") and " + Attention.MAX_GROUP_WIDTH
                    + " query values per KV head; model has " + shape.group() + " x " + shape.headDim());
        }
        if (partitionSize < 1) throw new IllegalArgumentException("partition size " + partitionSize);
        if (weights.layers().size() != shape.layers() || kv.keys().size() != shape.layers()) {
            throw new IllegalArgumentException("shape has " + shape.layers() + " layers, weights " + weights.layers().size() + ", cache " + kv.keys().size());
        }
        this.shape = shape;
        this.precision = precision;
        this.weights = weights;
        this.kv = kv;
        this.step = step;
        this.partitionSize = partitionSize;
    }

    /**
     * Whether the biases of the attention output and the dense MLP output (OPT) are added into the
     * residual by the LayerNorm that reads it next ({@code Norms.addLayernorm*}, the default) or each
     * by its own {@code Activations.addBias} launch right after its GEMM: a tensor-parallel rank needs
     * the latter, as it all-reduces the residual after the bias that only rank 0 holds.
     */
    public LayerGraphBuilder withResidualBiasInNorm(boolean inNorm) {
        this.residualBiasInNorm = inNorm;
        return this;
    }

    /**
     * Adds Polar Sparsity's attention to decode steps (layers >= 1 with a router): the router GEMM
     * (+bias) over the same normed input as QKV, {@code TopK.small} into {@code selected}, and
     * {@code SelectiveAttention} in place of dense attention. Set before the first {@link #build}.
     */
    public LayerGraphBuilder withSparseAttention(SparseAttentionBuffers sparse) {
        if (sparse != null) {
            if (sparse.units() != shape.kvHeads()) throw new IllegalArgumentException("router of " + sparse.units() + " units, model has " + shape.kvHeads() + " KV heads");
            if (sparse.units() > TopK.SMALL_MAX) throw new IllegalArgumentException(sparse.units() + " units exceed TopK.small's " + TopK.SMALL_MAX);
            for (int l = 0; l < shape.layers(); l++) {
                if (sparse.sparse(l) && sparse.k()[l] > sparse.units()) throw new IllegalArgumentException("layer " + l + " keeps " + sparse.k()[l] + " of " + sparse.units() + " units");
            }
        }
        this.sparseAttention = sparse;
        return this;
    }

    /**
     * Adds Polar Sparsity's MLP to decode steps (ReLU models, layers >= 1 with a router and a k for
     * the step's batch that {@link SparseMlpBuffers#k} keeps sparse): router GEMMs (at batch <= 8 the
     * second one fused with the batch aggregation), {@code TopK.large}, {@code SparseMlp} FC1 and
     * split-K FC2 + combine. Set before the first {@link #build}.
     */
    public LayerGraphBuilder withSparseMlp(SparseMlpBuffers sparse) {
        if (sparse != null && shape.mlp() != TransformerShape.Mlp.RELU) throw new IllegalArgumentException("the sparse MLP needs a ReLU model");
        if (sparse != null && shape.hidden() % SparseMlp.HIDDEN_MULTIPLE != 0) throw new IllegalArgumentException("hidden " + shape.hidden() + " is not a multiple of " + SparseMlp.HIDDEN_MULTIPLE);
        this.sparseMlp = sparse;
        return this;
    }

    /** Whether layer {@code l} of a step of shape {@code s} uses selective attention. */
    protected boolean selective(int l, StepShape s) {
        return sparseAttention != null && s.kind() == StepShape.Kind.DECODE && sparseAttention.sparse(l);
    }

    /** Every graph of a step, in order. */
    public List<TaskGraph> build(StepShape s) {
        if (s.tokens() > step.maxTokens() || s.sequences() > step.maxSequences() || s.partitions() > step.maxPartitions()) {
            throw new IllegalArgumentException(s + " exceeds the step buffers (" + step.maxTokens() + " tokens, "
                    + step.maxSequences() + " sequences, " + step.maxPartitions() + " partitions)");
        }
        List<TaskGraph> graphs = new ArrayList<>();
        graphs.add(embedding(s));
        for (int l = 0; l < shape.layers(); l++) graphs.add(layer(l, s));
        graphs.add(head(s));
        return graphs;
    }

    /** Token embeddings (and learned positions) into the residual stream. */
    public TaskGraph embedding(StepShape s) {
        TaskGraph g = new TaskGraph("embedding-" + s);
        int t = s.tokens();
        Grid grid = Grid.rows(t, shape.hidden());
        Buffer<?> table = weights.tokenEmbedding();
        if (table.type() == ElementType.F16) {
            g.parallel(Embeddings::gatherHalf, grid, step.tokenIds(), as(table, ElementType.F16), step.x(), i32(t), i32(shape.hidden()));
        } else {
            g.parallel(Embeddings::gather, grid, step.tokenIds(), as(table, ElementType.F32), step.x(), i32(t), i32(shape.hidden()));
        }
        if (shape.positions() == TransformerShape.Positions.LEARNED) {
            g.parallel(Embeddings::addPositions, grid, step.positions(), weights.positionEmbedding(), step.x(),
                    i32(t), i32(shape.hidden()), i32(shape.positionOffset()));
        }
        return g;
    }

    /** Layer {@code l}: attention block then MLP block, each adding into the residual stream. */
    public TaskGraph layer(int l, StepShape s) {
        TaskGraph g = new TaskGraph("layer" + l + "-" + s);
        LayerBuffers w = weights.layers().get(l);
        int t = s.tokens();
        int hidden = shape.hidden();
        if (l > 0 && carriesDownBias(l - 1, s)) {
            addLayernorm(g, step.x(), weights.layers().get(l - 1).downBias(), w.attnNorm(), w.attnNormBias(), step.normed(), t);
        } else {
            norm(g, step.x(), w.attnNorm(), w.attnNormBias(), step.normed(), t);
        }
        g.gemm(step.normed(), 0, w.qkv(), 0, step.qkv(), 0, t, shape.qkvDim(), hidden, 1f, 0f);
        boolean rotary = shape.positions() == TransformerShape.Positions.ROTARY;
        if (rotary) addBias(g, step.qkv(), w.qkvBias(), t, shape.qkvDim()); // else writeKv adds it
        if (selective(l, s) && !sparseAttention.oracle()) route(g, l, t);
        if (rotary) ropeAndWriteKv(g, l, t);
        else writeKv(g, l, t);
        attention(g, l, s);
        // The residual add is the GEMM's beta = 1.
        g.gemm(step.attn(), 0, w.out(), 0, step.x(), 0, t, hidden, shape.qDim(), 1f, 1f);
        if (residualBiasInNorm && w.outBias() != null && shape.norm() == TransformerShape.Norm.LAYER) {
            addLayernorm(g, step.x(), w.outBias(), w.mlpNorm(), w.mlpNormBias(), step.normed(), t);
        } else {
            addBias(g, step.x(), w.outBias(), t, hidden);
            norm(g, step.x(), w.mlpNorm(), w.mlpNormBias(), step.normed(), t);
        }
        mlp(g, l, s);
        return g;
    }

    /** Final norm and LM head over the last token of each sequence: {@code logits[sequences, vocab]}. */
    public TaskGraph head(StepShape s) {
        TaskGraph g = new TaskGraph("head-" + s);
        int n = s.sequences();
        g.parallel(Embeddings::gather, Grid.rows(n, shape.hidden()), step.lastRows(), step.x(), step.last(), i32(n), i32(shape.hidden()));
        int lastLayer = shape.layers() - 1;
        if (carriesDownBias(lastLayer, s)) {
            addLayernorm(g, step.last(), weights.layers().get(lastLayer).downBias(), weights.finalNorm(), weights.finalNormBias(), step.lastNormed(), n);
        } else {
            norm(g, step.last(), weights.finalNorm(), weights.finalNormBias(), step.lastNormed(), n);
        }
        g.gemm(step.lastNormed(), 0, weights.lmHead(), 0, step.logits(), 0, n, shape.vocab(), shape.hidden(), 1f, 0f);
        return g;
    }

    /**
     * Attention router of layer {@code l}: {@code scores = normed . W^T + b} (two-layer routers:
     * {@code ReLU(normed . W1^T + b1) . W^T + b}), then each token's top-k units into {@code selected}.
     * The last router layer, its bias and the top-k are one {@link HeadRouter} launch.
     */
    protected void route(TaskGraph g, int l, int t) {
        SparseAttentionBuffers sp = sparseAttention;
        int units = sp.units();
        int k = sp.k()[l];
        Buffer<?> in = step.normed();
        int dim = shape.hidden();
        if (sp.twoLayer(l)) {
            SparseAttentionBuffers.TwoLayer two = sp.twoLayer();
            int inner = two.inner()[l];
            g.gemm(step.normed(), 0, two.weight().get(l), 0, two.pre(), 0, t, inner, shape.hidden(), 1f, 0f);
            if (two.act().type() == ElementType.F16) {
                g.parallel(Activations::biasReluHalf, Grid.rows(t, inner), two.pre(), two.bias().get(l), as(two.act(), ElementType.F16), i32(t), i32(inner));
            } else {
                g.parallel(Activations::biasRelu, Grid.rows(t, inner), two.pre(), two.bias().get(l), as(two.act(), ElementType.F32), i32(t), i32(inner));
            }
            in = two.act();
            dim = inner;
        }
        Buffer<?> w = sp.routerWeight().get(l);
        if (HeadRouter.supports(units, dim) && w.type() == in.type()) {
            Grid grid = Grid.groups(t, HeadRouter.slices(dim), HeadRouter.blocks(units), HeadRouter.THREADS);
            if (in.type() == ElementType.F16) {
                g.kernel(HeadRouter::scoreTopKHalf, grid, as(in, ElementType.F16), as(w, ElementType.F16), sp.routerBias().get(l), sp.scores(), sp.selected(),
                        sp.partial(), sp.arrivals(), i32(dim), i32(units), i32(k));
                return;
            }
            if (in.type() == ElementType.F32) {
                g.kernel(HeadRouter::scoreTopK, grid, as(in, ElementType.F32), as(w, ElementType.F32), sp.routerBias().get(l), sp.scores(), sp.selected(),
                        sp.partial(), sp.arrivals(), i32(dim), i32(units), i32(k));
                return;
            }
        }
        g.gemm(in, 0, w, 0, sp.scores(), 0, t, units, dim, 1f, 0f);
        addBias(g, sp.scores(), sp.routerBias().get(l), t, units);
        g.kernel(TopK::small, Grid.groups(t, TopK.smallThreads(units)), sp.scores(), sp.selected(), i32(units), i32(k));
    }

    /** Selective paged attention of the units in {@code selected} (zeros elsewhere), into {@code step.attn}. */
    protected void selectiveAttention(TaskGraph g, int l, StepShape s) {
        int t = s.tokens();
        int k = sparseAttention.k()[l];
        Split split = Split.of(k, t, s.partitions(), partitionSize);
        int p = split.partitions();
        Grid grid = Grid.groups(k, t, p, Attention.THREADS);
        float scale = (float) (1.0 / Math.sqrt(shape.headDim()));
        Buffer<?> kc = kv.keys().get(l), v = kv.values().get(l);
        boolean half = halfAttention();
        if (half) {
            g.kernel(SelectiveAttention::pagedHalf, grid, step.qkv(), as(kc, ElementType.F16), as(v, ElementType.F16), kv.blockTable(), step.tokenSeq(),
                    step.positions(), sparseAttention.selected(), as(step.attn(), ElementType.F16), step.partOut(), step.partStats(), step.arrivals(),
                    i32(shape.qkvDim()), i32(kv.maxBlocks()), i32(split.size()), i32(p), f32(scale), i32(k),
                    constant(shape.headDim()), constant(shape.group()), constant(shape.kvHeads()), constant(kv.blockSize()));
        } else {
            g.kernel(SelectiveAttention::paged, grid, step.qkv(), as(kc, ElementType.F32), as(v, ElementType.F32), kv.blockTable(), step.tokenSeq(),
                    step.positions(), sparseAttention.selected(), as(step.attn(), ElementType.F32), step.partOut(), step.partStats(), step.arrivals(),
                    i32(shape.qkvDim()), i32(kv.maxBlocks()), i32(split.size()), i32(p), f32(scale), i32(k),
                    constant(shape.headDim()), constant(shape.group()), constant(shape.kvHeads()), constant(kv.blockSize()));
        }
    }

    /**
     * The oracle in place of the router: dense attention, each token's top-k units by output norm
     * ({@code TopK.small} over the squared norms), the other units' outputs zeroed.
     */
    protected void oracleAttention(TaskGraph g, int l, StepShape s) {
        denseAttention(g, l, s);
        SparseAttentionBuffers sp = sparseAttention;
        int t = s.tokens(), units = sp.units(), k = sp.k()[l];
        int span = shape.group() * shape.headDim();
        if (halfAttention()) {
            g.parallel(OracleHeads::unitSquaresHalf, Grid.of(t, units), as(step.attn(), ElementType.F16), sp.scores(), i32(t), i32(units), i32(span));
        } else {
            g.parallel(OracleHeads::unitSquares, Grid.of(t, units), as(step.attn(), ElementType.F32), sp.scores(), i32(t), i32(units), i32(span));
        }
        g.kernel(TopK::small, Grid.groups(t, TopK.smallThreads(units)), sp.scores(), sp.selected(), i32(units), i32(k));
        if (halfAttention()) {
            g.parallel(OracleHeads::keepSelectedHalf, Grid.rows(t, shape.qDim()), as(step.attn(), ElementType.F16), sp.selected(), i32(t), i32(shape.qDim()), i32(span), i32(k));
        } else {
            g.parallel(OracleHeads::keepSelected, Grid.rows(t, shape.qDim()), as(step.attn(), ElementType.F32), sp.selected(), i32(t), i32(shape.qDim()), i32(span), i32(k));
        }
    }

    /** Seam for selective attention: dense paged attention of every query head, into {@code step.attn}. */
    protected void attention(TaskGraph g, int l, StepShape s) {
        if (selective(l, s)) {
            if (sparseAttention.oracle()) oracleAttention(g, l, s);
            else selectiveAttention(g, l, s);
            return;
        }
        denseAttention(g, l, s);
    }

    /** Dense paged attention of every query head, into {@code step.attn}. */
    private void denseAttention(TaskGraph g, int l, StepShape s) {
        int t = s.tokens();
        Split split = Split.of(shape.kvHeads(), t, s.partitions(), partitionSize);
        int p = split.partitions();
        Grid grid = Grid.groups(shape.kvHeads(), t, p, Attention.THREADS);
        float scale = (float) (1.0 / Math.sqrt(shape.headDim()));
        Buffer<?> k = kv.keys().get(l), v = kv.values().get(l);
        boolean half = halfAttention();
        if (half) {
            g.kernel(Attention::pagedHalf, grid, step.qkv(), as(k, ElementType.F16), as(v, ElementType.F16), kv.blockTable(), step.tokenSeq(),
                    step.positions(), as(step.attn(), ElementType.F16), step.partOut(), step.partStats(), step.arrivals(),
                    i32(shape.qkvDim()), i32(kv.maxBlocks()), i32(split.size()), i32(p), f32(scale),
                    constant(shape.headDim()), constant(shape.group()), constant(shape.kvHeads()), constant(kv.blockSize()));
        } else {
            g.kernel(Attention::paged, grid, step.qkv(), as(k, ElementType.F32), as(v, ElementType.F32), kv.blockTable(), step.tokenSeq(),
                    step.positions(), as(step.attn(), ElementType.F32), step.partOut(), step.partStats(), step.arrivals(),
                    i32(shape.qkvDim()), i32(kv.maxBlocks()), i32(split.size()), i32(p), f32(scale),
                    constant(shape.headDim()), constant(shape.group()), constant(shape.kvHeads()), constant(kv.blockSize()));
        }
    }

    /**
     * Split-K partitions of one attention launch. The step shape asks for {@code partitions} of
     * {@code size} positions (enough for its longest sequence); where that makes many more
     * work-groups than the device runs at once, neighbouring partitions merge (up to
     * {@link #MAX_MERGED_PARTITION} positions each) while at least {@link #TARGET_GROUPS} work-groups
     * remain: fewer partials to write and combine, fewer work-group tails. The merged split covers
     * the same positions.
     */
    public record Split(int partitions, int size) {
        /** Work-groups (units x tokens x partitions) that keep an H100's 132 SMs busy through a launch's tail. */
        public static final int TARGET_GROUPS = 1024;
        public static final int MAX_MERGED_PARTITION = 1024;

        public static Split of(int units, int tokens, int partitions, int size) {
            int p = partitions, merged = size;
            while (p > 1 && merged * 2 <= MAX_MERGED_PARTITION && (long) units * tokens * ((p + 1) / 2) >= TARGET_GROUPS) {
                p = (p + 1) / 2;
                merged *= 2;
            }
            return new Split(p, merged);
        }
    }

    /** The attention kernels come in two variants: float32 cache and output, or float16 cache and output. */
    private boolean halfAttention() {
        if (precision.kvCache() != precision.activations()) {
            throw new UnsupportedOperationException("attention needs the KV cache and activations in one type (" + precision + ")");
        }
        return precision.kvCache() == ElementType.F16;
    }

    /** Seam for the gathered (sparse) MLP: the dense MLP, its last GEMM accumulating into the residual. */
    protected void mlp(TaskGraph g, int l, StepShape s) {
        LayerBuffers w = weights.layers().get(l);
        int t = s.tokens();
        int kk = sparseMlpK(l, s);
        if (kk > 0) {
            sparseMlp(g, l, t, kk);
            return;
        }
        int ffn = shape.ffn();
        g.gemm(step.normed(), 0, w.up(), 0, step.mlpIn(), 0, t, shape.mlpInDim(), shape.hidden(), 1f, 0f);
        Grid grid = Grid.rows(t, ffn);
        boolean half = precision.activations() == ElementType.F16;
        switch (shape.mlp()) {
            case SWIGLU -> {
                if (half) g.parallel(Activations::swigluHalf, grid, step.mlpIn(), as(step.mlpAct(), ElementType.F16), i32(t), i32(ffn));
                else g.parallel(Activations::swiglu, grid, step.mlpIn(), as(step.mlpAct(), ElementType.F32), i32(t), i32(ffn));
            }
            case RELU -> {
                if (half) g.parallel(Activations::biasReluHalf, grid, step.mlpIn(), w.upBias(), as(step.mlpAct(), ElementType.F16), i32(t), i32(ffn));
                else g.parallel(Activations::biasRelu, grid, step.mlpIn(), w.upBias(), as(step.mlpAct(), ElementType.F32), i32(t), i32(ffn));
            }
        }
        g.gemm(step.mlpAct(), 0, w.down(), 0, step.x(), 0, t, shape.hidden(), ffn, 1f, 1f);
        if (!carriesDownBias(l, s)) addBias(g, step.x(), w.downBias(), t, shape.hidden());
    }

    /** Neurons the sparse MLP of layer {@code l} keeps in a step of shape {@code s}, or {@code <= 0}: the dense MLP. */
    protected int sparseMlpK(int l, StepShape s) {
        return sparseMlp != null && s.kind() == StepShape.Kind.DECODE ? sparseMlp.k(l, s.tokens(), shape.ffn()) : -1;
    }

    /**
     * Whether the bias of layer {@code l}'s dense MLP output is left to the LayerNorm that reads the
     * residual next (layer {@code l + 1}'s, or the final norm of the head, which adds it into the
     * gathered last rows): one launch less a layer. The sparse MLP adds its bias in FC2.
     */
    protected boolean carriesDownBias(int l, StepShape s) {
        return residualBiasInNorm && shape.norm() == TransformerShape.Norm.LAYER && weights.layers().get(l).downBias() != null && sparseMlpK(l, s) <= 0;
    }

    /** The sparse MLP of layer {@code l} over {@code k} neurons chosen for the whole batch of {@code t} tokens; FC2 adds into the residual with its bias. */
    protected void sparseMlp(TaskGraph g, int l, int t, int k) {
        SparseMlpBuffers sp = sparseMlp;
        LayerBuffers w = weights.layers().get(l);
        int ffn = shape.ffn(), hidden = shape.hidden(), r = sp.rank()[l];
        g.gemm(step.normed(), 0, sp.routerDown().get(l), 0, sp.low(), 0, t, r, hidden, 1f, 0f);
        Buffer<?> up = sp.routerUp().get(l);
        if (t <= SparseMlp.MAX_BATCH_TILE && r % SparseMlp.HIDDEN_MULTIPLE == 0) {
            // small batch: the second router matrix as a GEMV at the bytes bound, aggregated over the batch in the same pass
            Grid grid = Grid.groups((ffn + SparseMlp.NEURONS - 1) / SparseMlp.NEURONS, SparseMlp.FC1_THREADS);
            int rule = sp.softplus() ? 1 : 0;
            if (up.type() == ElementType.F16) g.kernel(MlpRouterScores::upSumF16, grid, as(sp.low(), ElementType.F16), as(up, ElementType.F16), sp.sums(), i32(r), i32(ffn), constant(t), constant(rule));
            else g.kernel(MlpRouterScores::upSumF32, grid, as(sp.low(), ElementType.F32), as(up, ElementType.F32), sp.sums(), i32(r), i32(ffn), constant(t), constant(rule));
        } else {
            g.gemm(sp.low(), 0, up, 0, sp.scores(), 0, t, ffn, r, 1f, 0f);
            if (sp.softplus()) g.parallel(MlpRouterScores::batchSoftplusSum, Grid.of(ffn), sp.scores(), sp.sums(), i32(t), i32(ffn));
            else g.parallel(SparseMlp::batchReluSum, Grid.of(ffn), sp.scores(), sp.sums(), i32(t), i32(ffn));
        }
        g.kernel(TopK::large, Grid.groups(1, TopK.LARGE_THREADS), sp.sums(), sp.active(), constant(ffn), i32(k)); // n constant: keys in registers
        int tile = Math.min(SparseMlp.MAX_BATCH_TILE, t);
        int batchTiles = (t + tile - 1) / tile;
        Grid fc1 = Grid.groups(batchTiles, (k + SparseMlp.NEURONS - 1) / SparseMlp.NEURONS, SparseMlp.FC1_THREADS);
        boolean halfX = step.normed().type() == ElementType.F16, halfW = w.up().type() == ElementType.F16;
        Buffer<?> x = step.normed(), w1 = w.up();
        if (halfX && halfW) g.kernel(SparseMlp::fc1F16F16, fc1, as(x, ElementType.F16), as(w1, ElementType.F16), w.upBias(), sp.active(), sp.h(), i32(t), i32(hidden), i32(k), constant(tile));
        else if (halfX) g.kernel(SparseMlp::fc1F16F32, fc1, as(x, ElementType.F16), as(w1, ElementType.F32), w.upBias(), sp.active(), sp.h(), i32(t), i32(hidden), i32(k), constant(tile));
        else if (halfW) g.kernel(SparseMlp::fc1F32F16, fc1, as(x, ElementType.F32), as(w1, ElementType.F16), w.upBias(), sp.active(), sp.h(), i32(t), i32(hidden), i32(k), constant(tile));
        else g.kernel(SparseMlp::fc1F32F32, fc1, as(x, ElementType.F32), as(w1, ElementType.F32), w.upBias(), sp.active(), sp.h(), i32(t), i32(hidden), i32(k), constant(tile));
        // FC2 split-K over the neurons (as many splits as fill the GPU and fit the partials), merged by each tile's last split.
        int splits = Math.max(1, Math.min(SparseMlp.fc2Splits(t, tile, hidden, k, FC2_MULTIPROCESSORS), (int) (sp.partial().length() / ((long) t * hidden))));
        Grid fc2 = Grid.groups(batchTiles, (hidden + SparseMlp.CHUNK - 1) / SparseMlp.CHUNK, splits, SparseMlp.THREADS);
        Buffer<?> w2t = sp.w2t().get(l);
        if (w2t.type() == ElementType.F16) g.kernel(SparseMlp::fc2F16, fc2, sp.h(), as(w2t, ElementType.F16), w.downBias(), sp.active(), step.x(), sp.partial(), sp.arrivals(), i32(t), i32(hidden), i32(k), i32(splits), constant(tile));
        else g.kernel(SparseMlp::fc2F32, fc2, sp.h(), as(w2t, ElementType.F32), w.downBias(), sp.active(), step.x(), sp.partial(), sp.arrivals(), i32(t), i32(hidden), i32(k), i32(splits), constant(tile));
    }

    /** RoPE on the step's queries and keys of layer {@code l}, fused with writing the new K and V into the paged cache. */
    protected void ropeAndWriteKv(TaskGraph g, int l, int t) {
        Grid grid = Grid.rows(t, Rope.rotateWriteKvItems(shape.heads(), shape.kvHeads(), shape.headDim(), shape.ropeDims()));
        Buffer<?> k = kv.keys().get(l), v = kv.values().get(l);
        if (halfAttention()) {
            g.parallel(Rope::rotateWriteKvHalf, grid, step.qkv(), step.positions(), weights.inverseFrequencies(), as(k, ElementType.F16), as(v, ElementType.F16),
                    kv.blockTable(), step.tokenSeq(), i32(t), i32(shape.heads()), i32(shape.kvHeads()), i32(kv.maxBlocks()),
                    constant(shape.headDim()), constant(shape.ropeDims()), constant(kv.blockSize()));
        } else {
            g.parallel(Rope::rotateWriteKv, grid, step.qkv(), step.positions(), weights.inverseFrequencies(), as(k, ElementType.F32), as(v, ElementType.F32),
                    kv.blockTable(), step.tokenSeq(), i32(t), i32(shape.heads()), i32(shape.kvHeads()), i32(kv.maxBlocks()),
                    constant(shape.headDim()), constant(shape.ropeDims()), constant(kv.blockSize()));
        }
    }

    /** Writes the step's new K and V of layer {@code l} into the paged cache, adding the QKV bias (if any) to the whole row on the way. */
    protected void writeKv(TaskGraph g, int l, int t) {
        Buffer<FloatArray> bias = weights.layers().get(l).qkvBias();
        Buffer<?> k = kv.keys().get(l), v = kv.values().get(l);
        boolean half = halfAttention();
        if (bias != null) {
            Grid grid = Grid.rows(t, shape.qkvDim());
            if (half) {
                g.parallel(Attention::biasWriteKvHalf, grid, step.qkv(), bias, as(k, ElementType.F16), as(v, ElementType.F16), kv.blockTable(), step.tokenSeq(),
                        step.positions(), i32(t), i32(shape.qkvDim()), i32(shape.qDim()), i32(shape.kvDim()), i32(kv.maxBlocks()),
                        constant(shape.headDim()), constant(kv.blockSize()));
            } else {
                g.parallel(Attention::biasWriteKv, grid, step.qkv(), bias, as(k, ElementType.F32), as(v, ElementType.F32), kv.blockTable(), step.tokenSeq(),
                        step.positions(), i32(t), i32(shape.qkvDim()), i32(shape.qDim()), i32(shape.kvDim()), i32(kv.maxBlocks()),
                        constant(shape.headDim()), constant(kv.blockSize()));
            }
            return;
        }
        Grid grid = Grid.rows(t, shape.kvDim());
        if (half) {
            g.parallel(Attention::writeKvHalf, grid, step.qkv(), as(k, ElementType.F16), as(v, ElementType.F16), kv.blockTable(), step.tokenSeq(),
                    step.positions(), i32(t), i32(shape.qkvDim()), i32(shape.qDim()), i32(shape.kvDim()), i32(kv.maxBlocks()),
                    constant(shape.headDim()), constant(kv.blockSize()));
        } else {
            g.parallel(Attention::writeKv, grid, step.qkv(), as(k, ElementType.F32), as(v, ElementType.F32), kv.blockTable(), step.tokenSeq(),
                    step.positions(), i32(t), i32(shape.qkvDim()), i32(shape.qDim()), i32(shape.kvDim()), i32(kv.maxBlocks()),
                    constant(shape.headDim()), constant(kv.blockSize()));
        }
    }

    /** RMSNorm or LayerNorm of {@code rows} rows of {@code in} into {@code out} (activation type). */
    protected void norm(TaskGraph g, Buffer<FloatArray> in, Buffer<FloatArray> weight, Buffer<FloatArray> bias, Buffer<?> out, int rows) {
        Grid grid = Grid.groups(rows, Norms.THREADS);
        boolean half = out.type() == ElementType.F16;
        float eps = shape.normEps();
        switch (shape.norm()) {
            case RMS -> {
                if (half) g.kernel(Norms::rmsnormHalf, grid, in, weight, as(out, ElementType.F16), i32(shape.hidden()), f32(eps));
                else g.kernel(Norms::rmsnorm, grid, in, weight, as(out, ElementType.F32), i32(shape.hidden()), f32(eps));
            }
            case LAYER -> {
                if (half) g.kernel(Norms::layernormHalf, grid, in, weight, bias, as(out, ElementType.F16), i32(shape.hidden()), f32(eps));
                else g.kernel(Norms::layernorm, grid, in, weight, bias, as(out, ElementType.F32), i32(shape.hidden()), f32(eps));
            }
        }
    }

    /** {@code x += add} (a bias over each row), then the LayerNorm of the sum into {@code out}: one launch. */
    protected void addLayernorm(TaskGraph g, Buffer<FloatArray> x, Buffer<FloatArray> add, Buffer<FloatArray> weight, Buffer<FloatArray> bias,
                                Buffer<?> out, int rows) {
        Grid grid = Grid.groups(rows, Norms.THREADS);
        if (out.type() == ElementType.F16) {
            g.kernel(Norms::addLayernormHalf, grid, x, add, weight, bias, as(out, ElementType.F16), i32(shape.hidden()), f32(shape.normEps()));
        } else {
            g.kernel(Norms::addLayernorm, grid, x, add, weight, bias, as(out, ElementType.F32), i32(shape.hidden()), f32(shape.normEps()));
        }
    }

    /** {@code x[rows, cols] += bias}, where the model has a bias. */
    protected void addBias(TaskGraph g, Buffer<FloatArray> x, Buffer<FloatArray> bias, int rows, int cols) {
        if (bias != null) g.parallel(Activations::addBias, Grid.rows(rows, cols), x, bias, i32(rows), i32(cols));
    }

    /** {@code buffer} as a buffer of {@code type}, checked. */
    @SuppressWarnings("unchecked")
    protected static <T extends DeviceArray> Buffer<T> as(Buffer<?> buffer, ElementType<T> type) {
        if (buffer.type() != type) throw new IllegalArgumentException(buffer + " is " + buffer.type() + ", expected " + type);
        return (Buffer<T>) buffer;
    }
}
