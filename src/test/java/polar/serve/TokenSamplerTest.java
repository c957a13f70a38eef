package polar.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TokenSamplerTest {
    /** Probabilities 0.4, 0.3, 0.2, 0.1 (as logits), placed in the middle of a longer array. */
    private static final float[] ROW = {9f, (float) Math.log(0.1), (float) Math.log(0.4), (float) Math.log(0.2), (float) Math.log(0.3), 9f};
    private static final int OFFSET = 1, VOCAB = 4;

    private static int[] histogram(SamplingParams p, int draws) {
        TokenSampler s = new TokenSampler(p);
        int[] counts = new int[VOCAB];
        for (int i = 0; i < draws; i++) counts[s.sample(ROW, OFFSET, VOCAB)]++;
        return counts;
    }

    @Test
    void greedyTakesTheArgmaxOfItsRow() {
        assertEquals(1, new TokenSampler(SamplingParams.greedy()).sample(ROW, OFFSET, VOCAB));
    }

    @Test
    void temperatureOneFollowsTheDistribution() {
        int[] c = histogram(new SamplingParams(1f, 1f, 0, 42), 20000);
        double[] p = {0.1, 0.4, 0.2, 0.3};
        for (int i = 0; i < VOCAB; i++) assertEquals(p[i], c[i] / 20000.0, 0.02, "token " + i);
    }

    @Test
    void topKAndTopPCutTheTail() {
        int[] k2 = histogram(new SamplingParams(1f, 1f, 2, 1), 5000);
        assertEquals(0, k2[0] + k2[2], "top_k 2 keeps the two likeliest");
        assertEquals(4.0 / 7, k2[1] / 5000.0, 0.03);
        int[] p6 = histogram(new SamplingParams(1f, 0.6f, 0, 2), 5000);
        assertEquals(0, p6[0] + p6[2], "top_p 0.6: 0.4 + 0.3 reaches it");
        int[] p75 = histogram(new SamplingParams(1f, 0.75f, 0, 3), 5000);
        assertEquals(0, p75[0], "top_p 0.75 keeps 0.4 + 0.3 + 0.2");
        assertTrue(p75[2] > 0);
    }

    @Test
    void aSeedRepeats() {
        assertEquals(java.util.Arrays.toString(histogram(new SamplingParams(0.7f, 0.9f, 3, 5), 50)),
                java.util.Arrays.toString(histogram(new SamplingParams(0.7f, 0.9f, 3, 5), 50)));
    }
}
