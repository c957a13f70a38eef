package polar.serve;

import polar.model.Sampler;

/**
 * How one request picks its tokens.
 *
 * @param temperature 0 for greedy (argmax), else logits are divided by it before softmax
 * @param topP        nucleus: keep the smallest set of most likely tokens whose probability reaches topP (1 = all)
 * @param topK        keep the topK most likely tokens (0 = all)
 * @param seed        seeds this request's random stream, so a request with a seed repeats exactly
 */
public record SamplingParams(float temperature, float topP, int topK, long seed) {

    public SamplingParams {
        if (!(temperature >= 0)) throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        if (topK < 0) throw new IllegalArgumentException("top_k must be >= 0, got " + topK);
    }

    public static SamplingParams greedy() { return new SamplingParams(0f, 1f, 0, 0L); }

    /** A fresh sampler (with its own random stream) for one request. */
    public Sampler sampler() { return new Sampler(temperature, topK, topP, seed); }
}
