package polar.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import polar.engine.ContextOverflowException;
import polar.engine.EmbeddedModel;
import polar.engine.BatchEngine;
import polar.engine.EngineOptions;
import polar.engine.Generator;
import polar.engine.parallel.TensorParallel;
import polar.engine.sparsity.PolarSparsity;
import polar.formats.Json;
import polar.model.Model;
import polar.model.ModelLoader;
import polar.model.Tokenizer;
import polar.runtime.Backends;

/**
 * {@code polar generate}: continues a prompt. Text output streams tokens as they come and ends
 * with a summary line on stderr; JSON output is {@code {"prompt_ids":[...],"generated_ids":[...],"text":"..."}}.
 */
final class GenerateCommand implements Command {
    private static final Options.Spec MODEL = new Options.Spec(List.of("-m", "--model"), true,
            "model folder (Hugging Face) or .gguf file; default: the embedded " + EmbeddedModel.NAME);
    private static final Options.Spec PROMPT = new Options.Spec(List.of("-p", "--prompt"), true, "text to continue (required)");
    private static final Options.Spec TOKENS = new Options.Spec(List.of("-n", "--max-tokens"), true, "tokens to generate at most (default 128)");
    private static final Options.Spec TEMPERATURE = new Options.Spec(List.of("--temperature"), true, "0 is greedy (default 0)");
    private static final Options.Spec TOP_P = new Options.Spec(List.of("--top-p"), true, "nucleus sampling mass in (0, 1] (default 1)");
    private static final Options.Spec TOP_K = new Options.Spec(List.of("--top-k"), true, "sample among the k most likely tokens; 0: all (default 0)");
    private static final Options.Spec SEED = new Options.Spec(List.of("--seed"), true, "random seed for sampling (default 42)");
    private static final Options.Spec BACKEND = new Options.Spec(List.of("--backend"), true, "jvm, opencl, cuda or auto (default auto)");
    private static final Options.Spec DEVICE = new Options.Spec(List.of("--device"), true, "device index of the backend (default 0)");
    private static final Options.Spec FORMAT = new Options.Spec(List.of("--format"), true, "text or json (default text)");
    private static final Options.Spec HELP = new Options.Spec(List.of("-h", "--help"), false, "this help");
    private static final List<Options.Spec> SPECS = List.of(MODEL, PROMPT, TOKENS, TEMPERATURE, TOP_P, TOP_K, SEED, BACKEND, DEVICE, TensorParallelFlag.SPEC,
            SparsityFlags.SPARSITY, SparsityFlags.ROUTERS, SparsityFlags.DENSITY, SparsityFlags.MLP, FORMAT, HELP);

    private final PrintStream out;
    private final PrintStream err;

    GenerateCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public String name() { return "generate"; }

    @Override
    public String description() { return "continue a prompt (streams text, or prints JSON)"; }

    @Override
    public int run(String[] args) throws Exception {
        Options o = Options.parse(args, SPECS);
        if (o.has(HELP.key())) {
            out.println("usage: polar generate -p TEXT [options]");
            out.print(Options.help(SPECS));
            return Polar.OK;
        }
        if (!o.has(PROMPT.key())) throw new UsageException("a prompt is required (-p TEXT)");
        String prompt = o.string(PROMPT.key(), "");
        int maxTokens = o.integer(TOKENS.key(), 128, 0);
        Generator.Settings settings = new Generator.Settings(maxTokens, o.number(TEMPERATURE.key(), 0f, 0f, 100f),
                o.integer(TOP_K.key(), 0, 0), o.number(TOP_P.key(), 1f, Float.MIN_VALUE, 1f), o.longValue(SEED.key(), 42));
        String backendName = o.choice(BACKEND.key(), Backends.AUTO, List.of("jvm", "opencl", "cuda", Backends.AUTO));
        int device = o.integer(DEVICE.key(), 0, 0);
        int ranks = TensorParallelFlag.ranks(o);
        boolean json = o.choice(FORMAT.key(), "text", List.of("text", "json")).equals("json");

        long t0 = System.nanoTime();
        Path path = o.has(MODEL.key()) ? Path.of(o.string(MODEL.key(), "")) : EmbeddedModel.path();
        Model model = ModelLoader.load(path);
        PolarSparsity sparsity = SparsityFlags.resolve(o, path, model.config());
        Tokenizer tokenizer = model.tokenizer();
        int[] ids = tokenizer.encode(prompt, true);
        int context = model.config().maxPositions();
        if (ids.length > context) {
            throw new ContextOverflowException("the prompt has " + ids.length + " tokens, more than the model's context of " + context);
        }
        if (ids.length == 0) throw new UsageException("the prompt is empty and the model adds no BOS token");
        EngineOptions options = EngineOptions.defaults().withMaxSequences(1).withMaxContext(Math.min(context, ids.length + Math.max(1, maxTokens)))
                .withSparsity(sparsity);
        try (BatchEngine engine = TensorParallel.open(backendName, device, ranks, model, options)) {
            double loadSeconds = (System.nanoTime() - t0) / 1e9;
            Generator generator = new Generator(engine);
            Tokenizer.StreamDecoder stream = tokenizer.streamDecoder();
            Generator.TokenListener listener = json ? (s, token) -> {} : (s, token) -> {
                out.print(stream.next(token));
                out.flush();
            };
            Generator.Result result = generator.generate(List.of(ids), settings, listener).getFirst();
            if (json) {
                Map<String, Object> doc = new LinkedHashMap<>();
                doc.put("prompt_ids", toList(result.prompt()));
                doc.put("generated_ids", toList(result.generated()));
                doc.put("text", tokenizer.decode(result.generated()));
                out.println(Json.write(doc));
            } else {
                out.println(stream.flush());
                Generator.Stats st = generator.lastStats();
                err.printf("polar: %s on %s: load %.2f s, compile %.2f s, prefill %d tokens %.1f tokens/s, decode %d tokens %.1f tokens/s (%s)%n",
                        path.getFileName(), engine, loadSeconds, st.compileNanos() / 1e9, st.promptTokens(), st.prefillTokensPerSecond(),
                        st.generatedTokens(), st.decodeTokensPerSecond(), result.stop().name().toLowerCase().replace('_', ' '));
            }
            return Polar.OK;
        }
    }

    private static List<Integer> toList(int[] ids) {
        return java.util.Arrays.stream(ids).boxed().toList();
    }
}
