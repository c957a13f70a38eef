package polar.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import polar.model.Model;
import polar.model.ModelLoader;
import polar.model.SharedAssets;
import polar.runtime.Backends;
import polar.tornado.runtime.Backend;

/**
 * The engine against PyTorch's float32 outputs in {@code ../shared/golden}: last-position logits
 * within 1e-3 relative error and all 24 greedy tokens of every prompt, one prompt at a time; then
 * the five prompts prefilled and decoded together in one batch give exactly the same tokens.
 */
class EngineGoldenTest {
    static final double LOGIT_TOLERANCE = 1e-3;
    static final int GREEDY_TOKENS = 24;

    static List<String> backends() {
        return Backends.available();
    }

    @ParameterizedTest(name = "tiny-llama on {0}")
    @MethodSource("backends")
    void tinyLlama(String backend) throws Exception {
        check("tiny-llama", backend, EngineOptions.defaults());
    }

    @ParameterizedTest(name = "tiny-opt on {0}")
    @MethodSource("backends")
    void tinyOpt(String backend) throws Exception {
        check("tiny-opt", backend, EngineOptions.defaults());
    }

    /** Split-K decode attention (partitions of 16 positions, so up to 3 per sequence here) gives the same tokens. */
    @ParameterizedTest(name = "tiny-llama split-K on {0}")
    @MethodSource("backends")
    void tinyLlamaSplitK(String backend) throws Exception {
        check("tiny-llama", backend, EngineOptions.defaults().withPartitions(16, true));
    }

    private static void check(String modelName, String backendName, EngineOptions options) throws Exception {
        List<Golden> cases = Golden.load(modelName);
        Model model = ModelLoader.load(SharedAssets.require("models/" + modelName));
        try (Backend backend = Backends.open(backendName);
             Engine engine = new Engine(backend, model, options.withMaxSequences(cases.size()).withMaxContext(256))) {
            double worstRelative = 0;
            double worstElement = 0;
            List<int[]> single = new ArrayList<>();
            for (Golden c : cases) {
                Sequence s = engine.newSequence();
                float[] logits = engine.prefill(List.of(s), List.of(c.promptIds()))[0];
                double[] err = errors(logits, c.lastLogits());
                String what = modelName + " on " + backendName + " \"" + c.prompt() + "\"";
                if (!(err[0] <= LOGIT_TOLERANCE)) fail(what + ": logits relative error " + err[0] + ", largest element error " + err[1]);
                worstRelative = Math.max(worstRelative, err[0]);
                worstElement = Math.max(worstElement, err[1]);
                int[] tokens = greedy(engine, List.of(s), new float[][] {logits})[0];
                assertArrayEquals(c.greedyIds(), tokens, what + ": greedy tokens");
                engine.release(s);
                single.add(tokens);
            }
            System.out.printf("%s on %s: logits worst relative error %.3g, largest element error %.3g%n",
                    modelName, backendName, worstRelative, worstElement);

            List<Sequence> batch = new ArrayList<>();
            for (int i = 0; i < cases.size(); i++) batch.add(engine.newSequence());
            float[][] logits = engine.prefill(batch, cases.stream().map(Golden::promptIds).toList());
            int[][] tokens = greedy(engine, batch, logits);
            for (int i = 0; i < cases.size(); i++) {
                assertArrayEquals(single.get(i), tokens[i], modelName + " on " + backendName + ": batched tokens of prompt " + i);
            }
            batch.forEach(engine::release);
            assertTrue(engine.cache().freeBlocks() == engine.cache().capacityBlocks(), "every block is free after release");
        }
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
