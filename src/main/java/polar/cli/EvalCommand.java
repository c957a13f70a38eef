package polar.cli;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import polar.engine.BatchEngine;
import polar.engine.EngineOptions;
import polar.engine.Sequence;
import polar.engine.parallel.TensorParallel;
import polar.engine.sparsity.PolarSparsity;
import polar.formats.Json;
import polar.model.Model;
import polar.model.ModelLoader;
import polar.runtime.Backends;

/**
 * {@code polar eval perplexity}: perplexity of a model on a text file, over consecutive windows of
 * its tokens. Every window is evaluated by <b>teacher-forced decode</b>: its first token is
 * prefilled, then each known next token is fed as a one-token decode step, and the log-probability
 * of that token is read from the previous step's logits. Polar Sparsity applies to decode steps
 * only, so this is how {@code --sparsity polar} is measured; dense runs the same way, so the two
 * numbers compare like for like. A window's first token is fed alone, and the engine runs any
 * one-token step as a decode step, so with {@code --sparsity polar} its attention is sparse too.
 * Windows run as one batch (up to 8 sequences per step). {@code --oracle} replaces the routers by
 * each token's true top-k attention units (see {@link polar.engine.sparsity.PolarSparsity}).
 */
final class EvalCommand implements Command {
    private static final Options.Spec MODEL = new Options.Spec(List.of("-m", "--model"), true, "model folder (Hugging Face) or .gguf file (required)");
    private static final Options.Spec TEXT = new Options.Spec(List.of("--text"), true, "UTF-8 text file to evaluate (required)");
    private static final Options.Spec WINDOW = new Options.Spec(List.of("--window"), true, "tokens per window (default 256)");
    private static final Options.Spec MAX_TOKENS = new Options.Spec(List.of("--max-tokens"), true, "text tokens to use at most (default: all)");
    private static final Options.Spec BACKEND = new Options.Spec(List.of("--backend"), true, "jvm, opencl, cuda or auto (default auto)");
    private static final Options.Spec DEVICE = new Options.Spec(List.of("--device"), true, "device index of the backend (default 0)");
    private static final Options.Spec FORMAT = new Options.Spec(List.of("--format"), true, "text or json (default text)");
    private static final Options.Spec HELP = new Options.Spec(List.of("-h", "--help"), false, "this help");
    private static final List<Options.Spec> SPECS = List.of(MODEL, TEXT, WINDOW, MAX_TOKENS, SparsityFlags.SPARSITY, SparsityFlags.ROUTERS,
            SparsityFlags.DENSITY, SparsityFlags.MLP, SparsityFlags.ORACLE, BACKEND, DEVICE, TensorParallelFlag.SPEC, FORMAT, HELP);
    private static final int BATCH = 8;

    private final PrintStream out;
    private final PrintStream err;

    EvalCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public String name() { return "eval"; }

    @Override
    public String description() { return "evaluate a model: eval perplexity -m MODEL --text FILE (teacher-forced decode)"; }

    @Override
    public int run(String[] args) throws Exception {
        if (args.length == 0 || !args[0].equals("perplexity")) {
            if (args.length > 0 && (args[0].equals("-h") || args[0].equals("--help"))) {
                help();
                return Polar.OK;
            }
            throw new UsageException("usage: polar eval perplexity -m MODEL --text FILE [options]");
        }
        Options o = Options.parse(Arrays.copyOfRange(args, 1, args.length), SPECS);
        if (o.has(HELP.key())) {
            help();
            return Polar.OK;
        }
        if (!o.has(MODEL.key())) throw new UsageException("a model is required (-m MODEL)");
        if (!o.has(TEXT.key())) throw new UsageException("a text file is required (--text FILE)");
        int window = o.integer(WINDOW.key(), 256, 2);
        int maxTokens = o.integer(MAX_TOKENS.key(), Integer.MAX_VALUE, 2);
        String backendName = o.choice(BACKEND.key(), Backends.AUTO, List.of("jvm", "opencl", "cuda", Backends.AUTO));
        int device = o.integer(DEVICE.key(), 0, 0);
        int ranks = TensorParallelFlag.ranks(o);
        boolean json = o.choice(FORMAT.key(), "text", List.of("text", "json")).equals("json");

        Path path = Path.of(o.string(MODEL.key(), ""));
        Model model = ModelLoader.load(path);
        PolarSparsity sparsity = SparsityFlags.resolve(o, path, model.config());
        int[] ids = model.tokenizer().encode(Files.readString(Path.of(o.string(TEXT.key(), ""))), true);
        if (ids.length > maxTokens) ids = Arrays.copyOf(ids, maxTokens);
        window = Math.min(window, model.config().maxPositions());
        List<int[]> windows = new ArrayList<>();
        for (int i = 0; i + 1 < ids.length; i += window) windows.add(Arrays.copyOfRange(ids, i, Math.min(ids.length, i + window)));
        if (windows.isEmpty()) throw new UsageException("the text has fewer than 2 tokens");

        int batch = Math.min(BATCH, windows.size());
        EngineOptions options = EngineOptions.defaults().withMaxSequences(batch).withMaxContext(window).withSparsity(sparsity);
        double nll = 0;
        long count = 0;
        long t0 = System.nanoTime();
        try (BatchEngine engine = TensorParallel.open(backendName, device, ranks, model, options)) {
            for (int from = 0; from < windows.size(); from += batch) {
                List<int[]> group = windows.subList(from, Math.min(windows.size(), from + batch));
                double[] r = teacherForced(engine, group);
                nll += r[0];
                count += (long) r[1];
            }
        }
        double ppl = Math.exp(nll / count);
        if (json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("perplexity", ppl);
            doc.put("tokens", count);
            doc.put("windows", windows.size());
            doc.put("window", window);
            doc.put("sparsity", sparsity == null ? "dense" : "polar");
            if (sparsity != null) doc.put("attn_density", sparsity.plan().attnDensity(Math.min(1, sparsity.plan().layers() - 1)));
            if (sparsity != null) doc.put("attn_selection", sparsity.oracle() ? "oracle" : "router");
            if (sparsity != null) doc.put("mlp", sparsity.plan().mlp() == null ? "dense" : "polar");
            doc.put("method", "teacher-forced decode");
            out.println(Json.write(doc));
        } else {
            out.printf("perplexity %.4f over %d tokens (%d windows of up to %d, teacher-forced decode, %s, %.1f s)%n", ppl, count, windows.size(),
                    window, sparsity == null ? "dense" : sparsity.oracle() ? "polar, oracle heads" : "polar", (System.nanoTime() - t0) / 1e9);
        }
        return Polar.OK;
    }

    /** Summed negative log-likelihood and predicted token count of a batch of windows. */
    static double[] teacherForced(BatchEngine engine, List<int[]> windows) {
        List<Sequence> seqs = new ArrayList<>();
        List<int[]> firsts = new ArrayList<>();
        for (int[] w : windows) {
            seqs.add(engine.newSequence());
            firsts.add(new int[] {w[0]});
        }
        double nll = 0;
        long count = 0;
        try {
            float[][] logits = engine.prefill(seqs, firsts);
            for (int pos = 1; ; pos++) {
                List<Sequence> live = new ArrayList<>();
                List<Integer> owners = new ArrayList<>();
                for (int i = 0; i < windows.size(); i++) {
                    if (pos < windows.get(i).length) {
                        nll -= logProb(logits[i], windows.get(i)[pos]);
                        count++;
                        if (pos + 1 < windows.get(i).length) {
                            live.add(seqs.get(i));
                            owners.add(i);
                        }
                    }
                }
                if (live.isEmpty()) break;
                int[] next = new int[live.size()];
                for (int j = 0; j < next.length; j++) next[j] = windows.get(owners.get(j))[pos];
                float[][] step = engine.decode(live, next);
                float[][] all = new float[windows.size()][];
                for (int j = 0; j < next.length; j++) all[owners.get(j)] = step[j];
                logits = all;
            }
        } finally {
            for (Sequence s : seqs) engine.release(s);
        }
        return new double[] {nll, count};
    }

    static double logProb(float[] logits, int token) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        double sum = 0;
        for (float v : logits) sum += Math.exp(v - max);
        return logits[token] - max - Math.log(sum);
    }

    private void help() {
        out.println("usage: polar eval perplexity -m MODEL --text FILE [options]");
        out.println("Perplexity by teacher-forced decode (first token prefilled, the rest fed one decode step at a time),");
        out.println("so --sparsity polar (which applies to decode steps only) is measured like for like with dense.");
        out.print(Options.help(SPECS));
    }
}
