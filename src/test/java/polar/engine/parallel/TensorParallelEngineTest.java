package polar.engine.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import polar.engine.Golden;
import polar.engine.Engine;
import polar.engine.EngineOptions;
import polar.engine.Sequence;
import polar.model.Model;
import polar.model.ModelLoader;
import polar.model.SharedAssets;
import polar.runtime.jvm.JvmBackend;
import polar.tornado.runtime.Backend;

/**
 * The engine split over 2 and 4 simulated ranks (one JVM backend each, {@link LocalCommunicator})
 * against the same engine on one backend and PyTorch's outputs: five prompts prefilled and greedily
 * decoded together give the same tokens, and logits agree to float32 rounding.
 */
class TensorParallelEngineTest {
    static final int GREEDY_TOKENS = 8;
    /** One rank against several: the same float32 math, the O and down GEMMs summed in another grouping. */
    static final double RANKS_TOLERANCE = 1e-5;
    /** A float32 engine against PyTorch's float32 (the project README's expectation). */
    static final double GOLDEN_TOLERANCE = 1e-4;

    static EngineOptions options(int sequences) {
        return EngineOptions.defaults().withMaxSequences(sequences).withMaxContext(64);
    }

    static List<Backend> jvmBackends(int n) {
        return IntStream.range(0, n).<Backend>mapToObj(i -> new JvmBackend()).toList();
    }

    @ParameterizedTest(name = "{0} over {1} ranks")
    @CsvSource({"tiny-llama, 2", "tiny-llama, 4", "tiny-opt, 2", "tiny-opt, 4"})
    void sameTokensAsOneRank(String name, int ranks) throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/" + name));
        List<Golden> cases = Golden.load(name);
        List<int[]> prompts = cases.stream().map(Golden::promptIds).toList();
        try (JvmBackend single = new JvmBackend();
             Engine one = new Engine(single, model, options(cases.size()));
             TensorParallelEngine split = TensorParallelEngine.local(jvmBackends(ranks), model, options(cases.size()))) {
            assertEquals(ranks, split.ranks());
            List<Sequence> oneSeqs = new ArrayList<>();
            List<Sequence> splitSeqs = new ArrayList<>();
            for (int i = 0; i < cases.size(); i++) {
                oneSeqs.add(one.newSequence());
                splitSeqs.add(split.newSequence());
            }
            float[][] expected = one.prefill(oneSeqs, prompts);
            float[][] logits = split.prefill(splitSeqs, prompts);
            double worstRanks = 0, worstGolden = 0;
            for (int i = 0; i < cases.size(); i++) {
                worstRanks = Math.max(worstRanks, ShardedReferenceTest.relative(logits[i], expected[i]));
                worstGolden = Math.max(worstGolden, ShardedReferenceTest.relative(logits[i], cases.get(i).lastLogits()));
            }
            System.out.printf("%s over %d ranks (jvm): prefill logits vs one rank %.2e, vs PyTorch %.2e%n", name, ranks, worstRanks, worstGolden);
            assertTrue(worstRanks <= RANKS_TOLERANCE, "logits over " + ranks + " ranks differ from one rank's by " + worstRanks);
            assertTrue(worstGolden <= GOLDEN_TOLERANCE, "logits over " + ranks + " ranks differ from PyTorch's by " + worstGolden);
            assertRanksAgree(split);

            int[][] oneTokens = new int[cases.size()][GREEDY_TOKENS], splitTokens = new int[cases.size()][GREEDY_TOKENS];
            for (int step = 0; step < GREEDY_TOKENS; step++) {
                int[] a = new int[cases.size()], b = new int[cases.size()];
                for (int i = 0; i < a.length; i++) {
                    a[i] = oneTokens[i][step] = argmax(expected[i]);
                    b[i] = splitTokens[i][step] = argmax(logits[i]);
                }
                if (step + 1 < GREEDY_TOKENS) {
                    expected = one.decode(oneSeqs, a);
                    logits = split.decode(splitSeqs, b);
                }
            }
            for (int i = 0; i < cases.size(); i++) {
                assertArrayEquals(oneTokens[i], splitTokens[i], name + " prompt " + i + ": tokens over " + ranks + " ranks vs one");
                assertArrayEquals(Arrays.copyOf(cases.get(i).greedyIds(), GREEDY_TOKENS), splitTokens[i], name + " prompt " + i + ": golden tokens");
            }
            assertRanksAgree(split);
            splitSeqs.forEach(split::release);
            for (int r = 0; r < ranks; r++) {
                assertEquals(split.engine(r).cache().capacityBlocks(), split.engine(r).cache().freeBlocks(), "rank " + r + ": every block is free again");
            }
        }
    }

    /** After an all-reduce every rank holds the same hidden state, so every rank computes bit-identical logits. */
    private static void assertRanksAgree(TensorParallelEngine split) {
        float[] first = null;
        for (int r = 0; r < split.ranks(); r++) {
            Engine e = split.engine(r);
            float[] logits = e.backend().read(e.stepBuffers().logits()).toArray();
            if (first == null) first = logits;
            else assertArrayEquals(first, logits, "logits of rank " + r + " vs rank 0");
        }
    }

    @Test
    void eachRankCachesItsOwnKvHeads() throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/tiny-llama"));
        try (JvmBackend single = new JvmBackend();
             Engine one = new Engine(single, model, options(2));
             TensorParallelEngine split = TensorParallelEngine.local(jvmBackends(2), model, options(2))) {
            long whole = one.cache().buffers().keys().getFirst().length();
            for (int r = 0; r < 2; r++) {
                Engine e = split.engine(r);
                assertEquals(2, e.config().kvHeads());
                assertEquals(4, e.config().heads());
                assertEquals(352, e.config().ffn());
                assertEquals(whole / 2, e.cache().buffers().keys().getFirst().length(), "rank " + r + " K cache of layer 0");
            }
            assertEquals(model.config(), split.config());
            Sequence foreign = one.newSequence();
            assertThrows(IllegalArgumentException.class, () -> split.decode(List.of(foreign), new int[] {1}), "a sequence of another engine");
            Sequence mine = split.newSequence();
            split.prefill(List.of(mine), List.of(new int[] {0, 5}));
            assertEquals(2, mine.length(), "the engine still works after a refused call");
            split.release(mine);
            assertEquals(split.cache().capacityBlocks(), split.cache().freeBlocks());
        }
    }

    @Test
    void aModelThatDoesNotSplitIsRefused() throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/tiny-llama"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TensorParallelEngine.local(jvmBackends(8), model, options(1)));
        assertTrue(e.getMessage().contains("4 KV heads") && e.getMessage().contains("8"), e.getMessage());
    }

    /** A step that fails on the ranks fails the call (no rank waits forever) and leaves the engine failed. */
    @Test
    void aFailedStepFailsCleanly() throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/tiny-opt"));
        try (TensorParallelEngine split = TensorParallelEngine.local(jvmBackends(2), model, options(1))) {
            Sequence s = split.newSequence();
            IllegalArgumentException bad = assertTimeoutPreemptively(Duration.ofMinutes(2),
                    () -> assertThrows(IllegalArgumentException.class, () -> split.prefill(List.of(s), List.of(new int[] {2, 99_999}))));
            assertTrue(bad.getMessage().contains("99999"), bad.getMessage());
            IllegalStateException later = assertThrows(IllegalStateException.class, () -> split.decode(List.of(s), new int[] {2}));
            assertTrue(later.getMessage().contains("earlier step"), later.getMessage());
        }
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
