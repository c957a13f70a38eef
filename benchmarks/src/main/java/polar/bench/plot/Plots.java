package polar.bench.plot;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import javax.imageio.ImageIO;
import polar.formats.Json;
import polar.formats.JsonFields;

/**
 * PNG plots of a decode comparison, made on a machine with {@code java.desktop} (headless) from
 * the JSON of {@link polar.bench.DecodeBench} and {@code benchmarks/peers/torch_decode.py}:
 * {@code tokens-vs-batch.png} (tokens/s against batch at one context; Polar dense, each Polar
 * sparsity setting, PyTorch, and the float16 bytes bounds of Polar's dense and sparse steps) and
 * {@code step-vs-context.png} (step time against context at one batch), one panel per model.
 *
 * <pre>java -cp 'target/polar/lib/*' polar.bench.plot.Plots --run DIR [--out DIR]
 * java -cp 'target/polar/lib/*' polar.bench.plot.Plots [--polar FILE] [--torch FILE] [--out DIR]
 *      [--batch-context 1024] [--context-batch 16]</pre>
 * {@code --run DIR}: the folder one {@code benchmarks/gpu/decode-compare.sh} run wrote ({@code $OUT}:
 * {@code polar-decode.json}, {@code torch-decode.json}); the plots go there too unless {@code --out}.
 * Without it: {@code benchmarks/results/}.
 */
public final class Plots {
    private static final Color POLAR = new Color(31, 119, 180);
    /** One color per Polar sparsity setting (dashed in the same color: that setting's bytes bound). */
    private static final Color[] SPARSE = {new Color(44, 160, 44), new Color(148, 103, 189), new Color(214, 39, 40), new Color(140, 86, 75)};
    private static final Color TORCH = new Color(255, 127, 14);
    private static final Color BOUND = new Color(120, 120, 120);
    private static final int PANEL_W = 600, PANEL_H = 440;

    private Plots() {}

    public static void main(String[] args) throws IOException {
        System.setProperty("java.awt.headless", "true");
        Path results = Path.of("benchmarks/results");
        Path run = results, polarFile = null, torchFile = null, out = null;
        int batchContext = 1024, contextBatch = 16;
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : null;
            if (v == null) throw new IllegalArgumentException(args[i] + " needs a value");
            switch (args[i]) {
                case "--run" -> run = Path.of(v);
                case "--polar" -> polarFile = Path.of(v);
                case "--torch" -> torchFile = Path.of(v);
                case "--out" -> out = Path.of(v);
                case "--batch-context" -> batchContext = Integer.parseInt(v);
                case "--context-batch" -> contextBatch = Integer.parseInt(v);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + "; usage: Plots [--run DIR] [--polar FILE] [--torch FILE] [--out DIR] [--batch-context N] [--context-batch N]");
            }
            i++;
        }
        if (polarFile == null) polarFile = run.resolve("polar-decode.json");
        if (torchFile == null) torchFile = run.resolve("torch-decode.json");
        if (out == null) out = run;
        if (!Files.isRegularFile(polarFile)) throw new IllegalArgumentException("no " + polarFile + " (Polar's DecodeBench JSON; see --run, --polar)");
        List<JsonFields> polar = rows(polarFile);
        List<JsonFields> torch = Files.exists(torchFile) ? rows(torchFile) : List.of();
        if (torch.isEmpty()) System.out.println("no peer rows (" + torchFile + "): plotting Polar alone");
        String polarDevice = device(polarFile), torchDevice = torch.isEmpty() ? polarDevice : device(torchFile);
        if (!torchDevice.startsWith(polarDevice) && !polarDevice.startsWith(torchDevice)) {
            System.out.println("warning: Polar ran on '" + polarDevice + "', the peer on '" + torchDevice + "': not one run");
        }
        Files.createDirectories(out);
        Set<String> models = new LinkedHashSet<>();
        for (JsonFields r : polar) models.add(r.string("model"));
        for (JsonFields r : torch) models.add(r.string("model"));

        int bc = batchContext, cb = contextBatch;
        write(out.resolve("tokens-vs-batch.png"), models, model -> chart(model, polar, torch,
                "%s, context %d".formatted(model, bc), "batch (sequences per step)", "tokens/s",
                r -> r.integer("context") == bc, "batch", "tokens_per_s", r -> r.integer("batch") * 1000.0 / r.number("bound_ms_f16")));
        write(out.resolve("step-vs-context.png"), models, model -> chart(model, polar, torch,
                "%s, batch %d".formatted(model, cb), "context (positions attended)", "step time (ms)",
                r -> r.integer("batch") == cb, "context", "step_ms", r -> r.number("bound_ms_f16")));
    }

    private static String device(Path file) throws IOException {
        JsonFields f = JsonFields.of(Json.parse(file), file.toString());
        return f.has("device") ? f.string("device") : "?";
    }

    private static List<JsonFields> rows(Path file) throws IOException {
        return JsonFields.of(Json.parse(file), file.toString()).objects("rows");
    }

    /**
     * One panel: Polar's dense rows, each sparse setting, the peer, and the float16 bytes bounds of
     * Polar's dense rows and of each sparse setting, over the rows {@code where} selects, x and y
     * from the named fields.
     */
    private static Chart chart(String model, List<JsonFields> polar, List<JsonFields> torch, String title, String xLabel, String yLabel,
                               Predicate<JsonFields> where, String x, String y, Function<JsonFields, Double> bound) {
        Predicate<JsonFields> mine = r -> r.string("model").equals(model) && where.test(r);
        Predicate<JsonFields> ok = r -> r.string("status").equals("ok");
        Predicate<JsonFields> dense = r -> r.number("heads_density") == 1 && r.number("mlp_density") == 1;
        Chart chart = new Chart(title, xLabel, yLabel);
        chart.add(new Chart.Series("Polar dense", POLAR, false, points(polar, mine.and(ok).and(dense), x, r -> r.number(y))));
        Map<String, List<JsonFields>> sparse = new LinkedHashMap<>();
        for (JsonFields r : polar) {
            if (mine.and(ok).and(dense.negate()).test(r)) {
                sparse.computeIfAbsent(String.format(Locale.ROOT, "Polar (heads %s, mlp %s)", trim(r.number("heads_density")), trim(r.number("mlp_density"))),
                        k -> new ArrayList<>()).add(r);
            }
        }
        chart.add(new Chart.Series("PyTorch (cuBLAS + SDPA, CUDA graph)", TORCH, false, points(torch, mine.and(ok), x, r -> r.number(y))));
        chart.add(new Chart.Series("bytes bound, float16 dense", BOUND, true,
                points(polar, mine.and(dense).and(r -> r.has("bound_ms_f16")), x, bound)));
        int i = 0;
        for (var e : sparse.entrySet()) {
            Color color = SPARSE[i++ % SPARSE.length];
            chart.add(new Chart.Series(e.getKey(), color, false, points(e.getValue(), r -> true, x, r -> r.number(y))));
            chart.add(new Chart.Series("bound, " + e.getKey(), color, true, points(e.getValue(), r -> r.has("bound_ms_f16"), x, bound)));
        }
        return chart;
    }

    private static String trim(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }

    private static List<double[]> points(List<JsonFields> rows, Predicate<JsonFields> which, String x, Function<JsonFields, Double> y) {
        Map<Double, Double> byX = new LinkedHashMap<>(); // one point per x (the last row wins)
        for (JsonFields r : rows) if (which.test(r)) byX.put(r.number(x), y.apply(r));
        return byX.entrySet().stream().map(e -> new double[] {e.getKey(), e.getValue()}).toList();
    }

    private static void write(Path file, Set<String> models, Function<String, Chart> panel) throws IOException {
        List<Chart> charts = models.stream().map(panel).filter(c -> !c.isEmpty()).toList();
        int n = Math.max(1, charts.size());
        BufferedImage image = new BufferedImage(PANEL_W * n, PANEL_H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, image.getWidth(), image.getHeight());
        for (int i = 0; i < charts.size(); i++) charts.get(i).draw(g, i * PANEL_W, 0, PANEL_W, PANEL_H);
        g.dispose();
        ImageIO.write(image, "png", file.toFile());
        System.out.println("wrote " + file + " (" + charts.size() + " panels)");
    }
}
