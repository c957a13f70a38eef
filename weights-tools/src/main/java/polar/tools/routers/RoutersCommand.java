package polar.tools.routers;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import polar.cli.Command;
import polar.cli.UsageException;
import polar.engine.sparsity.MlpScore;
import polar.engine.sparsity.MlpTable;
import polar.engine.sparsity.RouterWeights;
import polar.engine.sparsity.RouterWeights.AttentionRouter;
import polar.engine.sparsity.RouterWeights.MlpRouter;
import polar.engine.sparsity.SparsityPlan;
import polar.formats.FormatException;
import polar.formats.Json;
import polar.tools.Args;
import polar.tools.Progress;

/**
 * {@code polar routers collect|train|calibrate|eval}: the Polar Sparsity router workflow.
 * <pre>
 * polar routers collect   -m MODEL --text FILE --data DIR [--tokens N] [--window 256] [--backend host|jvm|cuda|opencl]
 * polar routers train     --data DIR [--out DIR] [--attn-density D] [--rank R] [--only attention|mlp] ...
 * polar routers calibrate --data DIR [--routers DIR] [--tile 32] [--recall 0.99] [--batch-sizes 1,2,4,...]
 * polar routers eval      --data DIR [--routers DIR] [--attn-density D] [--all] [--format text|json]
 * </pre>
 * Routers and the plan are written as {@value RouterWeights#FILE_NAME} and {@value SparsityPlan#FILE_NAME}
 * in the output folder (default: the model's folder recorded in the data set).
 */
public final class RoutersCommand implements Command {

    private final PrintStream out, err;
    private final ActivationSource.Opener opener;

    public RoutersCommand() { this(System.out, System.err, DEFAULT_OPENER); }

    /** {@code --backend host} (default): the plain-Java forward pass; any other name: the engine on that backend. */
    static final ActivationSource.Opener DEFAULT_OPENER = (model, backend, window) ->
            (backend.equals("host") ? HostActivationSource.OPENER : EngineActivationSource.OPENER).open(model, backend, window);

    public RoutersCommand(PrintStream out, PrintStream err, ActivationSource.Opener opener) {
        this.out = out;
        this.err = err;
        this.opener = opener;
    }

    @Override
    public String name() { return "routers"; }

    @Override
    public String description() { return "collect router data, train, calibrate and evaluate Polar Sparsity routers"; }

    static final String USAGE = """
            usage: polar routers <collect|train|calibrate|eval> [flags]
              collect   -m MODEL --text FILE --data DIR [--tokens 65536] [--window 256] [--backend host|jvm|cuda|opencl]
                        run the model densely over FILE and record router inputs and labels into DIR
              train     --data DIR [--out DIR] [--attn-density D] [--rank R] [--only attention|mlp]
                        [--epochs N] [--batch N] [--lr X] [--weight-decay X] [--patience N]
                        [--pos-weight-power P] [--holdout 0.1] [--max-rows N] [--threads T] [--seed S] [--quiet]
                        [--label norm|out-norm] (rank units by attention-output norm, or by norm after W_o)
                        [--attn-inner N] (two-layer attention routers, hidden -> N -> units with ReLU; default 0: linear)
                        train routers; writes polar-routers.safetensors and polar-sparsity.json to --out
              calibrate --data DIR [--routers DIR] [--tile 32] [--recall 0.99] [--batch-sizes 1,2,4,...]
                        [--score softplus_sum|relu_sum] [--samples 64] [--dense-above 0.8] [--holdout 0.1]
                        [--max-rows N] [--threads T]
                        find the MLP top-k per batch size; updates polar-sparsity.json
              eval      --data DIR [--routers DIR] [--attn-density D] [--all] [--holdout 0.1] [--max-rows N]
                        [--samples 64] [--format text|json]
                        recall and precision per layer on the held-out rows (--all: every row)
              perplexity -m MODEL --text FILE [--select router|oracle|oracle-projected|dense] [--routers DIR]
                        [--attn-density 0.25,0.5,...] [--window 256] [--max-tokens N] [--threads T]
                        teacher-forced perplexity on the plain-Java forward pass with attention units chosen by
                        the routers or an oracle (attention only; the engine's `polar eval perplexity` is the reference)
            """;

    @Override
    public int run(String[] args) {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help")) {
            (args.length == 0 ? err : out).print(USAGE);
            return args.length == 0 ? 2 : 0;
        }
        String sub = args[0];
        Args a;
        try {
            a = new Args(java.util.Arrays.copyOfRange(args, 1, args.length), Set.of("--all", "--quiet"));
        } catch (UsageException e) {
            err.println("polar routers " + sub + ": " + e.getMessage());
            return 2;
        }
        try {
            switch (sub) {
                case "collect" -> collect(a);
                case "train" -> train(a);
                case "calibrate" -> calibrate(a);
                case "eval" -> eval(a);
                case "perplexity" -> perplexity(a);
                default -> {
                    err.println("polar routers: unknown command '" + sub + "'");
                    err.print(USAGE);
                    return 2;
                }
            }
            return 0;
        } catch (UsageException e) {
            err.println("polar routers " + sub + ": " + e.getMessage());
            return 2;
        } catch (IllegalArgumentException | IllegalStateException | UncheckedIOException | FormatException e) {
            err.println("polar routers " + sub + ": " + e.getMessage());
            return 1;
        }
    }

    private void collect(Args a) {
        String model = a.required("-m");
        Path text = Path.of(a.required("--text"));
        Path data = Path.of(a.required("--data"));
        long tokens = a.integer("--tokens", 65536);
        int window = a.integer("--window", 256);
        String backend = a.string("--backend", "host");
        a.rejectUnknown();
        String corpus;
        try {
            corpus = Files.readString(text);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + text + ": " + e.getMessage(), e);
        }
        try (ActivationSource source = opener.open(model, backend, window)) {
            float[][] projections = new float[source.shape().layers()][];
            for (int l = 0; l < projections.length; l++) projections[l] = source.outputProjection(l);
            boolean withOutNorms = java.util.Arrays.stream(projections).allMatch(java.util.Objects::nonNull);
            try (RouterDataCollector collector = new RouterDataCollector(data, source.shape(), source.modelName(), text.toString(),
                    withOutNorms ? projections : null)) {
                long n = RouterCollection.collect(source, corpus, window, tokens, collector, new Progress("collect " + data.getFileName(), tokens));
                out.printf("recorded %d positions x %d layers into %s%n", n, source.shape().layers(), data);
            }
        }
    }

    private static int threads(Args a) { return a.integer("--threads", Workers.defaultThreads()); }

    private static Path outputDir(Args a, String flag, RouterDataset data) {
        Path dir = a.path(flag, null);
        if (dir != null) return dir;
        if (data.manifest().model().isEmpty()) throw new IllegalArgumentException("give " + flag + " (the data set names no model folder)");
        return Path.of(data.manifest().model());
    }

    private void train(Args a) {
        RouterDataset data = RouterDataset.open(Path.of(a.required("--data")));
        RouterDataShape shape = data.shape();
        Path dir = outputDir(a, "--out", data);
        RouterTraining.Options defaults = RouterTraining.Options.defaults(shape);
        String only = a.string("--only", "");
        if (!only.isEmpty() && !only.equals("attention") && !only.equals("mlp"))
            throw new IllegalArgumentException("--only takes attention or mlp, got '" + only + "'");
        TrainConfig attention = overrides(a, defaults.attention()), mlp = overrides(a, defaults.mlp());
        RouterTraining.Options opt = new RouterTraining.Options(a.integer("--rank", defaults.rank()), attention, mlp,
                a.number("--holdout", RouterTraining.DEFAULT_HOLDOUT), a.integer("--max-rows", 0),
                !only.equals("mlp"), shape.reluMlp() && !only.equals("attention"), a.has("--quiet"), UnitLabel.of(a.string("--label", UnitLabel.NORM.flag)),
                a.integer("--attn-inner", 0));
        Path routerFile = dir.resolve(RouterWeights.FILE_NAME), planFile = dir.resolve(SparsityPlan.FILE_NAME);
        // Start from the plan already there (its densities; its MLP table while the MLP routers stay), else the defaults.
        SparsityPlan plan = SparsityPlan.defaults(shape.layers(), shape.attentionUnit(), shape.units());
        if (Files.exists(planFile)) {
            SparsityPlan old = SparsityPlan.load(planFile);
            if (old.layers() == plan.layers() && old.units() == plan.units()) plan = old;
        }
        if (a.has("--attn-density")) plan = plan.withAttentionDensity(a.number("--attn-density", 0));
        if (opt.trainMlp()) plan = plan.withMlp(null); // new MLP routers need a new calibration
        int threads = threads(a);
        a.rejectUnknown();

        RouterTraining.Result result;
        try (Workers w = new Workers(threads)) {
            result = RouterTraining.train(data, plan, opt, w);
        }
        RouterWeights routers = result.routers();
        if (!only.isEmpty() && Files.exists(routerFile)) routers = merge(RouterWeights.load(routerFile), routers, only.equals("attention"));
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir + ": " + e.getMessage(), e);
        }
        RouterFiles.save(routers, routerFile);
        plan.save(planFile);
        out.printf("%-6s %-14s %-8s %-14s %-8s%n", "layer", "attn recall", "epochs", "mlp F1", "epochs");
        for (RouterTraining.LayerResult r : result.layers()) {
            out.printf("%-6d %-14s %-8s %-14s %-8s%n", r.layer(), fmt(r.attnRecall()), r.attnEpochs() == 0 ? "-" : r.attnEpochs(),
                    fmt(r.mlpF1()), r.mlpEpochs() == 0 ? "-" : r.mlpEpochs());
        }
        out.println("wrote " + routerFile + " and " + planFile + (shape.reluMlp() && opt.trainMlp() ? " (MLP dense until `polar routers calibrate`)" : ""));
    }

    private static String fmt(double v) { return Double.isNaN(v) ? "-" : String.format("%.4f", v); }

    /** Training flags shared by both routers; unset ones keep each router's defaults. */
    private static TrainConfig overrides(Args a, TrainConfig d) {
        return new TrainConfig(a.integer("--epochs", d.maxEpochs()), a.integer("--batch", d.batchSize()), (float) a.number("--lr", d.lr()),
                (float) a.number("--weight-decay", d.weightDecay()), d.beta1(), d.beta2(), d.eps(), a.integer("--patience", d.patience()),
                a.number("--pos-weight-power", d.posWeightPower()), d.maxPosWeight(), a.integer("--seed", (int) d.seed()));
    }

    /** The old routers with the newly trained kind replaced. */
    private static RouterWeights merge(RouterWeights old, RouterWeights fresh, boolean freshAttention) {
        int layers = Math.max(old.layers(), fresh.layers());
        AttentionRouter[] attention = new AttentionRouter[layers];
        MlpRouter[] mlp = new MlpRouter[layers];
        for (int l = 0; l < layers; l++) {
            attention[l] = freshAttention ? fresh.attention(l) : old.attention(l);
            mlp[l] = freshAttention ? old.mlp(l) : fresh.mlp(l);
        }
        return new RouterWeights(attention, mlp);
    }

    private void calibrate(Args a) {
        RouterDataset data = RouterDataset.open(Path.of(a.required("--data")));
        if (!data.shape().reluMlp()) throw new IllegalArgumentException("the model's MLP is not ReLU: there is no MLP sparsity to calibrate");
        Path dir = outputDir(a, "--routers", data);
        MlpCalibrator.Config d = MlpCalibrator.Config.defaults(32);
        String scoreName = a.string("--score", d.score().jsonName);
        MlpScore score = MlpScore.fromJson(scoreName);
        if (score == null) throw new IllegalArgumentException("--score takes relu_sum or softplus_sum, got '" + scoreName + "'");
        MlpCalibrator.Config cfg = new MlpCalibrator.Config(a.integers("--batch-sizes", d.batchSizes()), a.integer("--samples", d.samples()),
                a.number("--recall", d.recall()), a.integer("--tile", d.tile()), a.number("--dense-above", d.denseAbove()), score, a.integer("--seed", 1));
        RouterTraining.Rows rows = RouterTraining.Rows.of(data.rows(), a.integer("--max-rows", 0), a.number("--holdout", RouterTraining.DEFAULT_HOLDOUT));
        int threads = threads(a);
        a.rejectUnknown();
        Path planFile = dir.resolve(SparsityPlan.FILE_NAME);
        SparsityPlan plan = SparsityPlan.load(planFile);
        RouterWeights routers = RouterWeights.load(dir.resolve(RouterWeights.FILE_NAME));
        MlpTable table;
        try (Workers w = new Workers(threads)) {
            table = MlpCalibrator.calibrate(data, routers, rows.trainEnd(), rows.end(), cfg, w, new Progress("calibrate MLP k(B)", data.shape().layers()));
        }
        plan.withMlp(table).save(planFile);
        out.printf("MLP top-k by batch size (of %d neurons; %s; recall >= %.3f; tile %d; dense above %.0f%%):%n", table.ffn(), table.score().jsonName,
                table.recall(), table.tile(), 100 * table.denseAbove());
        StringBuilder head = new StringBuilder(String.format("%-6s", "layer"));
        for (int b : table.batchSizes()) head.append(String.format("%6s", "B=" + b));
        out.println(head);
        for (int l = 0; l < table.layers(); l++) {
            StringBuilder row = new StringBuilder(String.format("%-6d", l));
            for (int i = 0; i < table.batchSizes().length; i++) {
                int k = table.k()[l][i];
                row.append(String.format("%6s", k > table.denseAbove() * table.ffn() ? "dense" : k));
            }
            out.println(row);
        }
        out.println("updated " + planFile);
    }

    private void perplexity(Args a) {
        String modelPath = a.required("-m");
        Path text = Path.of(a.required("--text"));
        HostPerplexity.Selection selection = HostPerplexity.Selection.of(a.string("--select", "router"));
        int window = a.integer("--window", 256);
        int maxTokens = a.integer("--max-tokens", Integer.MAX_VALUE);
        Path routersDir = a.path("--routers", null);
        String densities = a.string("--attn-density", "");
        int threads = threads(a);
        a.rejectUnknown();
        polar.model.Model model;
        String corpus;
        try {
            model = polar.model.ModelLoader.load(Path.of(modelPath));
            corpus = Files.readString(text);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + e.getMessage(), e);
        }
        RouterDataShape shape = RouterDataShape.of(model.config());
        SparsityPlan plan = SparsityPlan.defaults(shape.layers(), shape.attentionUnit(), shape.units());
        RouterWeights routers = null;
        if (selection == HostPerplexity.Selection.ROUTER) {
            if (routersDir == null) throw new IllegalArgumentException("--select router needs --routers DIR");
            plan = SparsityPlan.load(routersDir.resolve(SparsityPlan.FILE_NAME));
            routers = RouterWeights.load(routersDir.resolve(RouterWeights.FILE_NAME));
        }
        int[] ids = model.tokenizer().encode(corpus, true);
        if (ids.length > maxTokens) ids = java.util.Arrays.copyOf(ids, maxTokens);
        List<int[]> windows = HostPerplexity.windows(ids, window);
        List<Double> list = new java.util.ArrayList<>();
        if (densities.isEmpty()) list.add(plan.attnDensity(Math.min(1, plan.layers() - 1)));
        else for (String d : densities.split(",")) list.add(Double.parseDouble(d.strip()));
        try (HostActivationSource source = new HostActivationSource(model, 8, window, new Workers(threads))) {
            for (double d : list) {
                SparsityPlan p = plan.withAttentionDensity(d);
                double ppl = HostPerplexity.perplexity(source, windows, 8, selection, p, routers);
                out.printf("%s density %.4f (k=%d of %d): perplexity %.4f over %d windows of up to %d%n", selection.flag, d, p.attnK(1), p.units(),
                        ppl, windows.size(), window);
            }
        }
    }

    private void eval(Args a) {
        RouterDataset data = RouterDataset.open(Path.of(a.required("--data")));
        Path dir = outputDir(a, "--routers", data);
        SparsityPlan plan = SparsityPlan.load(dir.resolve(SparsityPlan.FILE_NAME));
        if (a.has("--attn-density")) plan = plan.withAttentionDensity(a.number("--attn-density", 0));
        RouterTraining.Rows rows = a.has("--all") ? new RouterTraining.Rows(0, data.rows())
                : RouterTraining.Rows.of(data.rows(), a.integer("--max-rows", 0), a.number("--holdout", RouterTraining.DEFAULT_HOLDOUT));
        int samples = a.integer("--samples", 64);
        String format = a.string("--format", "text");
        if (!format.equals("text") && !format.equals("json")) throw new IllegalArgumentException("--format takes text or json, got '" + format + "'");
        int threads = threads(a);
        a.rejectUnknown();
        RouterWeights routers = RouterWeights.load(dir.resolve(RouterWeights.FILE_NAME));
        List<RouterEvaluation.LayerEval> evals;
        try (Workers w = new Workers(threads)) {
            evals = RouterEvaluation.evaluate(data, routers, plan, rows.trainEnd(), rows.end(), samples, w,
                    format.equals("json") ? Progress.silent("eval", 1) : new Progress("evaluate routers", data.shape().layers()));
        }
        if (format.equals("json")) {
            Map<String, Object> root = new LinkedHashMap<>();
            root.put("rows", rows.end() - rows.trainEnd());
            root.put("layers", RouterEvaluation.toJson(evals));
            out.print(Json.writePretty(root));
        } else {
            out.print(RouterEvaluation.table(evals));
        }
    }
}
