package polar.engine.sparsity;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import polar.formats.Json;
import polar.formats.JsonFields;
import polar.model.ModelConfig;

/**
 * How sparse each decode layer runs: the fraction of attention units (heads, or KV groups for GQA)
 * each sequence keeps, and for ReLU models the calibrated MLP top-k by batch size. Layer 0 is always
 * dense. Immutable; saved as {@value #FILE_NAME} beside the routers:
 * <pre>{@code
 * {
 *   "format": "polar-sparsity", "version": 1, "layers": 6,
 *   "attention": {"unit": "heads", "units": 8, "density": [1.0, 0.5, 0.5, 0.5, 0.5, 0.5]},
 *   "mlp": {"ffn": 1024, "tile": 32, "denseAbove": 0.8, "score": "softplus_sum", "recall": 0.99,
 *           "batchSizes": [1, 2, 4, ...], "k": [[...], ...]}          // absent: MLP runs dense
 * }
 * }</pre>
 */
public final class SparsityPlan {

    public static final String FILE_NAME = "polar-sparsity.json";
    static final String FORMAT = "polar-sparsity";
    static final int VERSION = 1;

    private final int layers;
    private final AttentionUnit unit;
    private final int units;
    private final double[] attnDensity;
    private final MlpTable mlp;

    public SparsityPlan(int layers, AttentionUnit unit, int units, double[] attnDensity, MlpTable mlp) {
        if (layers < 1 || units < 1) throw new IllegalArgumentException("layers and units must be positive: " + layers + ", " + units);
        if (attnDensity.length != layers) throw new IllegalArgumentException(attnDensity.length + " attention densities for " + layers + " layers");
        if (attnDensity[0] != 1.0) throw new IllegalArgumentException("layer 0 attention is always dense, density " + attnDensity[0] + " given");
        for (int l = 0; l < layers; l++) checkDensity(attnDensity[l]);
        if (mlp != null && mlp.layers() != layers) throw new IllegalArgumentException("MLP table has " + mlp.layers() + " layers, plan " + layers);
        this.layers = layers;
        this.unit = unit;
        this.units = units;
        this.attnDensity = attnDensity.clone();
        this.mlp = mlp;
    }

    /** The default plan for {@code config}: 0.5 of heads (MHA) or 0.625 of KV groups (GQA) in layers 1.., MLP dense. */
    public static SparsityPlan defaults(ModelConfig config) {
        AttentionUnit unit = AttentionUnit.of(config);
        return defaults(config.layers(), unit, unit.count(config));
    }

    public static SparsityPlan defaults(int layers, AttentionUnit unit, int units) {
        return dense(layers, unit, units).withAttentionDensity(unit.defaultDensity);
    }

    /** Every layer dense (what {@code --sparsity dense} means). */
    public static SparsityPlan dense(ModelConfig config) {
        AttentionUnit unit = AttentionUnit.of(config);
        return dense(config.layers(), unit, unit.count(config));
    }

    public static SparsityPlan dense(int layers, AttentionUnit unit, int units) {
        double[] d = new double[layers];
        Arrays.fill(d, 1.0);
        return new SparsityPlan(layers, unit, units, d, null);
    }

    public int layers() { return layers; }

    public AttentionUnit attentionUnit() { return unit; }

    /** Attention units (heads or KV groups) per layer. */
    public int units() { return units; }

    public double attnDensity(int layer) { return attnDensity[layer]; }

    /** Units each sequence keeps in {@code layer}: {@code round(density * units)}, at least 1; all of them in layer 0. */
    public int attnK(int layer) {
        if (layer == 0) return units;
        return (int) Math.max(1, Math.min(units, Math.round(attnDensity[layer] * units)));
    }

    /** Whether {@code layer}'s attention runs over every unit (no router needed). */
    public boolean attnDense(int layer) { return attnK(layer) == units; }

    /** The calibrated MLP table, or null when the MLP runs dense. */
    public MlpTable mlp() { return mlp; }

    /** MLP neurons to compute in {@code layer} for {@code batch} tokens ({@code ffn}: dense); needs a table (see {@link #mlpDense}). */
    public int mlpK(int layer, int batch) {
        if (mlp == null) throw new IllegalStateException("this plan has no MLP table: the MLP runs dense");
        return mlp.k(layer, batch);
    }

    /** Whether {@code layer}'s MLP runs dense for a batch of {@code batch} tokens (always, without a table). */
    public boolean mlpDense(int layer, int batch) { return mlp == null || mlp.k(layer, batch) == mlp.ffn(); }

    /** The same plan with attention density {@code density} in every layer but 0 (the {@code --attn-density} flag). */
    public SparsityPlan withAttentionDensity(double density) {
        checkDensity(density);
        double[] d = new double[layers];
        Arrays.fill(d, density);
        d[0] = 1.0;
        return new SparsityPlan(layers, unit, units, d, mlp);
    }

    /** The same plan with {@code layer}'s attention density replaced (layer 0 stays dense). */
    public SparsityPlan withAttentionDensity(int layer, double density) {
        if (layer == 0) throw new IllegalArgumentException("layer 0 attention is always dense");
        checkDensity(density);
        double[] d = attnDensity.clone();
        d[layer] = density;
        return new SparsityPlan(layers, unit, units, d, mlp);
    }

    /** The same plan with the MLP table replaced (null: MLP dense). */
    public SparsityPlan withMlp(MlpTable table) {
        return new SparsityPlan(layers, unit, units, attnDensity, table);
    }

    /** Throws, naming {@code source}, unless this plan was made for a model of {@code config}'s shape. */
    public void checkFits(ModelConfig config, String source) {
        AttentionUnit want = AttentionUnit.of(config);
        if (layers != config.layers()) throw new IllegalArgumentException(source + ": plan has " + layers + " layers, the model " + config.layers());
        if (unit != want || units != want.count(config))
            throw new IllegalArgumentException(source + ": plan selects " + units + " " + unit.jsonName + ", the model has " + want.count(config) + " " + want.jsonName);
        if (mlp != null && mlp.ffn() != config.ffn())
            throw new IllegalArgumentException(source + ": plan's MLP table is for ffn " + mlp.ffn() + ", the model has " + config.ffn());
    }

    private static void checkDensity(double d) {
        if (!(d > 0 && d <= 1)) throw new IllegalArgumentException("attention density must be in (0, 1], got " + d);
    }

    // ---- JSON ----

    public String toJson() {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("format", FORMAT);
        root.put("version", VERSION);
        root.put("layers", layers);
        Map<String, Object> attention = new LinkedHashMap<>();
        attention.put("unit", unit.jsonName);
        attention.put("units", units);
        attention.put("density", attnDensity);
        root.put("attention", attention);
        if (mlp != null) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("ffn", mlp.ffn());
            m.put("tile", mlp.tile());
            m.put("denseAbove", mlp.denseAbove());
            m.put("score", mlp.score().jsonName);
            m.put("recall", mlp.recall());
            m.put("batchSizes", mlp.batchSizes());
            List<Object> ks = new ArrayList<>(); // one line per layer when pretty-printed
            for (int[] row : mlp.k()) ks.add(Arrays.stream(row).boxed().toList());
            m.put("k", ks);
            root.put("mlp", m);
        }
        return Json.writePretty(root);
    }

    /** Parses a plan; {@code source} (the file) is named in every error, with the offending field. */
    public static SparsityPlan fromJson(String text, String source) {
        JsonFields root = JsonFields.of(Json.parse(text, source), source);
        if (!FORMAT.equals(root.string("format"))) throw root.error("format", "must be \"" + FORMAT + "\"");
        if (root.integer("version") != VERSION) throw root.error("version", "must be " + VERSION + " (this Polar reads version " + VERSION + ")");
        int layers = root.intAtLeast("layers", 1);
        JsonFields attention = root.object("attention");
        String unitName = attention.string("unit");
        AttentionUnit unit = AttentionUnit.fromJson(unitName);
        if (unit == null) throw attention.error("unit", "must be \"heads\" or \"kv_groups\", got \"" + unitName + "\"");
        int units = attention.intAtLeast("units", 1);
        double[] density = numbers(attention, "density", attention.list("density"), layers);
        if (density[0] != 1.0) throw attention.error("density[0]", "must be 1.0: layer 0 attention is always dense");
        for (int l = 0; l < layers; l++) {
            if (!(density[l] > 0 && density[l] <= 1)) throw attention.error("density[" + l + "]", "must be in (0, 1], got " + density[l]);
        }
        JsonFields mlp = root.objectOrNull("mlp");
        return new SparsityPlan(layers, unit, units, density, mlp == null ? null : mlpFromJson(mlp, layers));
    }

    private static MlpTable mlpFromJson(JsonFields m, int layers) {
        int ffn = m.intAtLeast("ffn", 1);
        int tile = m.intAtLeast("tile", 1);
        double denseAbove = m.number("denseAbove");
        if (!(denseAbove > 0 && denseAbove <= 1)) throw m.error("denseAbove", "must be in (0, 1], got " + denseAbove);
        String scoreName = m.string("score");
        MlpScore score = MlpScore.fromJson(scoreName);
        if (score == null) throw m.error("score", "must be \"relu_sum\" or \"softplus_sum\", got \"" + scoreName + "\"");
        double recall = m.number("recall");
        int[] batchSizes = integers(m, "batchSizes", m.list("batchSizes"), -1);
        if (batchSizes.length == 0) throw m.error("batchSizes", "must not be empty");
        for (int i = 0; i < batchSizes.length; i++) {
            if (batchSizes[i] < 1 || (i > 0 && batchSizes[i] <= batchSizes[i - 1]))
                throw m.error("batchSizes", "must be positive and strictly increasing, got " + Arrays.toString(batchSizes));
        }
        List<Object> rows = m.list("k");
        if (rows.size() != layers) throw m.error("k", "must have one row per layer (" + layers + "), has " + rows.size());
        int[][] k = new int[layers][];
        for (int l = 0; l < layers; l++) {
            if (!(rows.get(l) instanceof List<?> row)) throw m.error("k[" + l + "]", "must be an array");
            k[l] = integers(m, "k[" + l + "]", row, batchSizes.length);
            for (int i = 0; i < k[l].length; i++) {
                if (k[l][i] < 1 || k[l][i] > ffn) throw m.error("k[" + l + "][" + i + "]", "must be in 1.." + ffn + ", got " + k[l][i]);
            }
        }
        return new MlpTable(ffn, tile, denseAbove, score, recall, batchSizes, k);
    }

    /** The numbers of {@code list} (field {@code key} of {@code f}), exactly {@code length} of them. */
    private static double[] numbers(JsonFields f, String key, List<?> list, int length) {
        if (list.size() != length) throw f.error(key, "must have " + length + " elements, has " + list.size());
        double[] out = new double[length];
        for (int i = 0; i < length; i++) {
            if (!(list.get(i) instanceof Number n)) throw f.error(key + "[" + i + "]", "must be a number, got " + Json.write(list.get(i)));
            out[i] = n.doubleValue();
        }
        return out;
    }

    /** The integers of {@code list}, exactly {@code length} of them (any number when negative). */
    private static int[] integers(JsonFields f, String key, List<?> list, int length) {
        if (length >= 0 && list.size() != length) throw f.error(key, "must have " + length + " elements, has " + list.size());
        int[] out = new int[list.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(list.get(i) instanceof Long n) || n < Integer.MIN_VALUE || n > Integer.MAX_VALUE)
                throw f.error(key + "[" + i + "]", "must be an integer, got " + Json.write(list.get(i)));
            out[i] = (int) (long) n;
        }
        return out;
    }

    /** Reads a plan file ({@value #FILE_NAME}); errors name the file and field. */
    public static SparsityPlan load(Path file) {
        try {
            return fromJson(Files.readString(file), file.toString());
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException("sparsity plan not found: " + file, e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read sparsity plan " + file + ": " + e.getMessage(), e);
        }
    }

    public void save(Path file) {
        try {
            Files.writeString(file, toJson());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write sparsity plan " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SparsityPlan p && layers == p.layers && unit == p.unit && units == p.units
                && Arrays.equals(attnDensity, p.attnDensity) && java.util.Objects.equals(mlp, p.mlp);
    }

    @Override
    public int hashCode() { return Arrays.hashCode(attnDensity) * 31 + units; }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("SparsityPlan[" + layers + " layers, attention k of " + units + " " + unit.jsonName + ":");
        for (int l = 0; l < layers; l++) sb.append(' ').append(attnK(l));
        return sb.append(mlp == null ? ", MLP dense]" : ", MLP table at batch sizes " + Arrays.toString(mlp.batchSizes()) + "]").toString();
    }

}
