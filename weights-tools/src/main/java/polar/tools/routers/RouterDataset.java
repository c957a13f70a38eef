package polar.tools.routers;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import polar.formats.Json;
import polar.formats.JsonFields;

/**
 * Router training data recorded from a model run over a corpus (by {@link RouterDataCollector}),
 * so collection happens once and training, calibration and evaluation can be rerun. A folder:
 * <pre>
 * router-data.json          manifest: model shape, row count, where the data came from
 * layer-NN.input.f32        [rows, hidden]   the layer's normed attention input (router input)
 * layer-NN.unit-norms.f32   [rows, units]    L2 norm of each head's (MHA) or KV group's (GQA) attention output
 * layer-NN.unit-out-norms.f32 [rows, units]  optional: L2 norm of each unit's contribution after the output projection
 * layer-NN.mlp-active.bits  [rows, ffn] bits ReLU(fc1 x + b) > 0 per neuron (ReLU models only; see {@link BitRows})
 * </pre>
 * Floats are little-endian; rows are token positions, in the same order in every file. Attention
 * labels (top-k units) are derived from the norms at training time, so the density can change
 * without collecting again.
 */
public final class RouterDataset {

    public static final String MANIFEST = "router-data.json";
    static final String FORMAT = "polar-router-data";
    static final int VERSION = 1;

    /** The per-layer files. */
    public enum LayerFile {
        INPUT("input.f32"), UNIT_NORMS("unit-norms.f32"), MLP_ACTIVE("mlp-active.bits"), UNIT_OUT_NORMS("unit-out-norms.f32");

        public final String suffix;

        LayerFile(String suffix) { this.suffix = suffix; }

        public Path in(Path dir, int layer) { return dir.resolve(String.format("layer-%02d.%s", layer, suffix)); }

        /** Bytes per row of this file for a model of {@code shape}. */
        long rowBytes(RouterDataShape shape) {
            return switch (this) {
                case INPUT -> 4L * shape.hidden();
                case UNIT_NORMS, UNIT_OUT_NORMS -> 4L * shape.units();
                case MLP_ACTIVE -> BitRows.bytesPerRow(shape.ffn());
            };
        }
    }

    /**
     * @param model        the model the data came from; {@code corpus} the text it ran over (informational)
     * @param unitOutNorms whether the optional {@link LayerFile#UNIT_OUT_NORMS} files are there
     */
    public record Manifest(RouterDataShape shape, int rows, String model, String corpus, boolean unitOutNorms) {

        String toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("format", FORMAT);
            m.put("version", VERSION);
            m.put("model", model);
            m.put("corpus", corpus);
            m.put("layers", shape.layers());
            m.put("hidden", shape.hidden());
            m.put("heads", shape.heads());
            m.put("kvHeads", shape.kvHeads());
            m.put("headDim", shape.headDim());
            m.put("ffn", shape.ffn());
            m.put("reluMlp", shape.reluMlp());
            m.put("attentionUnit", shape.attentionUnit().jsonName);
            m.put("units", shape.units());
            m.put("rows", rows);
            m.put("unitOutNorms", unitOutNorms);
            return Json.writePretty(m);
        }

        static Manifest fromJson(String text, String source) {
            JsonFields f = JsonFields.of(Json.parse(text, source), source);
            if (!FORMAT.equals(f.string("format"))) throw f.error("format", "must be \"" + FORMAT + "\"");
            if (f.integer("version") != VERSION) throw f.error("version", "must be " + VERSION);
            if (!f.has("reluMlp")) throw f.error("reluMlp", "is missing");
            RouterDataShape shape = new RouterDataShape(f.intAtLeast("layers", 1), f.intAtLeast("hidden", 1), f.intAtLeast("heads", 1),
                    f.intAtLeast("kvHeads", 1), f.intAtLeast("headDim", 1), f.intAtLeast("ffn", 1), f.bool("reluMlp", false));
            int rows = f.intAtLeast("rows", 0);
            return new Manifest(shape, rows, f.string("model", ""), f.string("corpus", ""), f.bool("unitOutNorms", false));
        }
    }

    /**
     * Rows {@code from..to} of one layer.
     *
     * @param input     {@code [rows, hidden]}
     * @param unitNorms {@code [rows, units]}
     * @param mlpActive {@code [rows, ffn]} bits, or null for non-ReLU models
     * @param unitOutNorms {@code [rows, units]}, or null where the data set has none
     */
    public record LayerData(int layer, int rows, int hidden, int units, float[] input, float[] unitNorms, BitRows mlpActive, float[] unitOutNorms) {

        /** The per-unit values whose top-k is the attention label. */
        public float[] unitScores(UnitLabel label) {
            if (label == UnitLabel.NORM) return unitNorms;
            if (unitOutNorms == null) throw new IllegalArgumentException("the data set has no " + LayerFile.UNIT_OUT_NORMS.suffix
                    + " files (label " + label.flag + "); collect again with --backend host");
            return unitOutNorms;
        }
    }

    private final Path dir;
    private final Manifest manifest;

    private RouterDataset(Path dir, Manifest manifest) {
        this.dir = dir;
        this.manifest = manifest;
    }

    /** Opens a data set folder, checking every file exists with the size the manifest implies (errors name the file). */
    public static RouterDataset open(Path dir) {
        Path file = dir.resolve(MANIFEST);
        Manifest m;
        try {
            m = Manifest.fromJson(Files.readString(file), file.toString());
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException("no router data in " + dir + " (missing " + MANIFEST + "; run `polar routers collect` first)", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        RouterDataset ds = new RouterDataset(dir, m);
        for (int l = 0; l < m.shape().layers(); l++) {
            for (LayerFile f : ds.files()) {
                Path p = f.in(dir, l);
                long want = f.rowBytes(m.shape()) * m.rows();
                try {
                    long have = Files.size(p);
                    if (have != want) throw new IllegalArgumentException(p + ": " + have + " bytes, the manifest's " + m.rows() + " rows need " + want);
                } catch (NoSuchFileException e) {
                    throw new UncheckedIOException("missing router data file " + p, e);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read " + p + ": " + e.getMessage(), e);
                }
            }
        }
        return ds;
    }

    LayerFile[] files() {
        java.util.List<LayerFile> files = new java.util.ArrayList<>(java.util.List.of(LayerFile.INPUT, LayerFile.UNIT_NORMS));
        if (manifest.shape().reluMlp()) files.add(LayerFile.MLP_ACTIVE);
        if (manifest.unitOutNorms()) files.add(LayerFile.UNIT_OUT_NORMS);
        return files.toArray(LayerFile[]::new);
    }

    public Path dir() { return dir; }

    public Manifest manifest() { return manifest; }

    public RouterDataShape shape() { return manifest.shape(); }

    public int rows() { return manifest.rows(); }

    /** Rows {@code from..to} of {@code layer}. */
    public LayerData load(int layer, int from, int to) {
        RouterDataShape s = shape();
        if (layer < 0 || layer >= s.layers()) throw new IllegalArgumentException("layer " + layer + " outside 0.." + (s.layers() - 1));
        if (from < 0 || to > rows() || from > to) throw new IllegalArgumentException("rows " + from + ".." + to + " outside 0.." + rows());
        int n = to - from;
        float[] input = readFloats(LayerFile.INPUT.in(dir, layer), (long) from * s.hidden(), Math.multiplyExact(n, s.hidden()));
        float[] norms = readFloats(LayerFile.UNIT_NORMS.in(dir, layer), (long) from * s.units(), n * s.units());
        BitRows active = null;
        if (s.reluMlp()) {
            int bpr = BitRows.bytesPerRow(s.ffn());
            ByteBuffer b = read(LayerFile.MLP_ACTIVE.in(dir, layer), (long) from * bpr, Math.multiplyExact(n, bpr));
            active = new BitRows(n, s.ffn(), b.array());
        }
        float[] outNorms = manifest.unitOutNorms() ? readFloats(LayerFile.UNIT_OUT_NORMS.in(dir, layer), (long) from * s.units(), n * s.units()) : null;
        return new LayerData(layer, n, s.hidden(), s.units(), input, norms, active, outNorms);
    }

    private static float[] readFloats(Path file, long firstFloat, int count) {
        float[] out = new float[count];
        read(file, firstFloat * 4, Math.multiplyExact(count, 4)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }

    private static ByteBuffer read(Path file, long offset, int bytes) {
        ByteBuffer buf = ByteBuffer.allocate(bytes);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (buf.hasRemaining()) {
                if (ch.read(buf, offset + buf.position()) < 0) throw new IOException("unexpected end of file at byte " + (offset + buf.position()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        return buf.flip();
    }
}
