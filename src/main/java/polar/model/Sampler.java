package polar.model;

import java.util.SplittableRandom;

/**
 * Picks the next token from logits: greedy (temperature 0), or a draw from the softmax at {@code temperature},
 * restricted to the {@code topK} most likely tokens (0: all) and then to the smallest set whose probability
 * reaches {@code topP} (1: all). One sampler per sequence; for a given seed the sequence of choices is
 * always the same.
 */
public final class Sampler {
    private final float temperature;
    private final int topK;
    private final float topP;
    private final SplittableRandom random;

    public Sampler(float temperature, int topK, float topP, long seed) {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("top-k must be >= 0, got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
        this.random = new SplittableRandom(seed);
    }

    public static Sampler greedy() { return new Sampler(0, 0, 1, 0); }

    public boolean isGreedy() { return temperature == 0 || topK == 1; }

    public int sample(float[] logits) { return sample(logits, 0, logits.length); }

    /** The next token from {@code logits[offset .. offset+vocab)} (one row of a batch's logits); returns an index in [0, vocab). */
    public int sample(float[] logits, int offset, int vocab) {
        if (vocab <= 0) throw new IllegalArgumentException("no logits to sample from");
        for (int i = 0; i < vocab; i++)
            if (Float.isNaN(logits[offset + i])) throw new IllegalArgumentException("logit " + i + " is NaN");
        if (isGreedy()) return argmax(logits, offset, vocab);

        int[] candidates = candidates(logits, offset, vocab);
        int n = candidates.length;
        double max = Double.NEGATIVE_INFINITY;
        for (int c : candidates) max = Math.max(max, logits[offset + c]);
        double[] p = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) sum += p[i] = Math.exp((logits[offset + candidates[i]] - max) / temperature);
        int kept = n;
        if (topP < 1) {
            double cumulative = 0;
            for (int i = 0; i < n; i++) {
                cumulative += p[i] / sum;
                if (cumulative >= topP) { kept = i + 1; break; }
            }
        }
        double total = 0;
        for (int i = 0; i < kept; i++) total += p[i];
        double r = random.nextDouble() * total;
        for (int i = 0; i < kept; i++) {
            r -= p[i];
            if (r < 0) return candidates[i];
        }
        return candidates[kept - 1]; // rounding left r at or just above zero
    }

    /**
     * Candidate indices: the top k, or for top-p alone the tokens that could be inside the nucleus (a token with
     * probability below (1 - topP) / (vocab - 1) never is, as in llama2.c), most likely first (ties: lower index
     * first); for temperature alone every token in index order, which needs no sorting.
     */
    private int[] candidates(float[] logits, int offset, int vocab) {
        int[] idx;
        if (topK > 0 && topK < vocab) {
            idx = topKIndices(logits, offset, vocab, topK);
        } else if (topP < 1 && vocab > 1) {
            float max = logits[offset + argmax(logits, offset, vocab)];
            double sum = 0;
            for (int i = 0; i < vocab; i++) sum += Math.exp((logits[offset + i] - max) / temperature);
            // p_i >= cutoff  <=>  logit_i >= max + T * log(cutoff * sum)
            double cutoff = (1 - topP) / (vocab - 1);
            double threshold = Math.min(max, max + temperature * Math.log(cutoff * sum));
            IntList kept = new IntList();
            for (int i = 0; i < vocab; i++) if (logits[offset + i] >= threshold) kept.add(i);
            idx = kept.toArray();
        } else {
            idx = new int[vocab];
            for (int i = 0; i < vocab; i++) idx[i] = i;
            if (topP == 1) return idx;
        }
        return sortByLogitDescending(idx, logits, offset);
    }

    /** Sorts {@code idx} in place, most likely first (ties: lower index first): heapsort, the worst token leaving the heap's root for the end. */
    private static int[] sortByLogitDescending(int[] idx, float[] logits, int offset) {
        for (int i = 1; i < idx.length; i++) siftUp(idx, i, logits, offset);
        for (int end = idx.length - 1; end > 0; end--) {
            int t = idx[0]; idx[0] = idx[end]; idx[end] = t;
            siftDown(idx, end, logits, offset);
        }
        return idx;
    }

    /** The indices of the k largest logits (unordered), with a min-heap of size k. */
    private static int[] topKIndices(float[] logits, int offset, int vocab, int k) {
        int[] heap = new int[k];
        for (int i = 0; i < k; i++) { heap[i] = i; siftUp(heap, i, logits, offset); }
        for (int i = k; i < vocab; i++) {
            if (worse(heap[0], i, logits, offset)) {
                heap[0] = i;
                siftDown(heap, k, logits, offset);
            }
        }
        return heap;
    }

    /** Whether token a ranks below token b (lower logit, -0 below +0, or equal logit and higher index). */
    private static boolean worse(int a, int b, float[] logits, int offset) {
        int c = Float.compare(logits[offset + a], logits[offset + b]);
        return c < 0 || (c == 0 && a > b);
    }

    private static void siftUp(int[] h, int i, float[] logits, int offset) {
        while (i > 0) {
            int parent = (i - 1) / 2;
            if (!worse(h[i], h[parent], logits, offset)) return;
            int t = h[i]; h[i] = h[parent]; h[parent] = t;
            i = parent;
        }
    }

    private static void siftDown(int[] h, int n, float[] logits, int offset) {
        int i = 0;
        while (true) {
            int l = 2 * i + 1, r = l + 1, least = i;
            if (l < n && worse(h[l], h[least], logits, offset)) least = l;
            if (r < n && worse(h[r], h[least], logits, offset)) least = r;
            if (least == i) return;
            int t = h[i]; h[i] = h[least]; h[least] = t;
            i = least;
        }
    }

    /** Index of the largest logit (the first on ties). */
    public static int argmax(float[] logits, int offset, int vocab) {
        int best = 0;
        for (int i = 1; i < vocab; i++) if (logits[offset + i] > logits[offset + best]) best = i;
        return best;
    }

    public static int argmax(float[] logits) { return argmax(logits, 0, logits.length); }
}
