package polar.tools.routers;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import polar.engine.DeviceModel;
import polar.engine.KvCache;
import polar.engine.WeightFormat;
import polar.engine.sparsity.LayerObserver;
import polar.model.Model;
import polar.model.ModelLoader;
import polar.runtime.Backends;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.TaskGraph;
import polar.tornado.layers.KvBuffers;
import polar.tornado.layers.LayerGraphBuilder;
import polar.tornado.layers.ModelBuffers;
import polar.tornado.layers.Precision;
import polar.tornado.layers.StepBuffers;
import polar.tornado.layers.StepShape;
import polar.tornado.layers.TransformerShape;
import polar.tornado.runtime.Backend;
import polar.tornado.runtime.Executable;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.IntArray;

/**
 * Runs a model densely in float32 on a backend with the engine's layer graphs, plus copies of each
 * layer's attention input, per-head attention output and MLP activation into "tap" buffers that are
 * read back after the step: router data collection.
 *
 * <p>It builds on the engine's public parts ({@link DeviceModel}, {@link KvCache}, {@link StepBuffers},
 * {@link LayerGraphBuilder}'s seams) rather than {@code Engine}, which has no observer hook yet; the step
 * set-up below mirrors {@code Engine.step} for whole-prompt prefill.
 */
public final class EngineActivationSource implements ActivationSource {

    private final Backend backend;
    private final Model model;
    private final RouterDataShape shape;
    private final TransformerShape transformer;
    private final DeviceModel weights;
    private final KvCache cache;
    private final StepBuffers step;
    private final Taps taps;
    private final LayerGraphBuilder builder;
    private final int maxSequences, maxTokens, window;
    private final Map<StepShape, Executable> compiled = new HashMap<>();

    /** Device buffers holding every layer's activations of the last step, {@code [layers, maxTokens, width]}. */
    record Taps(Buffer<FloatArray> normed, Buffer<FloatArray> heads, Buffer<FloatArray> mlp) {}

    /** The engine's layer graphs with the taps copied out at the attention and MLP seams. */
    static final class TappingBuilder extends LayerGraphBuilder {
        private final Taps taps;
        private final int maxTokens;

        TappingBuilder(TransformerShape shape, ModelBuffers weights, KvBuffers kv, StepBuffers step, Taps taps, int maxTokens) {
            super(shape, Precision.FLOAT32, weights, kv, step, 256);
            this.taps = taps;
            this.maxTokens = maxTokens;
        }

        @Override
        protected void attention(TaskGraph g, int l, StepShape s) {
            int t = s.tokens();
            // step.normed still holds this layer's attention norm here (the MLP norm comes later).
            g.copy(step.normed(), 0, taps.normed(), (long) l * maxTokens * shape.hidden(), (long) t * shape.hidden());
            super.attention(g, l, s);
            g.copy(step.attn(), 0, taps.heads(), (long) l * maxTokens * shape.qDim(), (long) t * shape.qDim());
        }

        @Override
        protected void mlp(TaskGraph g, int l, StepShape s) {
            super.mlp(g, l, s);
            if (taps.mlp() != null) g.copy(step.mlpAct(), 0, taps.mlp(), (long) l * maxTokens * shape.ffn(), (long) s.tokens() * shape.ffn());
        }
    }

    /**
     * @param maxSequences sequences per step
     * @param window       tokens per sequence at most
     */
    public EngineActivationSource(Backend backend, Model model, int maxSequences, int window) {
        this.backend = backend;
        this.model = model;
        this.shape = RouterDataShape.of(model.config());
        this.maxSequences = maxSequences;
        this.window = window;
        this.maxTokens = maxSequences * window;
        this.weights = DeviceModel.upload(backend, model, WeightFormat.AS_STORED);
        this.transformer = weights.shape();
        int blockSize = 16, blocksPerSequence = (window + blockSize - 1) / blockSize;
        this.cache = new KvCache(backend, transformer, ElementType.F32, blockSize, maxSequences * blocksPerSequence + 1, maxSequences, window);
        this.step = StepBuffers.allocate(backend, transformer, Precision.FLOAT32, maxTokens, maxSequences, 1);
        long layers = transformer.layers();
        this.taps = new Taps(backend.allocate(ElementType.F32, layers * maxTokens * transformer.hidden(), "tap.normed"),
                backend.allocate(ElementType.F32, layers * maxTokens * transformer.qDim(), "tap.heads"),
                shape.reluMlp() ? backend.allocate(ElementType.F32, layers * maxTokens * transformer.ffn(), "tap.mlp") : null);
        this.builder = new TappingBuilder(transformer, weights.buffers(), cache.buffers(), step, taps, maxTokens);
    }

    /** Sequences per step when collecting. */
    public static final int DEFAULT_SEQUENCES = 8;

    /** Opens a model (folder or file) on a backend by name ({@code jvm}, {@code cuda}, ..., {@code auto}). */
    public static final Opener OPENER = (path, backendName, window) -> {
        Model m;
        try {
            m = ModelLoader.load(Path.of(path));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load model " + path + ": " + e.getMessage(), e);
        }
        return new EngineActivationSource(Backends.open(backendName), m, DEFAULT_SEQUENCES, window);
    };

    @Override public RouterDataShape shape() { return shape; }

    @Override public String modelName() { return model.source().toAbsolutePath().toString(); }

    @Override public int[] encode(String text) { return model.tokenizer().encode(text, false); }

    @Override public int bos() { return model.config().bosId(); }

    @Override public int maxSequences() { return maxSequences; }

    @Override
    public void run(List<int[]> sequences, LayerObserver observer) {
        int n = sequences.size();
        if (n < 1 || n > maxSequences) throw new IllegalArgumentException("a step runs 1.." + maxSequences + " sequences, given " + n);
        List<Integer> rows = new ArrayList<>();
        try {
            int total = 0;
            for (int[] s : sequences) {
                if (s.length < 1 || s.length > window) throw new IllegalArgumentException("sequence of " + s.length + " tokens; the window is " + window);
                int row = cache.acquireRow();
                rows.add(row);
                cache.reserve(row, s.length);
                total += s.length;
            }
            cache.sync();
            StepShape shapeOfStep = new StepShape(StepShape.Kind.PREFILL, roundUp(total, maxTokens), roundUp(n, maxSequences), 1);
            IntArray tokenIds = new IntArray(shapeOfStep.tokens()), positions = new IntArray(shapeOfStep.tokens()),
                    tokenSeq = new IntArray(shapeOfStep.tokens()), lastRows = new IntArray(shapeOfStep.sequences());
            int t = 0;
            for (int i = 0; i < n; i++) {
                int[] s = sequences.get(i);
                for (int j = 0; j < s.length; j++, t++) {
                    tokenIds.set(t, s[j]);
                    positions.set(t, j);
                    tokenSeq.set(t, rows.get(i));
                }
                lastRows.set(i, t - 1);
            }
            for (; t < shapeOfStep.tokens(); t++) tokenSeq.set(t, cache.scratchRow()); // padding: token 0 at position 0 in the scratch row
            backend.write(step.tokenIds(), 0, tokenIds.segment(), shapeOfStep.tokens());
            backend.write(step.positions(), 0, positions.segment(), shapeOfStep.tokens());
            backend.write(step.tokenSeq(), 0, tokenSeq.segment(), shapeOfStep.tokens());
            backend.write(step.lastRows(), 0, lastRows.segment(), shapeOfStep.sequences());
            compiled.computeIfAbsent(shapeOfStep, s -> backend.compile(builder.build(s))).run();
            for (int l = 0; l < transformer.layers(); l++) {
                observer.layer(l, total, read(taps.normed(), l, total, transformer.hidden()), read(taps.heads(), l, total, transformer.qDim()),
                        taps.mlp() == null ? null : read(taps.mlp(), l, total, transformer.ffn()));
            }
        } finally {
            rows.forEach(cache::release);
        }
    }

    /** Rows {@code 0..rows} of layer {@code l} of a tap. */
    private float[] read(Buffer<FloatArray> tap, int l, int rows, int width) {
        float[] out = new float[rows * width];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(4L * out.length, 64);
            backend.read(tap, (long) l * maxTokens * width, host, out.length);
            MemorySegment.copy(host, ValueLayout.JAVA_FLOAT, 0, out, 0, out.length);
        }
        return out;
    }

    /** The next power of two from {@code n}, at most {@code cap}. */
    private static int roundUp(int n, int cap) {
        return Math.min(n <= 1 ? 1 : Integer.highestOneBit(n - 1) << 1, cap);
    }

    @Override
    public void close() {
        backend.free(taps.normed());
        backend.free(taps.heads());
        if (taps.mlp() != null) backend.free(taps.mlp());
        step.free(backend);
        cache.close();
        weights.close();
        backend.close();
    }
}
