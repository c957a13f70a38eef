package polar.model;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** Sampling: greedy, determinism by seed, and the distributions that temperature, top-k and top-p give. */
class SamplerTest {

    static float[] randomLogits(long seed, int n) {
        Random r = new Random(seed);
        float[] l = new float[n];
        for (int i = 0; i < n; i++) l[i] = (float) (r.nextGaussian() * 3);
        return l;
    }

    static int[] counts(Sampler s, float[] logits, int draws) {
        int[] c = new int[logits.length];
        for (int i = 0; i < draws; i++) c[s.sample(logits)]++;
        return c;
    }

    @Test
    void greedyTakesTheFirstLargestLogit() {
        float[] l = {1, 5, -2, 5, 3};
        assertEquals(1, Sampler.greedy().sample(l));
        assertEquals(1, new Sampler(0.8f, 1, 1, 7).sample(l)); // top-k 1 is greedy too
        float[] batch = {0, 0, 9, 1, 7, 2}; // two rows of 3
        assertEquals(1, Sampler.greedy().sample(batch, 3, 3));
    }

    @Test
    void sameSeedSameTokensDifferentSeedDifferentTokens() {
        float[] l = randomLogits(1, 4096);
        int[] a = new int[200], b = new int[200], c = new int[200];
        Sampler sa = new Sampler(1.0f, 40, 0.95f, 42), sb = new Sampler(1.0f, 40, 0.95f, 42), sc = new Sampler(1.0f, 40, 0.95f, 43);
        for (int i = 0; i < 200; i++) { a[i] = sa.sample(l); b[i] = sb.sample(l); c[i] = sc.sample(l); }
        assertArrayEquals(a, b);
        assertFalse(java.util.Arrays.equals(a, c));
    }

    @Test
    void temperatureSamplingFollowsTheSoftmax() {
        float[] l = {2.0f, 1.0f, 0.0f, -1.0f, 0.5f};
        float t = 0.7f;
        double[] p = new double[l.length];
        double sum = 0;
        for (int i = 0; i < l.length; i++) sum += p[i] = Math.exp(l[i] / t);
        int draws = 40_000;
        int[] c = counts(new Sampler(t, 0, 1, 5), l, draws);
        for (int i = 0; i < l.length; i++) {
            double expected = p[i] / sum * draws, sigma = Math.sqrt(draws * (p[i] / sum) * (1 - p[i] / sum));
            assertEquals(expected, c[i], 5 * sigma + 1, "token " + i);
        }
    }

    @Test
    void topKDrawsOnlyFromTheKBest() {
        float[] l = randomLogits(2, 1000);
        int[] order = java.util.stream.IntStream.range(0, l.length).boxed()
                .sorted((a, b) -> Float.compare(l[b], l[a])).mapToInt(Integer::intValue).toArray();
        int[] c = counts(new Sampler(5.0f, 3, 1, 9), l, 3000); // high temperature: all three get drawn
        int inTop3 = c[order[0]] + c[order[1]] + c[order[2]];
        assertEquals(3000, inTop3);
        for (int k = 0; k < 3; k++) assertTrue(c[order[k]] > 0, "every one of the top 3 is drawn");
    }

    @Test
    void topPKeepsTheSmallestNucleusAndRenormalises() {
        // probabilities 0.5, 0.3, 0.15, 0.05 at temperature 1
        float[] l = {(float) Math.log(0.15), (float) Math.log(0.5), (float) Math.log(0.05), (float) Math.log(0.3)};
        int draws = 20_000;
        int[] c = counts(new Sampler(1, 0, 0.7f, 11), l, draws); // 0.5 < 0.7 <= 0.5 + 0.3: tokens 1 and 3
        assertEquals(0, c[0]);
        assertEquals(0, c[2]);
        double p1 = 0.5 / 0.8, sigma = Math.sqrt(draws * p1 * (1 - p1));
        assertEquals(p1 * draws, c[1], 5 * sigma);
        // top-p 0.9 adds token 0 (0.5 + 0.3 + 0.15 = 0.95 >= 0.9) but never token 2
        int[] wider = counts(new Sampler(1, 0, 0.9f, 11), l, draws);
        assertEquals(0, wider[2]);
        assertTrue(wider[0] > 0);
    }

    /** Ties at the nucleus's edge go to the lower indices: of 300 equally likely tokens, top-p 0.5 keeps the first 150 or so. */
    @Test
    void topPBreaksTiesByIndex() {
        float[] l = new float[600];
        for (int i = 0; i < l.length; i++) l[i] = i % 2 == 0 ? 0f : -10f; // the tied tokens are the even ones
        int[] c = counts(new Sampler(1, 0, 0.5f, 3), l, 20_000);
        int highest = 0;
        for (int i = 0; i < l.length; i++) if (c[i] > 0) highest = i;
        assertTrue(highest >= 2 * 140 && highest <= 2 * 151, "the nucleus is the first ~150 tied tokens by index, drawn up to " + highest);
        for (int i = 1; i < l.length; i += 2) assertEquals(0, c[i], "unlikely token " + i);
    }

    @Test
    void nanLogitsAreRejected() {
        float[] l = {1, Float.NaN, 0};
        assertThrows(IllegalArgumentException.class, () -> new Sampler(1, 0, 1, 1).sample(l));
    }
}
