package polar.serve;

import java.util.Arrays;
import java.util.SplittableRandom;

/** Picks tokens from logits rows for one request, with that request's parameters and random stream. */
final class TokenSampler {
    private final SamplingParams params;
    private final SplittableRandom random;
    private float[] probs = new float[0];
    private int[] order = new int[0];

    TokenSampler(SamplingParams params) {
        this.params = params;
        this.random = new SplittableRandom(params.seed());
    }

    /** The token for the row {@code logits[offset .. offset + vocab)}. */
    int sample(float[] logits, int offset, int vocab) {
        if (params.isGreedy()) return argmax(logits, offset, vocab);
        if (probs.length != vocab) {
            probs = new float[vocab];
            order = new int[vocab];
        }
        float max = logits[offset + argmax(logits, offset, vocab)];
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            float p = (float) Math.exp((logits[offset + i] - max) / params.temperature());
            probs[i] = p;
            sum += p;
        }
        int n = candidates(sum, vocab);
        double mass = 0;
        for (int i = 0; i < n; i++) mass += probs[order[i]];
        // Nucleus: cut the sorted candidates once their mass reaches topP of the total.
        if (params.topP() < 1f) {
            double cut = params.topP() * sum, acc = 0;
            for (int i = 0; i < n; i++) {
                acc += probs[order[i]];
                if (acc >= cut) { n = i + 1; mass = acc; break; }
            }
        }
        double r = random.nextDouble() * mass;
        for (int i = 0; i < n; i++) {
            r -= probs[order[i]];
            if (r <= 0) return order[i];
        }
        return order[n - 1];
    }

    /** Fills {@code order[0..n)} with the candidate tokens, most likely first, and returns n. */
    private int candidates(double sum, int vocab) {
        boolean nucleus = params.topP() < 1f;
        if (params.topK() == 0 && !nucleus) {
            for (int i = 0; i < vocab; i++) order[i] = i;
            return vocab; // plain sampling needs no order
        }
        // Tokens below (1 - topP) / (vocab - 1) of the mass can never be inside the nucleus: skip sorting them.
        double floor = nucleus && params.topK() == 0 ? (1 - params.topP()) / (vocab - 1) * sum : -1;
        int n = 0;
        for (int i = 0; i < vocab; i++) if (probs[i] >= floor) order[n++] = i;
        Integer[] boxed = new Integer[n];
        for (int i = 0; i < n; i++) boxed[i] = order[i];
        Arrays.sort(boxed, (a, b) -> a.equals(b) ? 0 : probs[b] != probs[a] ? Float.compare(probs[b], probs[a]) : Integer.compare(a, b));
        int keep = params.topK() > 0 ? Math.min(params.topK(), n) : n;
        for (int i = 0; i < keep; i++) order[i] = boxed[i];
        return keep;
    }

    static int argmax(float[] logits, int offset, int vocab) {
        int best = 0;
        for (int i = 1; i < vocab; i++) if (logits[offset + i] > logits[offset + best]) best = i;
        return best;
    }
}
