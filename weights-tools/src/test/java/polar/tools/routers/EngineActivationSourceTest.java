package polar.tools.routers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import polar.engine.sparsity.LayerObserver;
import polar.model.LayerWeights;
import polar.model.Model;
import polar.model.ModelLoader;
import polar.runtime.Backends;

/** Router data collection through the engine (JVM backend), checked against host arithmetic and the host forward pass. */
class EngineActivationSourceTest {
    static Path shared;
    static Model opt;
    static EngineActivationSource source;

    @BeforeAll
    static void open() throws Exception {
        shared = Path.of(System.getProperty("polar.shared", "../shared"));
        assumeTrue(Files.exists(shared.resolve("models/tiny-opt")), "../shared/models/tiny-opt is absent");
        opt = ModelLoader.load(shared.resolve("models/tiny-opt"));
        source = new EngineActivationSource(Backends.open("jvm"), opt, 2, 16);
    }

    @AfterAll
    static void close() {
        if (source != null) source.close();
    }

    /** Per layer: {normed, heads, mlp} of one run. */
    static List<float[][]> run(List<int[]> sequences) {
        List<float[][]> layers = new ArrayList<>();
        LayerObserver keep = (l, rows, normed, heads, mlp) -> layers.add(new float[][] {normed, heads, mlp});
        source.run(sequences, keep);
        return layers;
    }

    @Test
    void layerZeroTapsMatchHostArithmetic() {
        int[] tokens = source.encode("Once upon a time, a dog.");
        int[] seq = new int[tokens.length + 1];
        seq[0] = source.bos();
        System.arraycopy(tokens, 0, seq, 1, tokens.length);
        List<float[][]> layers = run(List.of(seq));
        assertEquals(6, layers.size());
        int hidden = 256, headDim = 32, heads = 8;
        float[] embed = opt.weights().tokenEmbedding().toFloatArray(), positions = opt.weights().positionEmbedding().toFloatArray();
        LayerWeights w = opt.weights().layers().get(0);
        float[] gamma = w.attnNorm().toFloatArray(), beta = w.attnNormBias().toFloatArray();
        double[][] normed = new double[seq.length][hidden];
        for (int i = 0; i < seq.length; i++) {
            double[] x = new double[hidden];
            double mean = 0, var = 0;
            for (int j = 0; j < hidden; j++) {
                x[j] = embed[seq[i] * hidden + j] + positions[(i + 2) * hidden + j]; // OPT's learned positions start at row 2
                mean += x[j] / hidden;
            }
            for (int j = 0; j < hidden; j++) var += (x[j] - mean) * (x[j] - mean) / hidden;
            for (int j = 0; j < hidden; j++) normed[i][j] = (x[j] - mean) / Math.sqrt(var + 1e-5) * gamma[j] + beta[j];
        }
        assertClose(flatten(normed), layers.get(0)[0], 1e-5, "layer 0 normed input");

        // Attending over a single position returns its value vector: the first position's head outputs are V.
        float[] wv = w.wv().toFloatArray(), bv = w.bv().toFloatArray();
        double[] v = new double[heads * headDim];
        for (int o = 0; o < v.length; o++) {
            double s = bv[o];
            for (int j = 0; j < hidden; j++) s += wv[o * hidden + j] * normed[0][j];
            v[o] = s;
        }
        assertClose(v, Arrays.copyOf(layers.get(0)[1], heads * headDim), 1e-5, "layer 0 head outputs at position 0");
        for (float[][] layer : layers) {
            assertNotNull(layer[2], "tiny-opt is a ReLU model: MLP activity is recorded");
            for (float a : layer[2]) assertTrue(a >= 0 && !Float.isNaN(a), "ReLU outputs are non-negative");
        }
    }

    @Test
    void sequencesRunTogetherGiveTheSameRowsAsAlone() {
        int[] a = {2, 100, 200, 300, 400, 17}, b = {2, 55, 66, 77};
        List<float[][]> together = run(List.of(a, b)), first = run(List.of(a)), second = run(List.of(b));
        for (int l = 0; l < 6; l++) {
            for (int k = 0; k < 3; k++) {
                float[] both = together.get(l)[k];
                float[] joined = new float[both.length];
                System.arraycopy(first.get(l)[k], 0, joined, 0, first.get(l)[k].length);
                System.arraycopy(second.get(l)[k], 0, joined, first.get(l)[k].length, second.get(l)[k].length);
                assertClose(toDouble(joined), both, 1e-5, "layer " + l + " tap " + k);
            }
        }
    }

    @Test
    void hostForwardPassAgreesWithTheEngine() throws Exception {
        int[] seq = {2, 311, 12, 99, 1000, 4000, 7, 300};
        try (HostActivationSource host = new HostActivationSource(opt, 1, 16, new Workers(1))) {
            compare(host, source, seq, "tiny-opt");
        }
        Path llama = shared.resolve("models/tiny-llama");
        assumeTrue(Files.exists(llama));
        Model m = ModelLoader.load(llama);
        seq[0] = 0;
        try (HostActivationSource host = new HostActivationSource(m, 1, 16, new Workers(2));
             EngineActivationSource engine = new EngineActivationSource(Backends.open("jvm"), m, 1, 16)) {
            compare(host, engine, seq, "tiny-llama");
        }
    }

    static void compare(ActivationSource host, ActivationSource engine, int[] seq, String model) {
        List<float[][]> a = new ArrayList<>(), b = new ArrayList<>();
        host.run(List.of(seq), (l, rows, normed, heads, mlp) -> a.add(new float[][] {normed, heads, mlp}));
        engine.run(List.of(seq), (l, rows, normed, heads, mlp) -> b.add(new float[][] {normed, heads, mlp}));
        assertEquals(b.size(), a.size());
        for (int l = 0; l < a.size(); l++) {
            for (int k = 0; k < 3; k++) {
                if (b.get(l)[k] == null) {
                    assertNull(a.get(l)[k]);
                    continue;
                }
                assertClose(toDouble(b.get(l)[k]), a.get(l)[k], 1e-4, model + " layer " + l + " tap " + k);
            }
        }
    }

    static double[] flatten(double[][] a) {
        return Arrays.stream(a).flatMapToDouble(Arrays::stream).toArray();
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    /** Relative error {@code ||out - ref|| / ||ref||} at most {@code tolerance}; NaN fails. */
    static void assertClose(double[] ref, float[] out, double tolerance, String what) {
        assertEquals(ref.length, out.length, what + ": length");
        double diff = 0, norm = 0;
        for (int i = 0; i < ref.length; i++) {
            diff += (out[i] - ref[i]) * (out[i] - ref[i]);
            norm += ref[i] * ref[i];
        }
        double rel = Math.sqrt(diff / norm);
        assertTrue(rel <= tolerance, what + ": relative error " + rel);
    }
}
