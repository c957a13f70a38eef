package polar.engine.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import polar.engine.Golden;
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
import polar.tornado.layers.SparseMlpBuffers;

/**
 * Polar Sparsity over simulated ranks (jvm backends, {@link LocalCommunicator}): attention units are
 * chosen over the whole model on every rank and each rank attends over its own; each rank's MLP
 * takes its share of k over its own neurons. Three golden prompts are prefilled, then greedily decoded
 * together, with split-K attention (partitions of 8 positions) so the combine path runs too.
 */
class TensorParallelSparsityTest {
    static final int STEPS = 6;

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

    /** One device's results by model and sparsity (several tests compare against the same). */
    private static final Map<String, float[][][]> ONE_RANK = new ConcurrentHashMap<>();

    static float[][][] oneRank(Model model, List<int[]> prompts, PolarSparsity sparsity) {
        String key = model.source() + " " + (sparsity == null ? "dense" : sparsity.plan() + " mlp " + sparsity.plan().mlp());
        return ONE_RANK.computeIfAbsent(key, k -> runOneRank(model, prompts, sparsity));
    }

    private static float[][][] runOneRank(Model model, List<int[]> prompts, PolarSparsity sparsity) {
        try (JvmBackend backend = new JvmBackend(); Engine engine = new Engine(backend, model, options(prompts.size(), sparsity))) {
            return run(engine, prompts);
        }
    }

    static float[][][] ranks(Model model, List<int[]> prompts, PolarSparsity sparsity, int ranks) {
        try (TensorParallelEngine engine = TensorParallelEngine.local(TensorParallelEngineTest.jvmBackends(ranks), model, options(prompts.size(), sparsity))) {
            return run(engine, prompts);
        }
    }

    /** The first three golden prompts (three sequences keep the step buckets small and the test quick). */
    static List<int[]> prompts(String name) throws Exception {
        return Golden.load(name).stream().limit(3).map(Golden::promptIds).toList();
    }

    /** Same greedy tokens at every step; logits within {@code tolerance} relative (norm over the vocabulary). */
    static void assertSame(String what, float[][][] expected, float[][][] actual, double tolerance) {
        double worst = 0;
        for (int s = 0; s <= STEPS; s++) {
            for (int q = 0; q < expected[s].length; q++) {
                assertEquals(TensorParallelEngineTest.argmax(expected[s][q]), TensorParallelEngineTest.argmax(actual[s][q]), what + ": token of step " + s + ", sequence " + q);
                worst = Math.max(worst, ShardedReferenceTest.relative(actual[s][q], expected[s][q]));
            }
        }
        System.out.printf("%s: worst relative logits difference %.2e%n", what, worst);
        assertTrue(worst <= tolerance, what + ": logits differ by " + worst);
    }

    /** Every unit selected: N ranks of polar decode give one rank's dense tokens. */
    @ParameterizedTest(name = "{0} over {1} ranks")
    @CsvSource({"tiny-llama, 4", "tiny-opt, 2"})
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
    @CsvSource({"tiny-llama, 2", "tiny-llama, 4", "tiny-opt, 2"})
    void halfDensityGivesOneRanksPolarTokens(String name, int n) throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/" + name));
        PolarSparsity half = PolarSparsity.load(PolarDecodeTest.trained(name)).withAttentionDensity(0.5).withoutMlp();
        assertTrue(half.plan().attnK(1) < half.plan().units(), "density 0.5 drops units");
        List<int[]> prompts = prompts(name);
        float[][][] split = ranks(model, prompts, half, n);
        assertSame(name + " polar 0.5 over " + n + " ranks vs one rank", oneRank(model, prompts, half), split, 1e-5);
        float[][][] dense = oneRank(model, prompts, null);
        double change = 0;
        for (int q = 0; q < prompts.size(); q++) change = Math.max(change, ShardedReferenceTest.relative(split[STEPS][q], dense[STEPS][q]));
        assertTrue(change > 1e-3, "density 0.5 over ranks changes the decode logits (by " + change + " from dense)");
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

    /**
     * tiny-opt's trained MLP plan over 2 ranks: after a decode step of 4 sequences, each rank's active neurons are the
     * top {@code ceil(k / 2)} of its own {@code ffn / 2} neurons by the batch's summed router scores (k: the plan's for batch 4).
     */
    @Test
    void eachRankKeepsItsShareOfKOverItsOwnNeurons() throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/tiny-opt"));
        PolarSparsity polar = PolarSparsity.load(PolarDecodeTest.trained("tiny-opt"));
        MlpTable table = polar.plan().mlp();
        List<int[]> prompts = Golden.load("tiny-opt").stream().limit(4).map(Golden::promptIds).toList();
        int batch = prompts.size(), ranks = 2, ffn = table.ffn() / ranks;
        try (TensorParallelEngine engine = TensorParallelEngine.local(TensorParallelEngineTest.jvmBackends(ranks), model, options(batch, polar))) {
            List<Sequence> seqs = new ArrayList<>();
            for (int i = 0; i < batch; i++) seqs.add(engine.newSequence());
            float[][] logits = engine.prefill(seqs, prompts);
            int[] next = new int[batch];
            for (int i = 0; i < batch; i++) next[i] = TensorParallelEngineTest.argmax(logits[i]);
            engine.decode(seqs, next);
            int layer = model.config().layers() - 1; // the scratch holds the last layer's scores and choice
            int k = table.k(layer, batch);
            assertTrue(k < table.denseAbove() * table.ffn(), "the last layer's MLP is sparse at batch " + batch);
            for (int r = 0; r < ranks; r++) {
                SparseMlpBuffers mlp = engine.sparsity(r).mlp;
                assertEquals((k + ranks - 1) / ranks, mlp.k(layer, batch, ffn), "rank " + r + "'s share of k");
                Engine e = engine.engine(r);
                float[] sums = Arrays.copyOf(e.backend().read(mlp.sums()).toArray(), ffn); // the batch's summed router scores of this rank's neurons
                int[] active = Arrays.copyOf(e.backend().read(mlp.active()).toArray(), mlp.k(layer, batch, ffn));
                assertArrayEquals(topK(sums, active.length), active, "rank " + r + ": active neurons of layer " + layer);
            }
        }
    }

    /** Indices of the k largest values (ties to the lower index), ascending. */
    static int[] topK(float[] values, int k) {
        return java.util.stream.IntStream.range(0, values.length).boxed()
                .sorted((a, b) -> values[a] != values[b] ? Float.compare(values[b], values[a]) : Integer.compare(a, b))
                .limit(k).mapToInt(Integer::intValue).sorted().toArray();
    }
}
