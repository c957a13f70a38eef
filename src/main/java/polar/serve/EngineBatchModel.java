package polar.serve;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import polar.engine.BatchEngine;
import polar.engine.EmbeddedModel;
import polar.engine.Engine;
import polar.engine.EngineOptions;
import polar.engine.Sequence;
import polar.engine.parallel.TensorParallel;
import polar.engine.sparsity.PolarSparsity;
import polar.engine.sparsity.SyntheticRouters;
import polar.formats.DType;
import polar.formats.Gguf;
import polar.formats.Json;
import polar.formats.JsonFields;
import polar.model.Model;
import polar.model.ModelConfig;
import polar.model.ModelLoader;
import polar.model.SyntheticModel;
import polar.model.Tokenizer;
import polar.runtime.Backends;
import polar.tornado.runtime.Backend;

/**
 * The engine ({@link Engine}, or a tensor-parallel one) as a {@link BatchModel}: a sequence id is the engine sequence's block-table row; prefill chunks
 * and decode batches each run as one engine step, whose logits rows are handed on as they are.
 */
public final class EngineBatchModel implements BatchModel {
    /** Null where the engine owns its devices ({@link TensorParallel#open}). */
    private final Backend backend;
    private final BatchEngine engine;
    private final String id, chatTemplate;
    private final Tokenizer tokenizer;
    private final int maxPrefillTokens;
    private final Map<Integer, Sequence> open = new HashMap<>();

    /** Runs {@code model} on {@code backend}; closing this closes the engine and the backend. */
    public EngineBatchModel(Backend backend, Model model, EngineOptions options, String id, String chatTemplate) {
        this(backend, new Engine(backend, model, options), model, options, id, chatTemplate);
    }

    /** Serves {@code engine} (made with {@code options} for {@code model}); closing this closes the engine, which owns its devices. */
    public EngineBatchModel(BatchEngine engine, Model model, EngineOptions options, String id, String chatTemplate) {
        this(null, engine, model, options, id, chatTemplate);
    }

    private EngineBatchModel(Backend backend, BatchEngine engine, Model model, EngineOptions options, String id, String chatTemplate) {
        this.backend = backend;
        this.engine = engine;
        this.tokenizer = model.tokenizer();
        this.id = id;
        this.chatTemplate = chatTemplate;
        this.maxPrefillTokens = Math.max(options.maxStepTokens(), options.maxSequences()); // as the engine sizes its steps
    }

    /**
     * The loader of {@code polar serve}: the model file or folder (or {@code synthetic:SHAPE}: random float16 weights
     * of that shape speaking the tokenizer model's vocabulary), the sparsity, the backend and tensor-parallel ranks, the engine's capacity.
     */
    public static EngineBatchModel load(ServeCommand.ModelOptions o) throws IOException {
        boolean synthetic = o.model() != null && SyntheticModel.isName(o.model());
        // A synthetic model's files (tokenizer, chat template) are those of the model whose tokenizer it speaks.
        Path path = o.model() == null ? EmbeddedModel.path() : synthetic ? (o.tokenizer() != null ? Path.of(o.tokenizer()) : EmbeddedModel.path())
                : Path.of(o.model());
        Model model = ModelLoader.load(path);
        if (synthetic) model = SyntheticModel.speaking(SyntheticModel.shape(o.model()), model, DType.F16, SYNTHETIC_SEED);
        EngineOptions options = EngineOptions.defaults().withMaxSequences(o.maxBatch() > 0 ? o.maxBatch() : DEFAULT_MAX_BATCH)
                .withSparsity(sparsity(o, synthetic, path, model.config()));
        if (o.context() > 0) options = options.withMaxContext(o.context());
        if (o.kvBlocks() > 0) options = options.withKvBlocks(o.kvBlocks() + 1); // the engine's scratch block comes on top
        BatchEngine engine = TensorParallel.open(o.backend() != null ? o.backend() : Backends.AUTO, o.device(), o.tensorParallel(), model, options);
        try {
            return new EngineBatchModel(engine, model, options, synthetic ? o.model() : modelName(path), chatTemplate(path));
        } catch (IOException | RuntimeException e) {
            engine.close();
            throw e;
        }
    }

    /** Seed of a synthetic model's weights and routers: the same every time, so runs compare. */
    static final long SYNTHETIC_SEED = 20251125L;

    /** Null for dense; else the plan and routers of {@code --routers} (default: the model's folder; random ones for a synthetic model). */
    private static PolarSparsity sparsity(ServeCommand.ModelOptions o, boolean synthetic, Path model, ModelConfig config) {
        if (o.sparsity().equals("dense")) return null;
        PolarSparsity s;
        String source;
        if (synthetic && o.routers() == null) {
            s = SyntheticRouters.create(config, SYNTHETIC_SEED);
            source = "synthetic routers";
        } else {
            Path dir = o.routers() != null ? Path.of(o.routers()) : Files.isDirectory(model) ? model : model.toAbsolutePath().getParent();
            s = PolarSparsity.load(dir);
            source = dir.toString();
        }
        if (o.attnDensity() > 0) s = s.withAttentionDensity(o.attnDensity());
        if (o.mlp().equals("dense")) s = s.withoutMlp();
        s.checkFits(config, source);
        return s;
    }

    /** Sequences decoded together when {@code --max-batch} is not given. */
    public static final int DEFAULT_MAX_BATCH = 32;

    /** A folder's name, or a file's without {@code .gguf}; the embedded model by its own name. */
    static String modelName(Path path) {
        String name = path.toAbsolutePath().normalize().getFileName().toString();
        if (name.startsWith(EmbeddedModel.NAME + "-") && path.startsWith(EmbeddedModel.cacheRoot())) return EmbeddedModel.NAME;
        return name.endsWith(".gguf") ? name.substring(0, name.length() - ".gguf".length()) : name;
    }

    /** {@code chat_template} of {@code tokenizer_config.json} beside a Hugging Face model, or {@code tokenizer.chat_template} of a GGUF file; null if none. */
    static String chatTemplate(Path path) throws IOException {
        if (path.getFileName().toString().endsWith(".gguf")) {
            try (Arena arena = Arena.ofConfined()) {
                Gguf gguf = Gguf.open(path, arena);
                return gguf.has("tokenizer.chat_template") ? gguf.string("tokenizer.chat_template") : null;
            }
        }
        Path config = (Files.isDirectory(path) ? path : path.toAbsolutePath().getParent()).resolve("tokenizer_config.json");
        if (!Files.exists(config)) return null;
        JsonFields f = JsonFields.of(Json.parse(config), config.toString());
        Object template = f.get("chat_template");
        if (template instanceof List<?> named) { // [{"name": "default", "template": ...}, {"name": "tool_use", ...}]
            for (JsonFields t : f.objects("chat_template")) if ("default".equals(t.string("name", ""))) return t.string("template");
            return null;
        }
        return f.string("chat_template", null);
    }

    public BatchEngine engine() { return engine; }

    @Override public String id() { return id; }
    @Override public Tokenizer tokenizer() { return tokenizer; }
    @Override public String chatTemplate() { return chatTemplate; }
    @Override public boolean isEos(int token) { return engine.config().isEos(token); }
    @Override public int vocabSize() { return engine.config().vocabSize(); }
    @Override public int contextLength() { return engine.maxContext(); }
    @Override public int maxBatch() { return engine.maxSequences(); }
    @Override public int maxPrefillTokens() { return maxPrefillTokens; }
    @Override public int blockSize() { return engine.cache().blockSize(); }
    @Override public int totalBlocks() { return engine.cache().capacityBlocks(); }
    @Override public int freeBlocks() { return engine.cache().freeBlocks(); }

    @Override
    public int open() {
        Sequence s = engine.newSequence();
        open.put(s.row(), s);
        return s.row();
    }

    @Override
    public float[][] prefill(List<PrefillChunk> chunks) {
        List<Sequence> seqs = new ArrayList<>(chunks.size());
        List<int[]> tokens = new ArrayList<>(chunks.size());
        for (PrefillChunk c : chunks) {
            seqs.add(sequence(c.seq()));
            tokens.add(c.tokens());
        }
        float[][] rows = engine.step(seqs, tokens);
        List<float[]> wanted = new ArrayList<>();
        for (int i = 0; i < rows.length; i++) if (chunks.get(i).wantLogits()) wanted.add(rows[i]);
        return wanted.toArray(float[][]::new);
    }

    @Override
    public float[][] decode(int[] seqs, int[] tokens) {
        List<Sequence> batch = new ArrayList<>(seqs.length);
        for (int s : seqs) batch.add(sequence(s));
        return engine.decode(batch, tokens);
    }

    @Override
    public void close(int seq) {
        engine.release(sequence(seq));
        open.remove(seq);
    }

    @Override
    public void close() {
        try {
            engine.close();
        } finally {
            if (backend != null) backend.close();
        }
    }

    private Sequence sequence(int seq) {
        Sequence s = open.get(seq);
        if (s == null) throw new IllegalArgumentException("sequence " + seq + " is not open");
        return s;
    }
}
