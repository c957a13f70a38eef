package polar.engine;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import polar.engine.sparsity.PolarSparsity;
import polar.engine.sparsity.RouterWeights;
import polar.model.Model;
import polar.model.ModelConfig;
import polar.tornado.kernels.HeadRouter;
import polar.tornado.layers.KvBuffers;
import polar.tornado.layers.LayerGraphBuilder;
import polar.tornado.layers.ModelBuffers;
import polar.tornado.layers.Precision;
import polar.tornado.layers.StepBuffers;
import polar.tornado.layers.SparseAttentionBuffers;
import polar.tornado.layers.SparseMlpBuffers;
import polar.engine.sparsity.MlpScore;
import polar.engine.sparsity.MlpTable;
import polar.tornado.layers.StepShape;
import polar.tornado.layers.TransformerShape;
import polar.tornado.runtime.Backend;
import polar.tornado.runtime.Executable;
import polar.tornado.graph.Buffer;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.IntArray;

/**
 * Runs a model on a backend, a batch of sequences per step. Weights go to the device once; each
 * step appends tokens to some sequences (whole or partial prompts, or one decode token each, in
 * any mix), runs the layer graphs over all of them together and returns the logits at each
 * sequence's last new position.
 *
 * <p>Steps are padded up to power-of-two buckets of tokens and sequences; graphs are compiled
 * (and, on CUDA, captured) once per bucket and replayed, with the step's tokens, positions and
 * sequence rows written to small device buffers first. Padding tokens use the cache's scratch row.
 */
public final class Engine implements BatchEngine {
    private final Backend backend;
    private final ModelConfig config;
    private final EngineOptions options;
    private final Precision precision;
    private final DeviceModel weights;
    private final KvCache cache;
    private final StepBuffers step;
    private final LayerGraphBuilder builder;
    private final List<Buffer<?>> sparseBuffers = new ArrayList<>();
    private final int maxContext;
    private final int maxPartitions;
    private final Map<StepShape, Executable> compiled = new HashMap<>();
    private long compileNanos;
    private final IntArray tokenIds, positions, tokenSeq, lastRows;
    private final FloatArray logits;

    /**
     * Makes the layer graph builder. The default is {@link LayerGraphBuilder} itself; a subclass
     * overriding its seams adds Polar Sparsity, or taps activations (router data collection).
     */
    @FunctionalInterface
    public interface BuilderFactory {
        LayerGraphBuilder create(TransformerShape shape, Precision precision, ModelBuffers weights, KvBuffers kv, StepBuffers step,
                                 int partitionSize);
    }

    public Engine(Backend backend, Model model, EngineOptions options) {
        this(backend, model, options, LayerGraphBuilder::new);
    }

    public Engine(Backend backend, Model model, EngineOptions options, BuilderFactory builders) {
        this.backend = backend;
        this.config = model.config();
        boolean cuda = backend.name().equals("cuda");
        this.precision = options.precision() != null ? options.precision() : cuda ? Precision.FLOAT16 : Precision.FLOAT32;
        WeightFormat format = options.weights() != null ? options.weights() : cuda ? WeightFormat.FLOAT16 : WeightFormat.AS_STORED;
        this.maxContext = options.maxContext() > 0 ? Math.min(options.maxContext(), config.maxPositions()) : config.maxPositions();
        int stepTokens = Math.max(options.maxStepTokens(), options.maxSequences());
        this.options = options.withMaxStepTokens(stepTokens);
        this.maxPartitions = options.splitK() ? (maxContext + options.partitionSize() - 1) / options.partitionSize() : 1;
        this.weights = DeviceModel.upload(backend, model, format);
        TransformerShape shape = weights.shape();
        int blocksPerSequence = (maxContext + options.blockSize() - 1) / options.blockSize();
        int blocks = options.kvBlocks() > 0 ? options.kvBlocks() : options.maxSequences() * blocksPerSequence + 1;
        this.cache = new KvCache(backend, shape, precision.kvCache(), options.blockSize(), blocks, options.maxSequences(), maxContext);
        this.step = StepBuffers.allocate(backend, shape, precision, stepTokens, options.maxSequences(), maxPartitions);
        this.builder = builders.create(shape, precision, weights.buffers(), cache.buffers(), step, options.partitionSize());
        if (options.sparsity() != null) {
            builder.withSparseAttention(uploadSparsity(options.sparsity(), shape, stepTokens));
            SparseMlpBuffers mlp = uploadSparseMlp(options.sparsity(), model, shape, stepTokens);
            if (mlp != null) builder.withSparseMlp(mlp);
        }
        this.tokenIds = new IntArray(stepTokens);
        this.positions = new IntArray(stepTokens);
        this.tokenSeq = new IntArray(stepTokens);
        this.lastRows = new IntArray(options.maxSequences());
        this.logits = new FloatArray(options.maxSequences() * config.vocabSize());
    }

    /** Uploads the attention routers once and allocates the router scores and selections of a step. */
    private SparseAttentionBuffers uploadSparsity(PolarSparsity sparsity, TransformerShape shape, int stepTokens) {
        sparsity.checkFits(config, "sparsity");
        int layers = shape.layers();
        int units = sparsity.plan().units();
        List<Buffer<?>> w = new ArrayList<>();
        List<Buffer<FloatArray>> b = new ArrayList<>();
        int[] k = new int[layers];
        int maxK = 1;
        List<Buffer<?>> innerW = new ArrayList<>(java.util.Collections.nCopies(layers, null));
        List<Buffer<FloatArray>> innerB = new ArrayList<>(java.util.Collections.nCopies(layers, null));
        int[] inner = new int[layers];
        for (int l = 0; l < layers; l++) {
            if (sparsity.oracle() && sparsity.routesAttention(l)) { // no router: the oracle picks units in the step
                w.add(null);
                b.add(null);
                k[l] = sparsity.plan().attnK(l);
                maxK = Math.max(maxK, k[l]);
                continue;
            }
            RouterWeights.AttentionRouter r = sparsity.routesAttention(l) ? sparsity.routers().attention(l) : null;
            if (r == null) {
                w.add(null);
                b.add(null);
                continue;
            }
            Buffer<?> wb = uploadAsActivations(r.weight(), "router" + l + ".weight");
            Buffer<FloatArray> bb = backend.upload(FloatArray.of(r.bias()), "router" + l + ".bias");
            sparseBuffers.add(wb);
            sparseBuffers.add(bb);
            w.add(wb);
            b.add(bb);
            if (r.inner() > 0) { // two-layer router: its first layer, and the second's input in the activations' type
                innerW.set(l, track(uploadAsActivations(r.innerWeight(), "router" + l + ".inner.weight")));
                innerB.set(l, track(backend.upload(FloatArray.of(r.innerBias()), "router" + l + ".inner.bias")));
                inner[l] = r.inner();
            }
            k[l] = sparsity.plan().attnK(l);
            maxK = Math.max(maxK, k[l]);
        }
        Buffer<FloatArray> scores = backend.allocate(ElementType.F32, (long) stepTokens * units, "step.routerScores");
        Buffer<IntArray> selected = backend.allocate(ElementType.I32, (long) stepTokens * maxK, "step.selected");
        sparseBuffers.add(scores);
        sparseBuffers.add(selected);
        Buffer<FloatArray> partial = track(backend.allocate(ElementType.F32, HeadRouter.partialLength(stepTokens, units), "step.routerPartial"));
        Buffer<IntArray> arrivals = track(backend.allocate(ElementType.I32, stepTokens, "step.routerArrivals"));
        int maxInner = Arrays.stream(inner).max().orElse(0);
        SparseAttentionBuffers.TwoLayer two = maxInner == 0 ? null : new SparseAttentionBuffers.TwoLayer(innerW, innerB, inner,
                track(backend.allocate(ElementType.F32, (long) stepTokens * maxInner, "step.routerInnerPre")),
                track(backend.allocate(precision.activations(), (long) stepTokens * maxInner, "step.routerInnerAct")));
        return new SparseAttentionBuffers(units, w, b, k, scores, selected, partial, arrivals, sparsity.oracle(), two);
    }

    /**
     * The MLP part of the plan (ReLU models with an MLP table and routers): routers (in the
     * activations' GEMM type), transposed down weights (in the device weights' type) and scratch;
     * null when every layer's MLP stays dense.
     */
    private SparseMlpBuffers uploadSparseMlp(PolarSparsity sparsity, Model model, TransformerShape shape, int stepTokens) {
        MlpTable table = sparsity.plan().mlp();
        if (table == null || shape.mlp() != TransformerShape.Mlp.RELU) return null;
        int layers = shape.layers(), ffn = shape.ffn(), hidden = shape.hidden();
        List<Buffer<?>> down = new ArrayList<>(), up = new ArrayList<>(), w2t = new ArrayList<>();
        int[] rank = new int[layers];
        int[][] k = new int[layers][options.maxSequences()];
        int maxRank = 1;
        boolean any = false;
        for (int l = 0; l < layers; l++) {
            RouterWeights.MlpRouter r = l >= 1 ? sparsity.routers().mlp(l) : null;
            // 0: dense. k == ffn runs dense too, unless the table never falls back (denseAbove 1: every neuron through the sparse kernels).
            for (int b = 1; b <= options.maxSequences(); b++) {
                int n = r == null ? 0 : table.k(l, b);
                k[l][b - 1] = n == ffn && table.denseAbove() < 1 ? 0 : n;
            }
            boolean used = Arrays.stream(k[l]).anyMatch(n -> n > 0);
            if (!used) {
                down.add(null);
                up.add(null);
                w2t.add(null);
                continue;
            }
            any = true;
            rank[l] = r.rank();
            maxRank = Math.max(maxRank, r.rank());
            down.add(track(uploadAsActivations(r.down(), "mlpRouter" + l + ".down")));
            up.add(track(uploadAsActivations(r.up(), "mlpRouter" + l + ".up")));
            ElementType<?> weightType = weights.buffers().layers().get(l).down().type();
            w2t.add(track(backend.upload(HostArrays.of(HostArrays.transposed(model.weights().layers().get(l).down().toFloatArray(), hidden, ffn), weightType),
                    "layer" + l + ".w2t")));
        }
        if (!any) return null;
        return new SparseMlpBuffers(down, up, rank, w2t, k, table.score() == MlpScore.SOFTPLUS_SUM,
                track(backend.allocate(precision.activations(), (long) stepTokens * maxRank, "step.mlpRouterLow")),
                track(backend.allocate(ElementType.F32, (long) stepTokens * ffn, "step.mlpRouterScores")),
                track(backend.allocate(ElementType.F32, ffn, "step.mlpScoreSums")),
                track(backend.allocate(ElementType.I32, ffn, "step.mlpActive")),
                track(backend.allocate(ElementType.F32, (long) stepTokens * ffn, "step.mlpH")),
                track(backend.allocate(ElementType.F32, SparseMlpBuffers.partialLength(hidden), "step.mlpPartial")),
                track(backend.allocate(ElementType.I32, SparseMlpBuffers.arrivalsLength(stepTokens, hidden), "step.mlpArrivals")));
    }

    /**
     * A router weight, in the GEMM input type of the activations it multiplies (float16 on cuda,
     * where cuBLAS needs both inputs of one type); the GEMM still accumulates in float32.
     */
    private Buffer<?> uploadAsActivations(float[] values, String label) {
        return backend.upload(HostArrays.of(values, precision.activations()), label);
    }

    private <T extends polar.tornado.types.DeviceArray> Buffer<T> track(Buffer<T> b) {
        sparseBuffers.add(b);
        return b;
    }

    public Backend backend() { return backend; }

    @Override
    public ModelConfig config() { return config; }

    public TransformerShape shape() { return weights.shape(); }

    public Precision precision() { return precision; }

    @Override
    public KvCache cache() { return cache; }

    /** The step's device buffers (activations of the last step stay there until the next). */
    public StepBuffers stepBuffers() { return step; }

    /** Positions a sequence may reach. */
    @Override
    public int maxContext() { return maxContext; }

    @Override
    public int maxSequences() { return options.maxSequences(); }

    /** A new empty sequence holding a row of the KV cache until {@link #release}d. */
    @Override
    public Sequence newSequence() {
        return new Sequence(cache.acquireRow());
    }

    /** Frees the sequence's KV cache blocks and row. */
    @Override
    public void release(Sequence s) {
        if (s.released()) return;
        cache.release(s.row());
        s.markReleased();
    }

    /**
     * Processes whole prompts (or continuations) of several sequences, in as many steps as
     * {@code maxStepTokens} requires, and returns the logits after each one's last token.
     */
    @Override
    public float[][] prefill(List<Sequence> sequences, List<int[]> prompts) {
        checkSizes(sequences, prompts);
        for (int i = 0; i < sequences.size(); i++) checkFits(sequences.get(i), prompts.get(i).length);
        float[][] result = new float[sequences.size()][];
        int[] done = new int[sequences.size()];
        int remaining = sequences.size();
        while (remaining > 0) {
            List<Sequence> batch = new ArrayList<>();
            List<int[]> chunks = new ArrayList<>();
            List<Integer> owners = new ArrayList<>();
            int budget = options.maxStepTokens();
            for (int i = 0; i < sequences.size() && budget > 0; i++) {
                int[] prompt = prompts.get(i);
                if (done[i] == prompt.length) continue;
                int take = Math.min(budget, prompt.length - done[i]);
                batch.add(sequences.get(i));
                chunks.add(Arrays.copyOfRange(prompt, done[i], done[i] + take));
                owners.add(i);
                done[i] += take;
                budget -= take;
            }
            float[][] out = step(batch, chunks);
            for (int j = 0; j < owners.size(); j++) {
                int i = owners.get(j);
                if (done[i] == prompts.get(i).length) {
                    result[i] = out[j];
                    remaining--;
                }
            }
        }
        return result;
    }

    /** One decode step: token {@code tokens[i]} appended to sequence {@code i}; the logits after it. */
    @Override
    public float[][] decode(List<Sequence> sequences, int[] tokens) {
        List<int[]> chunks = new ArrayList<>();
        for (int t : tokens) chunks.add(new int[] {t});
        return step(sequences, chunks);
    }

    /**
     * One step: appends {@code tokens.get(i)} to sequence {@code i} (distinct sequences), runs the
     * model over all of them at once and returns, per sequence, the logits at its last new position.
     */
    @Override
    public float[][] step(List<Sequence> sequences, List<int[]> tokens) {
        checkSizes(sequences, tokens);
        int n = sequences.size();
        if (n > options.maxSequences()) throw new IllegalArgumentException("a step holds at most " + options.maxSequences() + " sequences, given " + n);
        int total = 0;
        int longest = 0;
        boolean decode = true;
        for (int i = 0; i < n; i++) {
            Sequence s = sequences.get(i);
            int count = tokens.get(i).length;
            if (count == 0) throw new IllegalArgumentException("sequence " + i + " of the step has no tokens");
            checkFits(s, count);
            for (int j = 0; j < i; j++) if (sequences.get(j) == s) throw new IllegalArgumentException("sequence " + s + " appears twice in one step");
            for (int t : tokens.get(i)) {
                if (t < 0 || t >= config.vocabSize()) throw new IllegalArgumentException("token id " + t + " is outside the vocabulary of " + config.vocabSize());
            }
            total += count;
            longest = Math.max(longest, s.length() + count);
            decode &= count == 1;
        }
        if (total > options.maxStepTokens()) throw new IllegalArgumentException("a step holds at most " + options.maxStepTokens() + " tokens, given " + total);
        for (int i = 0; i < n; i++) cache.reserve(sequences.get(i).row(), sequences.get(i).length() + tokens.get(i).length);
        cache.sync();

        StepShape shape = bucket(decode, total, n, longest);
        int t = 0;
        for (int i = 0; i < n; i++) {
            Sequence s = sequences.get(i);
            int[] chunk = tokens.get(i);
            for (int j = 0; j < chunk.length; j++, t++) {
                tokenIds.set(t, chunk[j]);
                positions.set(t, s.length() + j);
                tokenSeq.set(t, s.row());
            }
            lastRows.set(i, t - 1);
        }
        for (; t < shape.tokens(); t++) {
            tokenIds.set(t, 0);
            positions.set(t, 0);
            tokenSeq.set(t, cache.scratchRow());
        }
        for (int i = n; i < shape.sequences(); i++) lastRows.set(i, 0);
        backend.write(step.tokenIds(), 0, tokenIds.segment(), shape.tokens());
        backend.write(step.positions(), 0, positions.segment(), shape.tokens());
        backend.write(step.tokenSeq(), 0, tokenSeq.segment(), shape.tokens());
        backend.write(step.lastRows(), 0, lastRows.segment(), shape.sequences());

        compiled.computeIfAbsent(shape, this::compile).run();

        int vocab = config.vocabSize();
        backend.read(step.logits(), 0, logits.segment(), (long) n * vocab);
        float[][] result = new float[n][vocab];
        for (int i = 0; i < n; i++) {
            MemorySegment.copy(logits.segment(), ValueLayout.JAVA_FLOAT, (long) i * vocab * 4, result[i], 0, vocab);
            sequences.get(i).advance(tokens.get(i).length);
        }
        return result;
    }

    /** Builds, compiles and captures the graphs of one bucket, timing it (kernel translation and NVRTC are not inference). */
    private Executable compile(StepShape shape) {
        long t0 = System.nanoTime();
        Executable e = backend.capture(backend.compile(builder.build(shape)));
        compileNanos += System.nanoTime() - t0;
        return e;
    }

    /** Nanoseconds spent so far building and compiling graphs (the first step of each bucket pays it). */
    @Override
    public long compileNanos() { return compileNanos; }

    /** The graph bucket of a step: tokens and sequences rounded up to powers of two, split-K partitions for the longest sequence. */
    private StepShape bucket(boolean decode, int tokens, int sequences, int longest) {
        int s = roundUp(sequences, options.maxSequences());
        if (decode) {
            int needed = (longest + options.partitionSize() - 1) / options.partitionSize();
            return new StepShape(StepShape.Kind.DECODE, s, s, roundUp(needed, maxPartitions));
        }
        return new StepShape(StepShape.Kind.PREFILL, roundUp(tokens, options.maxStepTokens()), s, 1);
    }

    /** The next power of two from {@code n}, at most {@code cap} (which is at least {@code n}). */
    private static int roundUp(int n, int cap) {
        return Math.min(n <= 1 ? 1 : Integer.highestOneBit(n - 1) << 1, cap);
    }

    private void checkFits(Sequence s, int count) {
        if (s.released()) throw new IllegalStateException(s + " was released");
        if (s.length() + count > maxContext) {
            throw new ContextOverflowException("sequence of " + s.length() + " positions plus " + count + " tokens exceeds the context of "
                    + maxContext + " positions");
        }
    }

    private static void checkSizes(List<Sequence> sequences, List<int[]> tokens) {
        if (sequences.size() != tokens.size()) throw new IllegalArgumentException(sequences.size() + " sequences but " + tokens.size() + " token lists");
        if (sequences.isEmpty()) throw new IllegalArgumentException("a step needs at least one sequence");
    }

    @Override
    public void close() {
        for (Buffer<?> b : sparseBuffers) backend.free(b);
        step.free(backend);
        cache.close();
        weights.close();
    }
}
