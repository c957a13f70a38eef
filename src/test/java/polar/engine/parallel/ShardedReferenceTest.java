package polar.engine.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import polar.engine.Golden;
import polar.model.Model;
import polar.model.ModelLoader;
import polar.model.ReferenceForward;
import polar.model.SharedAssets;

/**
 * Megatron-style splitting is exact: in float64, the ranks' partial outputs of every layer's attention
 * block and MLP block add up to the unsplit block's output (to float64 rounding), and a whole forward
 * pass over the ranks, summing after each block, reproduces PyTorch's logits and greedy tokens.
 */
class ShardedReferenceTest {
    /** Relative difference left by summing the same products in another grouping, in float64. */
    static final double FLOAT64_ROUNDING = 1e-12;
    /** float64 against PyTorch's float32 (as the project README expects of a float32 engine). */
    static final double GOLDEN_LOGITS = 1e-4;
    static final int GREEDY_TOKENS = 8;

    @ParameterizedTest(name = "{0} over {1} ranks")
    @CsvSource({"tiny-llama, 2", "tiny-llama, 4", "tiny-opt, 2", "tiny-opt, 4"})
    void everyBlockIsTheSumOfItsRanksPartials(String name, int ranks) throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/" + name));
        int[] prompt = Golden.load(name).getFirst().promptIds();
        ShardedReference whole = new ShardedReference(List.of(model), prompt.length);
        ShardedReference split = new ShardedReference(Sharding.split(model, ranks), prompt.length);
        assertEquals(ranks, split.ranks());
        double worst = 0, smallestShare = Double.MAX_VALUE;
        for (int pos = 0; pos < prompt.length; pos++) {
            double[] x = whole.embedding(prompt[pos], pos);
            for (int l = 0; l < model.config().layers(); l++) {
                for (boolean attention : new boolean[] {true, false}) {
                    double[] block = (attention ? whole.attention(l, x, pos) : whole.mlp(l, x))[0];
                    double[][] parts = attention ? split.attention(l, x, pos) : split.mlp(l, x);
                    worst = Math.max(worst, relative(ShardedReference.sum(parts), block));
                    // Each rank holds a real share, not the whole block.
                    for (double[] part : parts) smallestShare = Math.min(smallestShare, relative(part, block));
                    ReferenceForward.add(x, block);
                }
            }
        }
        System.out.printf("%s over %d ranks: block sums vs unsplit blocks, worst relative difference %.2e%n", name, ranks, worst);
        assertTrue(worst <= FLOAT64_ROUNDING, name + " over " + ranks + " ranks: a block's partial sums differ by " + worst);
        assertTrue(smallestShare > 1e-2, "a rank's partial output is almost the whole block (" + smallestShare + ")");
    }

    @ParameterizedTest(name = "{0} over {1} ranks")
    @CsvSource({"tiny-llama, 2", "tiny-llama, 4", "tiny-opt, 2", "tiny-opt, 4"})
    void splitForwardReproducesGoldenLogitsAndTokens(String name, int ranks) throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/" + name));
        List<Model> shards = Sharding.split(model, ranks);
        double worstGolden = 0, worstUnsplit = 0;
        for (Golden c : Golden.load(name)) {
            int length = c.promptIds().length + GREEDY_TOKENS;
            ShardedReference whole = new ShardedReference(List.of(model), length), split = new ShardedReference(shards, length);
            double[] logits = null;
            for (int pos = 0; pos < c.promptIds().length; pos++) {
                logits = split.next(c.promptIds()[pos], pos);
                worstUnsplit = Math.max(worstUnsplit, relative(logits, whole.next(c.promptIds()[pos], pos)));
            }
            double err = relative(logits, c.lastLogits());
            assertTrue(err <= GOLDEN_LOGITS, name + " over " + ranks + " ranks: last logits differ from PyTorch's by " + err);
            worstGolden = Math.max(worstGolden, err);
            int[] tokens = new int[GREEDY_TOKENS];
            for (int i = 0; i < GREEDY_TOKENS; i++) {
                tokens[i] = ReferenceForward.argmax(logits);
                if (i + 1 < GREEDY_TOKENS) logits = split.next(tokens[i], c.promptIds().length + i);
            }
            assertArrayEquals(Arrays.copyOf(c.greedyIds(), GREEDY_TOKENS), tokens, name + " over " + ranks + " ranks: greedy tokens");
        }
        System.out.printf("%s over %d ranks: logits vs PyTorch %.2e, vs unsplit float64 %.2e%n", name, ranks, worstGolden, worstUnsplit);
        assertTrue(worstUnsplit <= FLOAT64_ROUNDING, "split and unsplit float64 logits differ by " + worstUnsplit);
    }

    /** Over one rank, summing the blocks is the project's float64 reference itself, token after token. */
    @Test
    void oneRankIsTheReferenceForward() throws Exception {
        for (String name : new String[] {"tiny-llama", "tiny-opt"}) {
            Model model = ModelLoader.load(SharedAssets.require("models/" + name));
            int[] prompt = Golden.load(name).getFirst().promptIds();
            ReferenceForward reference = new ReferenceForward(model, prompt.length);
            ShardedReference ours = new ShardedReference(Sharding.split(model, 1), prompt.length);
            for (int pos = 0; pos < prompt.length; pos++) {
                double err = relative(ours.next(prompt[pos], pos), reference.next(prompt[pos]));
                assertTrue(err <= 1e-15, name + " position " + pos + ": differs from ReferenceForward by " + err);
            }
        }
    }

    /** {@code ||a - b|| / ||b||} of float32 values (in float64); NaN gives NaN. */
    static double relative(float[] a, float[] b) {
        double[] x = new double[a.length], y = new double[b.length];
        for (int i = 0; i < a.length; i++) x[i] = a[i];
        for (int i = 0; i < b.length; i++) y[i] = b[i];
        return relative(x, y);
    }

    /** {@code ||a - b|| / ||b||} of {@code a} against float32 {@code b}. */
    static double relative(double[] a, float[] b) {
        double[] y = new double[b.length];
        for (int i = 0; i < b.length; i++) y[i] = b[i];
        return relative(a, y);
    }

    /** {@code ||a - b|| / ||b||}; NaN gives NaN. */
    static double relative(double[] a, double[] b) {
        assertEquals(b.length, a.length);
        double diff = 0, norm = 0;
        for (int i = 0; i < b.length; i++) {
            diff += (a[i] - b[i]) * (a[i] - b[i]);
            norm += b[i] * b[i];
        }
        return Math.sqrt(diff / norm);
    }
}
