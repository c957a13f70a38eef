package polar.engine.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import polar.engine.BatchEngine;
import polar.engine.Engine;
import polar.engine.EngineOptions;
import polar.engine.Sequence;
import polar.engine.sparsity.MlpTable;
import polar.engine.sparsity.PolarDecodeTest;
import polar.engine.sparsity.PolarSparsity;
import polar.model.Model;
import polar.model.ModelLoader;
import polar.model.SharedAssets;
import polar.runtime.jvm.JvmBackend;

/**
 * Polar Sparsity over simulated ranks (jvm backends, {@link LocalCommunicator}): attention units are
 * chosen over the whole model on every rank and each rank attends over its own; each rank's MLP
 * takes its share of k over its own neurons. Five golden prompts are prefilled, then greedily decoded
 * together, with split-K attention (partitions of 8 positions) so the combine path runs too.
 */
class TensorParallelSparsityTest {
    static final int STEPS = 8;

    /** Logits of the prefill and of every decode step, {@code [step][sequence][vocab]}, greedy. */
    static float[][][] run(BatchEngine engine, List<int[]> prompts) {
        List<Sequence> seqs = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) seqs.add(engine.newSequence());
        float[][][] out = new float[STEPS + 1][][];
        out[0] = engine.prefill(seqs, prompts);
        for (int s = 1; s <= STEPS; s++) {
            int[] next = new int[prompts.size()];
            for (int i = 0; i < next.length; i++) next[i] = TensorParallelEngineTest.argmax(out[s - 1][i]);
            out[s] = engine.decode(seqs, next);
        }
        seqs.forEach(engine::release);
        return out;
    }

    static EngineOptions options(int sequences, PolarSparsity sparsity) {
        return EngineOptions.defaults().withMaxSequences(sequences).withMaxContext(64).withPartitions(8, true).withSparsity(sparsity);
    }

    static float[][][] oneRank(Model model, List<int[]> prompts, PolarSparsity sparsity) {
        try (JvmBackend backend = new JvmBackend(); Engine engine = new Engine(backend, model, options(prompts.size(), sparsity))) {
            return run(engine, prompts);
        }
    }

    static float[][][] ranks(Model model, List<int[]> prompts, PolarSparsity sparsity, int ranks) {
        try (TensorParallelEngine engine = TensorParallelEngine.local(TensorParallelEngineTest.jvmBackends(ranks), model, options(prompts.size(), sparsity))) {
            return run(engine, prompts);
        }
    }

    static List<int[]> prompts(String name) throws Exception {
        return GoldenCase.load(name).stream().map(GoldenCase::promptIds).toList();
    }

    /** Same greedy tokens at every step; logits within {@code tolerance} relative (norm over the vocabulary). */
    static void assertSame(String what, float[][][] expected, float[][][] actual, double tolerance) {
        double worst = 0;
        for (int s = 0; s <= STEPS; s++) {
            for (int q = 0; q < expected[s].length; q++) {
                assertEquals(TensorParallelEngineTest.argmax(expected[s][q]), TensorParallelEngineTest.argmax(actual[s][q]), what + ": token of step " + s + ", sequence " + q);
                worst = Math.max(worst, GoldenCase.relativeError(actual[s][q], expected[s][q]));
            }
        }
        System.out.printf("%s: worst relative logits difference %.2e%n", what, worst);
        assertTrue(worst <= tolerance, what + ": logits differ by " + worst);
    }

    /** Every unit selected: N ranks of polar decode give one rank's dense tokens. */
    @ParameterizedTest(name = "{0} over {1} ranks")
    @CsvSource({"tiny-llama, 2", "tiny-llama, 4", "tiny-opt, 2", "tiny-opt, 4"})
    void densityOneGivesTheDenseTokens(String name, int n) throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/" + name));
        PolarSparsity all = PolarSparsity.load(PolarDecodeTest.trained(name)).withAttentionDensity(1.0).withoutMlp();
        List<int[]> prompts = prompts(name);
        assertSame(name + " polar 1.0 over " + n + " ranks vs dense", oneRank(model, prompts, null), ranks(model, prompts, all, n), 1e-5);
    }

    /**
     * Trained routers at attention density 0.5: N ranks choose the same units as one device (the router runs over the whole
     * model on every rank) and give one device's polar tokens. The logits differ only by float32 summation order (the
     * output projection summed in N parts, then across ranks), which can also nudge a router score; 1e-5 holds here.
     */
    @ParameterizedTest(name = "{0} over {1} ranks")
    @CsvSource({"tiny-llama, 2", "tiny-llama, 4", "tiny-opt, 2", "tiny-opt, 4"})
    void halfDensityGivesOneRanksPolarTokens(String name, int n) throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/" + name));
        PolarSparsity half = PolarSparsity.load(PolarDecodeTest.trained(name)).withAttentionDensity(0.5).withoutMlp();
        assertTrue(half.plan().attnK(1) < half.plan().units(), "density 0.5 drops units");
        List<int[]> prompts = prompts(name);
        float[][][] one = oneRank(model, prompts, half);
        assertSame(name + " polar 0.5 over " + n + " ranks vs one rank", one, ranks(model, prompts, half, n), 1e-5);
        float[][][] dense = oneRank(model, prompts, null);
        assertTrue(!Arrays.equals(dense[1][0], one[1][0]), "density 0.5 changes the decode logits");
    }

    /** tiny-opt with every neuron through the sparse MLP on each rank (its k split by rank) gives the dense tokens. */
    @Test
    void allNeuronsThroughTheRanksSparseMlpGiveTheDenseTokens() throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/tiny-opt"));
        PolarSparsity polar = PolarSparsity.load(PolarDecodeTest.trained("tiny-opt")).withAttentionDensity(1.0);
        MlpTable t = polar.plan().mlp();
        int[][] all = new int[t.layers()][t.batchSizes().length];
        for (int[] row : all) Arrays.fill(row, t.ffn());
        polar = new PolarSparsity(polar.plan().withMlp(new MlpTable(t.ffn(), t.tile(), 1.0, t.score(), t.recall(), t.batchSizes(), all)), polar.routers());
        List<int[]> prompts = prompts("tiny-opt");
        assertSame("tiny-opt every neuron through the sparse MLP over 2 ranks vs dense", oneRank(model, prompts, null), ranks(model, prompts, polar, 2), 1e-5);
    }
}
