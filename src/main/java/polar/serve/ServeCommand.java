package polar.serve;

import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import polar.cli.Command;
import polar.cli.UsageException;
import polar.engine.parallel.TensorParallel;
import polar.model.SyntheticModel;

/**
 * {@code polar serve [-m MODEL|synthetic:SHAPE] [--host 127.0.0.1] [--port 8080] [--api-key KEY] [--backend jvm|opencl|cuda] [--tensor-parallel N]
 * [--sparsity dense|polar [--routers DIR] [--attn-density D] [--mlp polar|dense]] [--max-batch N] [--context N] [--kv-blocks N]
 * [--queue N] [--prefill-chunk N] [--shutdown-grace SECONDS]}.
 * Serves until SIGINT/SIGTERM, then shuts down gracefully.
 *
 * <p>The {@link ModelLoader} opens the model as a {@link BatchModel}: {@link EngineBatchModel#load} by default.
 * {@code polar} finds this command through {@link java.util.ServiceLoader} (its no-argument constructor).
 */
public final class ServeCommand implements Command {

    /**
     * What the loader needs to open the model. {@code model} null means the embedded model, {@code backend} null
     * auto-detection; {@code maxBatch}, {@code context} and {@code kvBlocks} 0 let the loader choose.
     *
     * @param tokenizer  for a synthetic model: the model whose tokenizer it speaks (null: the embedded model)
     * @param sparsity   dense or polar
     * @param routers    with polar: the folder of the plan and routers (null: the model's folder; random ones for a synthetic model)
     * @param attnDensity with polar: attention units kept in layers 1.. (0: the plan's)
     * @param mlp        with polar: polar (the plan's MLP table) or dense
     * @param tensorParallel ranks the model is split over (1, 2, 4 or 8; {@code --tensor-parallel})
     */
    public record ModelOptions(String model, String tokenizer, String backend, int device, String sparsity, String routers,
                               double attnDensity, String mlp, int maxBatch, int context, int kvBlocks, int tensorParallel) {
        /** One rank. */
        public ModelOptions(String model, String tokenizer, String backend, int device, String sparsity, String routers,
                            double attnDensity, String mlp, int maxBatch, int context, int kvBlocks) {
            this(model, tokenizer, backend, device, sparsity, routers, attnDensity, mlp, maxBatch, context, kvBlocks, 1);
        }
    }

    /** Opens a model for serving (the engine's adapter to {@link BatchModel}). */
    @FunctionalInterface
    public interface ModelLoader {
        BatchModel load(ModelOptions options) throws IOException;
    }

    private static final String USAGE = """
            usage: polar serve [-m MODEL] [options]
              -m, --model PATH        model folder or .gguf file (default: the embedded model), or synthetic:SHAPE:
                                      random float16 weights of a known shape (llama2-7b, llama3-8b, opt-6.7b,
                                      smoke-llama, smoke-opt) for load tests
              --tokenizer PATH        with synthetic:SHAPE, the model whose tokenizer it uses (default: the embedded model)
              --host HOST             address to bind (default 127.0.0.1; 0.0.0.0 for every interface)
              --port N                port (default 8080)
              --api-key KEY           require 'Authorization: Bearer KEY' on /v1/ routes
              --backend NAME          jvm, opencl, cuda or auto (default auto)
              --device N              device index of the backend (default 0)
              --tensor-parallel N     split the model over N ranks: 1, 2, 4 or 8 (cuda: N devices from --device, NCCL; default 1)
              --sparsity MODE         dense or polar (default dense)
              --routers DIR           with polar: folder of polar-sparsity.json and polar-routers.safetensors
                                      (default: the model folder; random routers for synthetic:SHAPE)
              --attn-density D        with polar: attention units kept per sequence in layers 1.., in (0, 1] (default: the plan's)
              --mlp MODE              with polar: polar (the plan's MLP table, ReLU models) or dense (default polar)
              --max-batch N           most sequences decoded together (default 32)
              --context N             positions per sequence (default: the model's)
              --kv-blocks N           KV cache blocks (default: enough for every sequence at full context)
              --queue N               most requests waiting for admission (default 1024)
              --prefill-chunk N       prompt tokens prefilled per step (default 512)
              --max-body BYTES        largest request body (default 4194304)
              --shutdown-grace SECS   time running requests get to finish on shutdown (default 30)
            """;

    private final ModelLoader loader;
    private final PrintStream out, err;

    /** With the engine as the model. */
    public ServeCommand() { this(EngineBatchModel::load); }

    public ServeCommand(ModelLoader loader) { this(loader, System.out, System.err); }

    ServeCommand(ModelLoader loader, PrintStream out, PrintStream err) {
        this.loader = loader;
        this.out = out;
        this.err = err;
    }

    @Override
    public String name() { return "serve"; }

    @Override
    public String description() { return "serve a model over an OpenAI-compatible HTTP API with continuous batching"; }

    /** Serves until the process is told to stop; bad usage is a {@link UsageException}, a failed start an exception. */
    @Override
    public int run(String[] args) throws IOException {
        Options o = Options.parse(args);
        if (o == null) {
            out.print(USAGE);
            return 0;
        }
        Server server = start(o);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            err.println("polar serve: shutting down (up to " + o.grace.toSeconds() + " s for running requests)");
            server.shutdown(o.grace);
            stopped.countDown();
        }, "polar-serve-shutdown"));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    /** Loads the model and starts serving it. */
    Server start(Options o) throws IOException {
        BatchModel model = loader.load(new ModelOptions(o.model, o.tokenizer, o.backend, o.device, o.sparsity, o.routers, o.attnDensity,
                o.mlp != null ? o.mlp : "polar",
                o.maxBatch, o.context, o.kvBlocks, o.tensorParallel));
        Scheduler scheduler = new Scheduler(model, new Scheduler.Config(o.queue, o.prefillChunk));
        Server server;
        try {
            server = Server.start(scheduler, new Server.Config(o.host, o.port, o.apiKey, o.maxBody));
        } catch (java.net.BindException e) {
            scheduler.close(); // releases the model
            throw new IOException("cannot listen on " + o.host + ":" + o.port + ": " + e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            scheduler.close();
            throw e;
        }
        out.printf("polar serve: %s (%s, context %d, batch %d, KV %d blocks of %d) on %s/v1 (chat template: %s)%n",
                model.id(), sparsityNote(o), model.contextLength(), model.maxBatch(), model.totalBlocks(), model.blockSize(),
                server.baseUri(), server.chatTemplate().name().toLowerCase());
        return server;
    }

    private static String sparsityNote(Options o) {
        if (o.sparsity.equals("dense")) return "dense";
        return "polar sparsity: " + (o.routers != null ? "routers " + o.routers : o.model != null && SyntheticModel.isName(o.model) ? "random routers" : "the model's routers")
                + (o.attnDensity > 0 ? ", attention density " + o.attnDensity : "") + (o.mlp != null && o.mlp.equals("dense") ? ", MLP dense" : "");
    }

    /** Parsed command line. */
    static final class Options {
        String model, tokenizer, backend, sparsity = "dense", routers, mlp, apiKey;
        double attnDensity;
        String host = Server.Config.DEFAULT_HOST;
        int port = Server.Config.DEFAULT_PORT, device, tensorParallel = 1, maxBatch, context, kvBlocks, queue = Scheduler.Config.defaults().queueCapacity(),
                prefillChunk = Scheduler.Config.defaults().prefillTokensPerStep(), maxBody = Server.Config.DEFAULT_MAX_BODY;
        Duration grace = Duration.ofSeconds(30);

        /** The options, or null when help was asked for; a {@link UsageException} says what is wrong. */
        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String flag = args[i];
                if (flag.equals("-h") || flag.equals("--help")) return null;
                if (i + 1 >= args.length) throw new UsageException("missing value after " + flag);
                String v = args[++i];
                switch (flag) {
                    case "-m", "--model" -> o.model = v;
                    case "--host" -> o.host = v;
                    case "--port" -> o.port = intIn(flag, v, 0, 65535);
                    case "--api-key" -> o.apiKey = v;
                    case "--backend" -> o.backend = v;
                    case "--device" -> o.device = intIn(flag, v, 0, Integer.MAX_VALUE);
                    case "--tensor-parallel" -> o.tensorParallel = oneOf(flag, v, TensorParallel.DEGREES);
                    case "--tokenizer" -> o.tokenizer = v;
                    case "--sparsity" -> o.sparsity = v;
                    case "--routers" -> o.routers = v;
                    case "--attn-density" -> o.attnDensity = densityOf(flag, v);
                    case "--mlp" -> o.mlp = v;
                    case "--max-batch" -> o.maxBatch = intIn(flag, v, 1, Integer.MAX_VALUE);
                    case "--context" -> o.context = intIn(flag, v, 1, Integer.MAX_VALUE);
                    case "--kv-blocks" -> o.kvBlocks = intIn(flag, v, 1, Integer.MAX_VALUE);
                    case "--queue" -> o.queue = intIn(flag, v, 1, Integer.MAX_VALUE);
                    case "--prefill-chunk" -> o.prefillChunk = intIn(flag, v, 1, Integer.MAX_VALUE);
                    case "--max-body" -> o.maxBody = intIn(flag, v, 1, Integer.MAX_VALUE - 1);
                    case "--shutdown-grace" -> o.grace = Duration.ofSeconds(intIn(flag, v, 0, Integer.MAX_VALUE));
                    default -> throw new UsageException("unknown option " + flag);
                }
            }
            if (!o.sparsity.equals("dense") && !o.sparsity.equals("polar"))
                throw new UsageException("--sparsity must be dense or polar, got " + o.sparsity);
            if (o.mlp != null && !o.mlp.equals("polar") && !o.mlp.equals("dense")) throw new UsageException("--mlp must be polar or dense, got " + o.mlp);
            boolean sparseFlags = o.routers != null || o.attnDensity != 0 || o.mlp != null;
            if (o.sparsity.equals("dense") && sparseFlags) throw new UsageException("--routers, --attn-density and --mlp need --sparsity polar");
            if (o.tokenizer != null && (o.model == null || !SyntheticModel.isName(o.model)))
                throw new UsageException("--tokenizer is for synthetic models (-m " + SyntheticModel.PREFIX + "SHAPE)");
            if (o.apiKey != null && o.apiKey.isBlank()) throw new UsageException("--api-key is empty");
            return o;
        }

        private static double densityOf(String flag, String value) {
            try {
                double d = Double.parseDouble(value);
                if (d > 0 && d <= 1) return d;
            } catch (NumberFormatException ignored) {
                // reported below
            }
            throw new UsageException(flag + " must be a number in (0, 1], got '" + value + "'");
        }

        private static int oneOf(String flag, String value, java.util.List<Integer> allowed) {
            int n = intIn(flag, value, 1, Integer.MAX_VALUE);
            if (!allowed.contains(n)) throw new UsageException(flag + " must be one of " + allowed + ", got " + n);
            return n;
        }

        static int intIn(String flag, String value, int min, int max) {
            try {
                int n = Integer.parseInt(value);
                if (n >= min && n <= max) return n;
            } catch (NumberFormatException ignored) {
                // reported below
            }
            throw new UsageException(flag + " must be an integer in [" + min + ", " + max + "], got '" + value + "'");
        }
    }
}
