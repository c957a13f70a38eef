package polar.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import polar.formats.Json;
import polar.formats.JsonFields;
import polar.model.Model;
import polar.model.ModelLoader;
import polar.model.SharedAssets;
import polar.runtime.Backends;
import polar.tornado.layers.Precision;
import polar.tornado.runtime.Backend;
import polar.tornado.types.ElementType;

/**
 * The engine against PyTorch's float32 outputs in {@code ../shared/golden}: last-position logits
 * within 1e-3 relative error (1e-2 with float16 weights, activations and cache, the cuda default)
 * and all 24 greedy tokens of every prompt, one prompt at a time; then the five prompts prefilled
 * and decoded together in one batch give exactly the same tokens.
 */
class EngineGoldenTest {
    static final double LOGIT_TOLERANCE = 1e-3;
    static final double LOGIT_TOLERANCE_FLOAT16 = 1e-2;
    static final int GREEDY_TOKENS = 24;

    static List<String> backends() {
        return TestBackends.names();
    }

    @ParameterizedTest(name = "tiny-llama on {0}")
    @MethodSource("backends")
    void tinyLlama(String backend) throws Exception {
        check("tiny-llama", backend, EngineOptions.defaults(), true);
    }

    @ParameterizedTest(name = "tiny-opt on {0}")
    @MethodSource("backends")
    void tinyOpt(String backend) throws Exception {
        check("tiny-opt", backend, EngineOptions.defaults(), true);
    }

    /** Split-K decode attention (partitions of 16 positions, so up to 3 per sequence here) gives the same tokens, batched. */
    @ParameterizedTest(name = "tiny-llama split-K on {0}")
    @MethodSource("backends")
    void tinyLlamaSplitK(String backend) throws Exception {
        check("tiny-llama", backend, EngineOptions.defaults().withPartitions(16, true), false);
    }

    /** The cuda path's numerics (float16 weights, GEMM inputs and KV cache) on the other backends (cuda runs them by default). */
    @ParameterizedTest(name = "tiny-llama float16 on {0}")
    @MethodSource("backends")
    void tinyLlamaFloat16(String backend) throws Exception {
        assumeFalse(backend.equals("cuda"), "cuda runs float16 in tinyLlama");
        check("tiny-llama", backend, EngineOptions.defaults().withPrecision(Precision.FLOAT16, WeightFormat.FLOAT16), false);
    }

    @ParameterizedTest(name = "tiny-opt float16 on {0}")
    @MethodSource("backends")
    void tinyOptFloat16(String backend) throws Exception {
        assumeFalse(backend.equals("cuda"), "cuda runs float16 in tinyOpt");
        check("tiny-opt", backend, EngineOptions.defaults().withPrecision(Precision.FLOAT16, WeightFormat.FLOAT16), false);
    }

    /** stories260K.gguf (float32, head size 8, GQA) reproduces its 200 float64 greedy tokens from BOS. */
    @ParameterizedTest(name = "stories260K on {0}")
    @MethodSource("backends")
    void stories260K(String backendName) throws Exception {
        Path file = SharedAssets.require("golden/stories260K.greedy200.json");
        JsonFields golden = JsonFields.of(Json.parse(file), file.toString());
        int[] prompt = Golden.ints(golden.integers("prompt_ids"));
        int[] expected = Golden.ints(golden.integers("generated_ids"));
        Model model = ModelLoader.load(SharedAssets.require("models/stories260K.gguf"));
        try (Engine engine = new Engine(backend(backendName), model,
                EngineOptions.defaults().withMaxSequences(1).withMaxContext(prompt.length + expected.length))) {
            Sequence s = engine.newSequence();
            float[] logits = engine.prefill(List.of(s), List.of(prompt))[0];
            int[] tokens = new int[expected.length];
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = argmax(logits);
                if (tokens[i] != expected[i]) {
                    fail("stories260K on " + backendName + ": token " + i + " is " + tokens[i] + ", expected " + expected[i]
                            + "; generated so far " + Arrays.toString(Arrays.copyOf(tokens, i + 1)));
                }
                if (i + 1 < tokens.length) logits = engine.decode(List.of(s), new int[] {tokens[i]})[0];
            }
        }
    }

    /**
     * All prompts prefilled and decoded together in one batch: logits and tokens against golden.
     * With {@code singly}, first each prompt alone (likewise against golden), and the batch must
     * give exactly the tokens the prompts gave alone (batch invariance).
     */
    private static void check(String modelName, String backendName, EngineOptions options, boolean singly) throws Exception {
        List<Golden> cases = Golden.load(modelName);
        Model model = ModelLoader.load(SharedAssets.require("models/" + modelName));
        try (Engine engine = new Engine(backend(backendName), model, options.withMaxSequences(cases.size()).withMaxContext(256))) {
            double tolerance = engine.precision().activations() == ElementType.F16 ? LOGIT_TOLERANCE_FLOAT16 : LOGIT_TOLERANCE;
            String what = modelName + " on " + backendName + " (" + engine.precision() + ")";
            double[] worst = new double[2];
            List<int[]> alone = new ArrayList<>();
            for (Golden c : singly ? cases : List.<Golden>of()) {
                Sequence s = engine.newSequence();
                float[] logits = engine.prefill(List.of(s), List.of(c.promptIds()))[0];
                checkLogits(logits, c, tolerance, worst, what + " alone");
                int[] tokens = greedy(engine, List.of(s), new float[][] {logits})[0];
                assertArrayEquals(c.greedyIds(), tokens, what + " \"" + c.prompt() + "\" alone: greedy tokens");
                engine.release(s);
                alone.add(tokens);
            }
            List<Sequence> batch = new ArrayList<>();
            for (int i = 0; i < cases.size(); i++) batch.add(engine.newSequence());
            float[][] logits = engine.prefill(batch, cases.stream().map(Golden::promptIds).toList());
            for (int i = 0; i < cases.size(); i++) checkLogits(logits[i], cases.get(i), tolerance, worst, what + " batched");
            int[][] tokens = greedy(engine, batch, logits);
            for (int i = 0; i < cases.size(); i++) {
                assertArrayEquals(cases.get(i).greedyIds(), tokens[i], what + ": batched greedy tokens of prompt " + i);
                if (singly) assertArrayEquals(alone.get(i), tokens[i], what + ": batched tokens of prompt " + i + " differ from alone");
            }
            System.out.printf("%s: logits worst relative error %.3g, largest element error %.3g%n", what, worst[0], worst[1]);
            batch.forEach(engine::release);
            assertEquals(engine.cache().capacityBlocks(), engine.cache().freeBlocks(), "every block is free after release");
        }
    }

    /** Fails when {@code logits} are further than {@code tolerance} from golden; keeps the worst errors in {@code worst}. */
    private static void checkLogits(float[] logits, Golden c, double tolerance, double[] worst, String what) {
        double[] err = errors(logits, c.lastLogits());
        if (!(err[0] <= tolerance)) {
            fail(what + " \"" + c.prompt() + "\": logits relative error " + err[0] + " > " + tolerance + ", largest element error " + err[1]);
        }
        worst[0] = Math.max(worst[0], err[0]);
        worst[1] = Math.max(worst[1], err[1]);
    }

    /** One backend per name for the whole class (kernels compile once per backend). */
    private static final Map<String, Backend> BACKENDS = new HashMap<>();

    static synchronized Backend backend(String name) {
        return BACKENDS.computeIfAbsent(name, Backends::open);
    }

    @AfterAll
    static void closeBackends() {
        BACKENDS.values().forEach(Backend::close);
        BACKENDS.clear();
    }

    /** {@code GREEDY_TOKENS} argmax tokens per sequence, decoding all sequences together. */
    static int[][] greedy(Engine engine, List<Sequence> sequences, float[][] logits) {
        int[][] out = new int[sequences.size()][GREEDY_TOKENS];
        for (int step = 0; step < GREEDY_TOKENS; step++) {
            int[] next = new int[sequences.size()];
            for (int i = 0; i < next.length; i++) next[i] = out[i][step] = argmax(logits[i]);
            if (step + 1 < GREEDY_TOKENS) logits = engine.decode(sequences, next);
        }
        return out;
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    /** {@code ||out - ref|| / ||ref||} and the largest element error; NaN anywhere gives NaN. */
    static double[] errors(float[] out, float[] ref) {
        if (out.length != ref.length) throw new AssertionError(out.length + " logits, expected " + ref.length);
        double diff = 0, norm = 0, worst = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = (double) out[i] - ref[i];
            if (Double.isNaN(d)) return new double[] {Double.NaN, Double.NaN};
            diff += d * d;
            norm += (double) ref[i] * ref[i];
            worst = Math.max(worst, Math.abs(d));
        }
        return new double[] {Math.sqrt(diff / norm), worst};
    }
}
