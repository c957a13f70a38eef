package polar.tornado.kernels;

import polar.tornado.KernelContext;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * Polar's attention router fused with its top-k: one work-group per token computes the token's
 * scores over every unit (query head for MHA, KV group for GQA),
 * {@code scores[t][u] = in[t] . w[u] + bias[u]}, and writes the indices of the {@code k} best to
 * {@code selected [t, k]} with {@link TopK#small}'s order and tie rule. One launch instead of three
 * (a GEMM, a bias add and {@code TopK.small}): on the H100 a GEMM of only 8-32 columns runs on a
 * handful of SMs, and the three took 25-32 µs a layer at batch 16-64 where this takes a few.
 *
 * <p>{@code in [tokens, dim]} is the router's input (the normed hidden state, or a two-layer
 * router's hidden activations), {@code w [units, dim]} of the same type. Each pass scores
 * {@link #PASS} units: every work-item takes the 8 elements at {@code p = 8 * localIdx + 8 * THREADS * s}
 * of the input row and of the pass's rows of {@code w} (16-byte loads, {@code PASS + 1} in flight),
 * then a warp and a group reduction give the scores. Requires {@code dim % 8 == 0},
 * {@code 1 <= k <= units <= MAX_UNITS}. Launch with {@code Grid.groups(tokens, THREADS)}.
 */
public final class HeadRouter {
    private HeadRouter() {}

    public static final int THREADS = 256;
    static final int WARPS = THREADS / KernelContext.WARP_SIZE;
    /**
     * Units scored per pass over the input row: 16 loads of {@code w} in flight per work-item, and
     * the 32 heads of a 7B model in two passes (with 8, the H100 took 13 µs a launch at batch 16 for 32 heads, 7 for 8 units).
     */
    static final int PASS = 16;
    /** Most units one launch takes. */
    public static final int MAX_UNITS = TopK.SMALL_MAX;

    /** Whether a router of {@code units} over inputs of width {@code dim} fits these kernels. */
    public static boolean supports(int units, int dim) {
        return units >= 1 && units <= MAX_UNITS && dim % 8 == 0;
    }

    /** float16 input and router weights (CUDA's activations). */
    public static void scoreTopKHalf(KernelContext ctx, HalfArray in, HalfArray w, FloatArray bias, FloatArray scores, IntArray selected,
                                     int dim, int units, int k) {
        float[] partial = ctx.allocateFloatLocalArray(WARPS * PASS);
        int[] keys = ctx.allocateIntLocalArray(MAX_UNITS);
        int[] chosen = ctx.allocateIntLocalArray(MAX_UNITS);
        float[] acc = new float[PASS];
        float[] x = new float[8];
        float[] wv = new float[8];
        int t = ctx.groupIdx;
        for (int u0 = 0; u0 < units; u0 += PASS) {
            for (int q = 0; q < PASS; q++) acc[q] = 0f;
            for (int p = ctx.localIdx * 8; p < dim; p += THREADS * 8) {
                in.load8(t * dim + p, x);
                for (int q = 0; q < PASS; q++) {
                    w.load8(Math.min(u0 + q, units - 1) * dim + p, wv); // rows past the last repeat it; their sums are dropped
                    acc[q] += dot8(x, wv);
                }
            }
            storeScores(ctx, partial, acc, bias, scores, keys, t, u0, units);
        }
        TopK.selectRanked(ctx, keys, chosen, selected, t, units, k);
    }

    /** float32 input and router weights (the activations off CUDA). */
    public static void scoreTopK(KernelContext ctx, FloatArray in, FloatArray w, FloatArray bias, FloatArray scores, IntArray selected,
                                 int dim, int units, int k) {
        float[] partial = ctx.allocateFloatLocalArray(WARPS * PASS);
        int[] keys = ctx.allocateIntLocalArray(MAX_UNITS);
        int[] chosen = ctx.allocateIntLocalArray(MAX_UNITS);
        float[] acc = new float[PASS];
        float[] x = new float[4];
        float[] wv = new float[4];
        int t = ctx.groupIdx;
        for (int u0 = 0; u0 < units; u0 += PASS) {
            for (int q = 0; q < PASS; q++) acc[q] = 0f;
            for (int p = ctx.localIdx * 8; p < dim; p += THREADS * 8) {
                for (int half = 0; half < 8; half += 4) {
                    in.load4(t * dim + p + half, x);
                    for (int q = 0; q < PASS; q++) {
                        w.load4(Math.min(u0 + q, units - 1) * dim + p + half, wv);
                        acc[q] += x[0] * wv[0] + x[1] * wv[1] + x[2] * wv[2] + x[3] * wv[3];
                    }
                }
            }
            storeScores(ctx, partial, acc, bias, scores, keys, t, u0, units);
        }
        TopK.selectRanked(ctx, keys, chosen, selected, t, units, k);
    }

    static float dot8(float[] x, float[] w) {
        float s = 0f;
        for (int e = 0; e < 8; e++) s += x[e] * w[e];
        return s;
    }

    /**
     * Sums each of the pass's {@code PASS} partial dot products over the group, adds the bias and
     * stores the score (to {@code scores} and, as a {@link TopK} key, to {@code keys}).
     */
    static void storeScores(KernelContext ctx, float[] partial, float[] acc, FloatArray bias, FloatArray scores, int[] keys,
                            int t, int u0, int units) {
        for (int q = 0; q < PASS; q++) {
            float v = ctx.warpReduceSum(acc[q]);
            if (ctx.laneId() == 0) partial[ctx.warpId() * PASS + q] = v;
        }
        ctx.localBarrier();
        int q = ctx.localIdx;
        if (q < PASS && u0 + q < units) {
            float s = 0f;
            for (int v = 0; v < WARPS; v++) s += partial[v * PASS + q];
            s += bias.get(u0 + q);
            scores.set(t * units + u0 + q, s);
            keys[u0 + q] = TopK.key(s);
        }
        ctx.localBarrier();
    }
}
