package polar.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import polar.engine.DeviceModel;
import polar.engine.EngineOptions;
import polar.engine.KvCache;
import polar.formats.Json;
import polar.model.BenchModel;
import polar.model.ModelConfig;
import polar.model.SyntheticModel;
import polar.runtime.Backends;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.CopyTask;
import polar.tornado.graph.GemmTask;
import polar.tornado.graph.KernelTask;
import polar.tornado.graph.Task;
import polar.tornado.graph.TaskGraph;
import polar.tornado.layers.LayerGraphBuilder;
import polar.tornado.layers.StepBuffers;
import polar.tornado.layers.StepShape;
import polar.tornado.layers.TransformerShape;
import polar.tornado.runtime.Backend;
import polar.tornado.runtime.Executable;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * End-to-end decode-step benchmark over synthetic weights of real shapes ({@link BenchModel}).
 * For each row of a plan (model, batch, context, sparsity) it builds the engine's layer graphs for
 * one decode step, fills the paged KV cache with random data up to the context (the new token is
 * the last position), captures the whole step as one CUDA graph and times its replays with CUDA
 * events after warm-up. Each row reports the median step time, tokens/s, the bytes the step must
 * read ({@link StepBytes}) and the fraction of the bytes bound, the bound being those bytes over
 * the device-to-device copy bandwidth measured in the same run. Rows marked {@code breakdown}
 * also time each task of one layer on its own, to show what dominates. Polar rows (densities
 * below 1) run the engine's selective builder with random routers of the real shapes
 * ({@link LayerBuilders}): router GEMMs and top-k on the device inside the timed step, and the
 * selections they made are read back and checked after the timing.
 *
 * <p>Prints a table last and writes JSON (read by {@code benchmarks/peers/compare.py} and
 * {@link polar.bench.plot.Plots}). Also {@code polar bench decode ...}.
 */
public final class DecodeBench {
    static final String USAGE = """
            usage: DecodeBench [--backend auto|cuda|jvm|opencl] [--device N]
                               (--plan FILE | --model NAME --batches B,B.. --contexts C,C.. [--heads D --mlp D] [--breakdown])
                               [--precision auto|f16|f32] [--warmup N] [--repeats N] [--seed S] [--json FILE]
              models: llama2-7b, llama3-8b, opt-6.7b, smoke-llama, smoke-opt (small shapes for the JVM backend)
              --precision auto: float16 weights, activations and KV cache where the layer builder supports
                                them on the backend, else float32 (the JSON says which and why)""";

    /** Device memory left free beside a row's buffers (cuBLAS workspace, graphs, fragmentation). */
    private static final long MEMORY_MARGIN = 1L << 30;

    private final Backend backend;
    private final Options options;
    private final PrintStream out;
    private final SplittableRandom random;
    private final EngineOptions engine = EngineOptions.defaults();
    private final DeviceRandom deviceRandom;
    private double copyGBps;

    record Options(String backend, int device, List<DecodePlan.Row> rows, PrecisionChoice precision,
                   int warmup, int repeats, long seed, Path json) {}

    enum PrecisionChoice { AUTO, F16, F32 }

    private DecodeBench(Backend backend, Options options, PrintStream out) {
        this.backend = backend;
        this.options = options;
        this.out = out;
        this.random = new SplittableRandom(options.seed());
        this.deviceRandom = new DeviceRandom(backend, (int) options.seed());
    }

    public static void main(String[] args) throws IOException {
        System.exit(run(args, System.out));
    }

    /** Runs the benchmark; returns the exit code (0: every row ok, skipped or unavailable; 1: a row failed; 2: usage). */
    public static int run(String[] args, PrintStream out) throws IOException {
        Options options;
        try {
            options = parse(args);
        } catch (IllegalArgumentException e) {
            out.println("DecodeBench: " + e.getMessage());
            out.println(USAGE);
            return 2;
        }
        try (Backend backend = Backends.open(options.backend(), options.device())) {
            DecodeBench bench = new DecodeBench(backend, options, out);
            Map<String, Object> result = bench.runAll();
            bench.printTable(result);
            out.println("JSON: " + options.json().toAbsolutePath());
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> rows = (List<Map<String, Object>>) result.get("rows");
            return rows.stream().anyMatch(r -> Status.FAILED.json().equals(r.get("status"))) ? 1 : 0;
        }
    }

    static Options parse(String[] args) throws IOException {
        String backend = Backends.AUTO, model = null;
        int device = 0, warmup = 5, repeats = 20;
        int[] batches = null, contexts = null;
        double heads = 1, mlp = 1;
        boolean breakdown = false;
        Path plan = null, json = Path.of("decode-bench.json");
        PrecisionChoice precision = PrecisionChoice.AUTO;
        long seed = 20251124;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--breakdown")) {
                breakdown = true;
                continue;
            }
            if (a.equals("--help") || a.equals("-h")) throw new IllegalArgumentException("help");
            if (i + 1 >= args.length) throw new IllegalArgumentException(a + " needs a value");
            String v = args[++i];
            switch (a) {
                case "--backend" -> backend = v;
                case "--device" -> device = Integer.parseInt(v);
                case "--plan" -> plan = Path.of(v);
                case "--model" -> model = v;
                case "--batches" -> batches = ints(v);
                case "--contexts" -> contexts = ints(v);
                case "--heads" -> heads = Double.parseDouble(v);
                case "--mlp" -> mlp = Double.parseDouble(v);
                case "--precision" -> precision = PrecisionChoice.valueOf(v.toUpperCase(Locale.ROOT));
                case "--warmup" -> warmup = Integer.parseInt(v);
                case "--repeats" -> repeats = Integer.parseInt(v);
                case "--seed" -> seed = Long.parseLong(v);
                case "--json" -> json = Path.of(v);
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        }
        if (repeats < 1 || warmup < 0) throw new IllegalArgumentException("--repeats must be >= 1 and --warmup >= 0");
        List<DecodePlan.Row> rows;
        if (plan != null) {
            if (model != null) throw new IllegalArgumentException("give --plan or --model, not both");
            rows = DecodePlan.read(plan);
        } else {
            if (model == null || batches == null || contexts == null) throw new IllegalArgumentException("give --plan FILE, or --model with --batches and --contexts");
            rows = new ArrayList<>();
            for (DecodePlan.Row r : DecodePlan.grid(BenchModel.byId(model), batches, contexts, new Sparsity(heads, mlp))) {
                rows.add(new DecodePlan.Row(r.model(), r.batch(), r.context(), r.sparsity(), breakdown));
            }
        }
        return new Options(backend, device, rows, precision, warmup, repeats, seed, json);
    }

    private static int[] ints(String csv) {
        return Arrays.stream(csv.split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray();
    }

    // ---- the run

    enum Status {
        OK, SKIPPED, UNAVAILABLE, FAILED;

        String json() { return name().toLowerCase(Locale.ROOT); }
    }

    private Map<String, Object> runAll() {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("engine", "polar");
        result.put("backend", backend.name());
        result.put("device", backend.deviceName());
        result.put("warmup", options.warmup());
        result.put("repeats", options.repeats());
        result.put("engine_options", Map.of("block_size", engine.blockSize(), "partition_size", engine.partitionSize(), "split_k", engine.splitK()));
        copyGBps = copyBandwidth();
        result.put("copy_gb_per_s", copyGBps);
        out.printf(Locale.ROOT, "DecodeBench on %s: device-to-device copy %.0f GB/s (read + write)%n", backend.deviceName(), copyGBps);

        // Dense rows of every model first, then the Polar rows: a device fault in the sparse kernels cannot cost the
        // dense measurements. Within a pass, rows of one model run together (its weights go to the device once per
        // pass); the JSON keeps the plan's order.
        List<DecodePlan.Row> plan = options.rows();
        Map<DecodePlan.Row, Map<String, Object>> done = new LinkedHashMap<>();
        List<Map<String, Object>> rows = new ArrayList<>();
        result.put("rows", rows);
        Runnable update = () -> {
            rows.clear();
            for (DecodePlan.Row r : plan) if (done.containsKey(r)) rows.add(done.get(r));
            if (backend instanceof polar.runtime.cuda.CudaBackend cuda) result.put("gemm_choices", cuda.gemmChoices());
            save(result);
        };
        for (boolean dense : new boolean[] {true, false}) {
            List<DecodePlan.Row> pass = plan.stream().filter(r -> r.sparsity().dense() == dense).toList();
            for (BenchModel model : pass.stream().map(DecodePlan.Row::model).distinct().toList()) {
                runModel(model, pass.stream().filter(r -> r.model() == model).distinct().toList(), done, update);
            }
        }
        update.run();
        if (backend instanceof polar.runtime.cuda.CudaBackend cuda) cuda.gemmChoices().forEach(line -> out.println("  " + line));
        return result;
    }

    private void runModel(BenchModel model, List<DecodePlan.Row> rows, Map<DecodePlan.Row, Map<String, Object>> results, Runnable update) {
        Numerics numerics = Numerics.choose(options.precision(), backend, model);
        ModelConfig c = model.config();
        out.printf(Locale.ROOT, "%n== %s (%s)%s%n", model.id(), numerics.label(), numerics.note().isEmpty() ? "" : ": " + numerics.note());
        DeviceModel weights;
        long t0 = System.nanoTime();
        try {
            weights = DeviceModel.upload(backend, SyntheticModel.create(c, numerics.synthetic(), random.nextLong()), numerics.weights());
        } catch (RuntimeException | OutOfMemoryError e) {
            for (DecodePlan.Row r : rows) {
                Map<String, Object> row = describe(r, numerics);
                row.put("status", Status.FAILED.json());
                row.put("reason", "weights: " + oneLine(e));
                results.put(r, row);
            }
            update.run();
            out.println("  weights failed: " + oneLine(e));
            return;
        }
        backend.synchronize();
        out.printf(Locale.ROOT, "  weights: %.2f GB on the device in %.1f s%n", weights.bytes() / 1e9, (System.nanoTime() - t0) / 1e9);
        try {
            for (DecodePlan.Row r : rows) {
                Map<String, Object> row = describe(r, numerics);
                try {
                    runRow(weights, r, numerics, row);
                } catch (RuntimeException | OutOfMemoryError e) {
                    row.put("status", Status.FAILED.json());
                    row.put("reason", oneLine(e));
                    System.err.println("DecodeBench " + model.id() + " batch " + r.batch() + " context " + r.context() + " failed:");
                    e.printStackTrace();
                }
                results.put(r, row);
                out.println("  " + summary(row));
                update.run();
            }
        } finally {
            weights.close();
        }
    }

    /** What a row is, before it runs: its shape, numerics, and the bytes it must read with their bound. */
    private Map<String, Object> describe(DecodePlan.Row r, Numerics numerics) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("model", r.model().id());
        row.put("batch", r.batch());
        row.put("context", r.context());
        row.put("sparsity", r.sparsity().dense() ? "dense" : "polar");
        row.put("heads_density", r.sparsity().heads());
        row.put("mlp_density", r.sparsity().mlp());
        if (r.target() > 0) row.put("target_ratio", r.target());
        row.put("weights_type", numerics.synthetic() == polar.formats.DType.F16 ? "f16" : "f32");
        row.put("activations_type", numerics.precision().activations().toString());
        row.put("kv_type", numerics.precision().kvCache().toString());
        if (!numerics.note().isEmpty()) row.put("precision_note", numerics.note());
        StepBytes bytes = StepBytes.of(r.model().config(), numerics.weightBytes(), numerics.kvBytes(), r.batch(), r.context(), r.sparsity());
        row.put("bytes_weights", bytes.weights());
        row.put("bytes_kv", bytes.kv());
        row.put("bytes_routers", bytes.routers());
        row.put("bytes", bytes.total());
        double boundMs = bytes.total() / (copyGBps * 1e6);
        row.put("bound_ms", boundMs);
        // The same shape in float16 (what the peer reads), so rows of different precision compare.
        StepBytes f16 = StepBytes.of(r.model().config(), 2, 2, r.batch(), r.context(), r.sparsity());
        row.put("bytes_f16", f16.total());
        row.put("bound_ms_f16", f16.total() / (copyGBps * 1e6));
        return row;
    }

    private void runRow(DeviceModel weights, DecodePlan.Row r, Numerics numerics, Map<String, Object> row) {
        ModelConfig c = r.model().config();
        TransformerShape shape = weights.shape();
        if (r.context() > c.maxPositions()) {
            skip(row, "context " + r.context() + " exceeds the model's " + c.maxPositions() + " positions");
            return;
        }
        int blockSize = engine.blockSize();
        int blocksPerSequence = (r.context() + blockSize - 1) / blockSize;
        int blocks = r.batch() * blocksPerSequence + 1;
        long layerElements = (long) blocks * blockSize * shape.kvDim();
        int kvBytes = numerics.kvBytes();
        long kvAllocated = 2L * shape.layers() * layerElements * kvBytes;
        int partitions = engine.splitK() ? (r.context() + engine.partitionSize() - 1) / engine.partitionSize() : 1;
        long stepBytes = stepBufferBytes(shape, numerics, r.batch(), partitions)
                + LayerBuilders.allocatedBytes(r.sparsity(), shape, numerics.precision(), r.batch());
        row.put("kv_bytes_allocated", kvAllocated);
        row.put("partitions", partitions);
        if (layerElements > Integer.MAX_VALUE) {
            skip(row, "one layer's KV buffer would hold " + layerElements + " elements; kernels index it with int");
            return;
        }
        long free = backend.memoryInfo()[0];
        if (free >= 0 && kvAllocated + stepBytes + MEMORY_MARGIN > free) {
            skip(row, String.format(Locale.ROOT, "needs %.1f GB of KV cache and %.1f GB of step buffers%s, %.1f GB free besides the weights",
                    kvAllocated / 1e9, stepBytes / 1e9, r.sparsity().dense() ? "" : " and routers", free / 1e9));
            return;
        }
        LayerBuilders builders = null;
        KvCache cache = new KvCache(backend, shape, numerics.precision().kvCache(), blockSize, blocks, r.batch(), r.context());
        StepBuffers step = null;
        try {
            for (int i = 0; i < r.batch(); i++) cache.reserve(cache.acquireRow(), r.context());
            cache.sync();
            for (int l = 0; l < shape.layers(); l++) {
                deviceRandom.fill(cache.buffers().keys().get(l));
                deviceRandom.fill(cache.buffers().values().get(l));
            }
            step = StepBuffers.allocate(backend, shape, numerics.precision(), r.batch(), r.batch(), partitions);
            writeStepInputs(step, c, r);
            try {
                builders = LayerBuilders.create(backend, deviceRandom, r.sparsity(), shape, numerics.precision(), weights.buffers(), cache.buffers(),
                        step, engine.partitionSize(), r.batch());
            } catch (UnsupportedOperationException e) {
                row.put("status", Status.UNAVAILABLE.json());
                row.put("reason", oneLine(e));
                return;
            }
            LayerGraphBuilder builder = builders.builder();
            if (!r.sparsity().dense()) row.put("mlp_sparse", LayerBuilders.sparseMlp(r.sparsity(), shape, r.batch()));
            StepShape stepShape = new StepShape(StepShape.Kind.DECODE, r.batch(), r.batch(), partitions);
            long t0 = System.nanoTime();
            List<TaskGraph> graphs = builder.build(stepShape);
            Executable captured = backend.capture(backend.compile(graphs));
            backend.synchronize();
            row.put("compile_and_capture_s", (System.nanoTime() - t0) / 1e9);
            row.put("tasks", graphs.stream().mapToInt(g -> g.tasks().size()).sum());

            double[] ms = time(captured);
            double median = median(ms);
            row.put("status", Status.OK.json());
            row.put("step_ms", median);
            row.put("step_ms_min", Arrays.stream(ms).min().orElseThrow());
            row.put("step_ms_max", Arrays.stream(ms).max().orElseThrow());
            row.put("tokens_per_s", r.batch() * 1000.0 / median);
            row.put("fraction_of_bound", (double) row.get("bound_ms") / median);
            row.put("achieved_gb_per_s", ((Number) row.get("bytes")).doubleValue() / (median * 1e6));
            row.put("logits_finite", logitsFinite(step, c, r.batch()));
            if (!r.sparsity().dense()) row.put("selections", builders.checkSelections(r.batch()));
            if (r.breakdown()) row.put("breakdown", breakdown(builders, stepShape, median));
        } finally {
            if (builders != null) builders.close();
            if (step != null) step.free(backend);
            cache.close();
        }
    }

    /** Writes the JSON so far (after every row, so a run cut short keeps what it measured). */
    private void save(Map<String, Object> result) {
        try {
            Files.writeString(options.json(), Json.writePretty(result) + "\n");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot write " + options.json(), e);
        }
    }

    private static void skip(Map<String, Object> row, String reason) {
        row.put("status", Status.SKIPPED.json());
        row.put("reason", reason);
    }

    /** Bytes {@link StepBuffers#allocate} takes, for the memory check. */
    private static long stepBufferBytes(TransformerShape s, Numerics n, int batch, int partitions) {
        long act = n.precision().activations().bytes();
        long t = batch;
        long floats = t * (s.hidden() + s.qkvDim() + s.mlpInDim() + s.hidden() + s.vocab())
                + (partitions > 1 ? t * partitions * (s.qDim() + 2L * s.heads()) : 2);
        long acts = t * (s.hidden() + s.qDim() + s.ffn() + s.hidden());
        return 4 * floats + act * acts + 16 * t;
    }

    /** Each sequence decodes one token at position {@code context - 1}; the cache holds random K and V before it. */
    private void writeStepInputs(StepBuffers step, ModelConfig c, DecodePlan.Row r) {
        int b = r.batch();
        IntArray tokens = new IntArray(b), positions = new IntArray(b), rows = new IntArray(b), last = new IntArray(b);
        for (int i = 0; i < b; i++) {
            tokens.set(i, random.nextInt(c.vocabSize()));
            positions.set(i, r.context() - 1);
            rows.set(i, i); // a fresh cache hands out rows 0, 1, ... in order
            last.set(i, i);
        }
        backend.write(step.tokenIds(), 0, tokens.segment(), b);
        backend.write(step.positions(), 0, positions.segment(), b);
        backend.write(step.tokenSeq(), 0, rows.segment(), b);
        backend.write(step.lastRows(), 0, last.segment(), b);
    }

    /** Whether the first and last sequence's logits are all finite (random weights keep them so): the step computed something. */
    private boolean logitsFinite(StepBuffers step, ModelConfig c, int batch) {
        int vocab = c.vocabSize();
        FloatArray logits = new FloatArray(vocab);
        for (int s : new int[] {0, batch - 1}) {
            backend.read(step.logits(), (long) s * vocab, logits.segment(), vocab);
            for (int i = 0; i < vocab; i++) if (!Float.isFinite(logits.get(i))) return false;
        }
        return true;
    }

    /** Event-timed runs after warm-up, in milliseconds. */
    private double[] time(Executable run) {
        for (int i = 0; i < options.warmup(); i++) run.run();
        backend.synchronize();
        double[] ms = new double[options.repeats()];
        for (int i = 0; i < ms.length; i++) ms[i] = backend.time(run::run);
        return ms;
    }

    /** Device-to-device copy bandwidth, counting bytes read and written (1 GiB each way on a GPU, 64 MiB in the JVM). */
    private double copyBandwidth() {
        long bytes = backend.name().equals("jvm") ? 64L << 20 : 1L << 30;
        long n = bytes / 2;
        Buffer<HalfArray> src = backend.allocate(ElementType.F16, n, "copy src");
        Buffer<HalfArray> dst = backend.allocate(ElementType.F16, n, "copy dst");
        try {
            deviceRandom.fill(src);
            TaskGraph g = new TaskGraph("copy");
            g.copy(src, 0, dst, 0, n);
            double ms = median(time(backend.compile(g)));
            return 2.0 * bytes / (ms * 1e6);
        } finally {
            backend.free(src);
            backend.free(dst);
        }
    }

    // ---- what dominates: each task of one layer timed alone

    /**
     * Times one layer's tasks one at a time (each launched alone, so each time includes a launch;
     * a few microseconds), the embedding and head graphs, and one whole layer captured, and scales
     * the layer to all layers. Attention kernels are those of {@code polar.tornado.kernels.Attention}.
     */
    private Map<String, Object> breakdown(LayerBuilders builders, StepShape s, double stepMs) {
        List<TaskGraph> graphs = builders.builder().build(s);
        int layers = graphs.size() - 2;
        int layer = layers > 1 ? 1 : 0; // layer 1: where Polar's selective attention applies
        TaskGraph layerGraph = graphs.get(1 + layer);
        List<Map<String, Object>> tasks = new ArrayList<>();
        double sum = 0, attention = 0, gemm = 0, router = 0;
        for (Task task : layerGraph.tasks()) {
            TaskGraph one = new TaskGraph("one task");
            one.add(task);
            double ms = median(time(backend.compile(one)));
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("task", describe(task));
            t.put("ms", ms);
            tasks.add(t);
            sum += ms;
            if (task instanceof KernelTask k && ATTENTION_KERNELS.contains(k.kernel().owner().getSimpleName())) attention += ms;
            if (task instanceof GemmTask) gemm += ms;
            if (isRouterTask(task, builders)) router += ms;
        }
        for (Map<String, Object> t : tasks) t.put("share_of_layer", (double) t.get("ms") / sum);
        double layerCaptured = median(time(backend.capture(backend.compile(layerGraph))));
        double embedding = median(time(backend.compile(graphs.getFirst())));
        double head = median(time(backend.compile(graphs.getLast())));
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("layer", layer);
        b.put("tasks", tasks);
        b.put("layer_tasks_sum_ms", sum);
        b.put("layer_captured_ms", layerCaptured);
        b.put("embedding_ms", embedding);
        b.put("head_ms", head);
        b.put("attention_share_of_layer", attention / sum);
        b.put("gemm_share_of_layer", gemm / sum);
        b.put("router_share_of_layer", router / sum);
        b.put("estimated_step_ms", layers * layerCaptured + embedding + head);
        b.put("attention_share_of_step", layers * attention * (layerCaptured / sum) / stepMs);
        Map<String, Object> top = tasks.stream().max((x, y) -> Double.compare((double) x.get("ms"), (double) y.get("ms"))).orElseThrow();
        b.put("dominant_task", top.get("task"));
        return b;
    }

    /** Owners of the attention kernels (dense and selective; their split-K combines included). */
    private static final Set<String> ATTENTION_KERNELS = Set.of("Attention", "SelectiveAttention");

    /** Polar's routing work: router GEMMs, top-k, the MLP scores' batch sum (or the fused up-projection and sum, {@code MlpRouterScores}). */
    private static boolean isRouterTask(Task task, LayerBuilders builders) {
        return switch (task) {
            case GemmTask g -> builders.isRouterWeight(g.b());
            case KernelTask k -> Set.of("TopK", "MlpRouterScores").contains(k.kernel().owner().getSimpleName()) || k.kernel().name().equals("batchReluSum");
            default -> false;
        };
    }

    private static String describe(Task task) {
        return switch (task) {
            case KernelTask k -> k.kernel() + " " + k.grid();
            case GemmTask g -> String.format(Locale.ROOT, "gemm %dx%dx%d %s*%s->%s%s", g.m(), g.n(), g.k(), g.a().type(), g.b().type(), g.c().type(),
                    g.beta() != 0 ? " (+C)" : "");
            case CopyTask c -> "copy " + c.count() + " x " + c.src().type();
        };
    }

    // ---- output

    private String summary(Map<String, Object> row) {
        String what = String.format(Locale.ROOT, "%-10s b=%-4s ctx=%-5s %-6s", row.get("model"), row.get("batch"), row.get("context"), row.get("sparsity"));
        if (!Status.OK.json().equals(row.get("status"))) return what + " " + row.get("status") + ": " + row.get("reason");
        String s = String.format(Locale.ROOT, "%s %9.3f ms %10.1f tok/s  %.2f of bound (%.3f ms)", what, (double) row.get("step_ms"),
                (double) row.get("tokens_per_s"), (double) row.get("fraction_of_bound"), (double) row.get("bound_ms"));
        if (row.get("selections") instanceof Map<?, ?> sel) {
            List<String> parts = new ArrayList<>();
            if (sel.containsKey("units")) parts.add(String.format(Locale.ROOT, "%s of %s units per sequence (%s distinct sets)",
                    sel.get("heads_per_sequence"), sel.get("units"), sel.get("distinct_head_sets")));
            if (sel.containsKey("ffn")) parts.add(sel.get("neurons") + " of " + sel.get("ffn") + " neurons");
            s += "\n      router selections (valid): " + String.join("; ", parts);
        }
        if (row.get("breakdown") instanceof Map<?, ?> b) {
            s += String.format(Locale.ROOT, "%n      breakdown: attention %.0f%% of a layer, GEMMs %.0f%%, routers %.0f%%; slowest task: %s",
                    100 * (double) b.get("attention_share_of_layer"), 100 * (double) b.get("gemm_share_of_layer"),
                    100 * (double) b.get("router_share_of_layer"), b.get("dominant_task"));
        }
        return s;
    }

    private void printTable(Map<String, Object> result) {
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> rows = (List<Map<String, Object>>) result.get("rows");
        out.println();
        out.printf(Locale.ROOT, "DecodeBench: %s, copy %.0f GB/s; medians of %d event-timed step replays after %d warm-ups%n",
                result.get("device"), copyGBps, options.repeats(), options.warmup());
        out.printf("%-11s %5s %6s %-27s %-9s %10s %11s %10s %9s  %s%n", "model", "batch", "ctx", "sparsity", "types", "step ms", "tokens/s", "bound ms", "of bound", "status");
        for (Map<String, Object> row : rows) {
            boolean ok = Status.OK.json().equals(row.get("status"));
            Sparsity sp = new Sparsity((double) row.get("heads_density"), (double) row.get("mlp_density"));
            String types = row.get("weights_type") + "/" + row.get("kv_type");
            out.printf(Locale.ROOT, "%-11s %5d %6d %-27s %-9s %10s %11s %10.3f %9s  %s%n", row.get("model"), row.get("batch"), row.get("context"),
                    sp.label(), types, ok ? fmt("%.3f", row.get("step_ms")) : "-", ok ? fmt("%.1f", row.get("tokens_per_s")) : "-",
                    (double) row.get("bound_ms"), ok ? fmt("%.2f", row.get("fraction_of_bound")) : "-",
                    ok ? "ok" : row.get("status") + ": " + row.get("reason"));
        }
    }

    private static String fmt(String f, Object v) {
        return String.format(Locale.ROOT, f, v);
    }

    static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    static String oneLine(Throwable e) {
        String m = e.getMessage();
        if (m == null || m.isBlank()) m = e.getClass().getSimpleName();
        else m = e.getClass().getSimpleName() + ": " + m;
        m = m.strip().replace('\n', ' ');
        return m.length() > 400 ? m.substring(0, 400) + "..." : m;
    }
}
