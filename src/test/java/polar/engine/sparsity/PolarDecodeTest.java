package polar.engine.sparsity;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import polar.engine.Engine;
import polar.engine.EngineOptions;
import polar.engine.Sequence;
import polar.engine.TestBackends;
import polar.model.Model;
import polar.model.ModelLoader;
import polar.model.SharedAssets;
import polar.runtime.Backends;
import polar.runtime.jvm.JvmBackend;
import polar.tornado.runtime.Backend;

/**
 * Decode with Polar Sparsity's selective attention: exact at density 1 on every backend here (jvm; opencl
 * where an OpenCL platform is installed, PoCL in CI; cuda on a GPU), finite with the trained routers at 0.5.
 */
public class PolarDecodeTest {
    static final int STEPS = 6;
    static final int[][] PROMPTS = {{0, 557, 547, 260, 455, 13, 443, 298, 260, 482}, {0, 390, 949, 1854, 339, 262}};

    /** {@code weights-tools/trained/<model>}, found from the working directory upwards. */
    public static Path trained(String model) {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path dir = p.resolve("weights-tools/trained").resolve(model);
            if (Files.isDirectory(dir)) return dir;
        }
        throw new IllegalStateException("weights-tools/trained/" + model + " not found");
    }

    /** Greedy decode of both prompts in one batch (jvm backend); the logits of every step, [step][sequence][vocab]. */
    static float[][][] run(Model model, PolarSparsity sparsity) {
        try (Backend backend = new JvmBackend()) {
            return run(backend, model, sparsity);
        }
    }

    /** Every (backend, model) pair: the backends available here ({@link TestBackends}), both test models. */
    static Stream<Arguments> backendsAndModels() {
        return TestBackends.names().stream().flatMap(b -> Stream.of(Arguments.of(b, "tiny-llama"), Arguments.of(b, "tiny-opt")));
    }

    static float[][][] run(Backend backend, Model model, PolarSparsity sparsity) {
        EngineOptions options = EngineOptions.defaults().withMaxSequences(2).withMaxContext(64).withPartitions(8, true).withSparsity(sparsity);
        float[][][] out = new float[STEPS + 1][][];
        try (Engine engine = new Engine(backend, model, options)) {
            Sequence a = engine.newSequence(), b = engine.newSequence();
            List<Sequence> both = List.of(a, b);
            out[0] = engine.prefill(both, List.of(PROMPTS[0], PROMPTS[1]));
            for (int s = 1; s <= STEPS; s++) out[s] = engine.decode(both, new int[] {argmax(out[s - 1][0]), argmax(out[s - 1][1])});
        }
        return out;
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    /** Router, top-k and selective attention with every unit selected give the dense tokens, logits within float rounding. */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndModels")
    void allUnitsSelectedMatchesDense(String backendName, String name) throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/" + name));
        PolarSparsity polar = PolarSparsity.load(trained(name)).withAttentionDensity(1.0).withoutMlp();
        try (Backend backend = Backends.open(backendName)) {
            assertClose(backendName + " " + name, run(backend, model, null), run(backend, model, polar), 1e-4f);
        }
    }

    /** The oracle (dense attention, unit norms, top-k, the rest zeroed) with every unit kept is dense too. */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndModels")
    void oracleKeepingEveryUnitMatchesDense(String backendName, String name) throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/" + name));
        PolarSparsity oracle = PolarSparsity.oracle(SparsityPlan.defaults(model.config())).withAttentionDensity(1.0);
        try (Backend backend = Backends.open(backendName)) {
            assertClose(backendName + " oracle " + name, run(backend, model, null), run(backend, model, oracle), 1e-4f);
        }
    }

    /** tiny-opt with every neuron through the sparse MLP kernels (router, top-k, FC1, FC2) gives the dense tokens, logits within float rounding. */
    @org.junit.jupiter.api.Test
    void allNeuronsThroughTheSparseMlpMatchDense() throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/tiny-opt"));
        PolarSparsity polar = PolarSparsity.load(trained("tiny-opt")).withAttentionDensity(1.0);
        MlpTable t = polar.plan().mlp();
        int[][] all = new int[t.layers()][t.batchSizes().length];
        for (int[] row : all) java.util.Arrays.fill(row, t.ffn());
        polar = new PolarSparsity(polar.plan().withMlp(new MlpTable(t.ffn(), t.tile(), 1.0, t.score(), t.recall(), t.batchSizes(), all)), polar.routers());
        assertClose("tiny-opt sparse MLP", run(model, null), run(model, polar), 1e-3f);
    }

    static void assertClose(String name, float[][][] dense, float[][][] sparse, float tolerance) {
        for (int s = 0; s <= STEPS; s++) {
            for (int q = 0; q < 2; q++) {
                assertEquals(argmax(dense[s][q]), argmax(sparse[s][q]), name + " token of step " + s + ", sequence " + q);
                for (int i = 0; i < dense[s][q].length; i++) {
                    float d = dense[s][q][i], p = sparse[s][q][i];
                    assertTrue(Math.abs(d - p) <= tolerance * Math.max(1f, Math.abs(d)), name + " step " + s + " logit " + i + ": " + d + " vs " + p);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tiny-llama", "tiny-opt"})
    void trainedRoutersAtHalfDensityGiveFiniteLogits(String name) throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/" + name));
        PolarSparsity polar = PolarSparsity.load(trained(name)).withAttentionDensity(0.5);
        assertTrue(polar.plan().attnK(1) < polar.plan().units(), "density 0.5 drops units");
        float[][][] sparse = run(model, polar);
        float[][][] dense = run(model, null);
        assertArrayEquals(dense[0][0], sparse[0][0], 0f, "prefill stays dense");
        boolean differs = false;
        for (int s = 1; s <= STEPS; s++) {
            for (int q = 0; q < 2; q++) {
                for (float v : sparse[s][q]) assertTrue(Float.isFinite(v), name + " step " + s);
                for (int i = 0; i < v(sparse, s, q).length; i++) differs |= sparse[s][q][i] != dense[s][q][i];
            }
        }
        assertTrue(differs, "sparse decode changes the logits");
    }

    private static float[] v(float[][][] x, int s, int q) { return x[s][q]; }
}
