package polar.tornado.kernels;

import polar.tornado.KernelContext;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * Polar's attention router fused with its top-k: each token's scores over every unit (query head
 * for MHA, KV group for GQA), {@code scores[t][u] = in[t] . w[u] + bias[u]}, and the indices of
 * the {@code k} best in {@code selected [t, k]} with {@link TopK#small}'s order and tie rule. One
 * launch instead of three (a GEMM, a bias add and {@code TopK.small}): on the H100 a GEMM of only
 * 8-32 columns runs on a handful of SMs, and the three took 25-32 µs a layer at batch 16-64.
 *
 * <p>{@code in [tokens, dim]} is the router's input (the normed hidden state, or a two-layer
 * router's hidden activations), {@code w [units, dim]} of the same type. A token's work is spread
 * over work-groups, so that at batch 1 the router's weights stream through several SMs at once
 * instead of one: group {@code (t, slice, block)} scores the {@link #PASS} units of {@code block}
 * over the {@link #SLICE} input elements of {@code slice} (each work-item 8 elements of the input
 * row and of each unit's row: 16-byte loads, {@code PASS + 1} in flight), reduces them over the
 * group and writes them to {@code partial [tokens, slices, units]}. The token's last group to
 * finish ({@link Arrivals}, {@code arrivals [tokens]}, zeros) adds the slices in order and the bias,
 * and selects. Requires {@code dim % 8 == 0}, {@code 1 <= k <= units <= MAX_UNITS}. Launch with
 * {@code Grid.groups(tokens, slices(dim), blocks(units), THREADS)}.
 */
public final class HeadRouter {
    private HeadRouter() {}

    public static final int THREADS = 256;
    static final int WARPS = THREADS / KernelContext.WARP_SIZE;
    /**
     * Units scored per work-group: 16 loads of {@code w} in flight per work-item (with 8, the H100
     * took 13 µs a launch at batch 16 for 32 heads, 7 for 8 units).
     */
    public static final int PASS = 16;
    /** Input elements per slice: 8 per work-item. */
    public static final int SLICE = 8 * THREADS;
    /** Most slices per token (longer inputs give each slice several steps of {@link #SLICE}). */
    public static final int MAX_SLICES = 8;
    /** Most units one launch takes. */
    public static final int MAX_UNITS = TopK.SMALL_MAX;

    /** Whether a router of {@code units} over inputs of width {@code dim} fits these kernels. */
    public static boolean supports(int units, int dim) {
        return units >= 1 && units <= MAX_UNITS && dim % 8 == 0;
    }

    /** Slices of a token's input: one per {@link #SLICE} elements, at most {@link #MAX_SLICES}. */
    public static int slices(int dim) {
        return Math.max(1, Math.min(MAX_SLICES, (dim + SLICE - 1) / SLICE));
    }

    /** Work-groups of {@link #PASS} units per slice. */
    public static int blocks(int units) {
        return (units + PASS - 1) / PASS;
    }

    /** Floats of {@code partial} for steps of up to {@code maxTokens} tokens. */
    public static long partialLength(int maxTokens, int units) {
        return (long) maxTokens * MAX_SLICES * units;
    }

    /** float16 input and router weights (CUDA's activations). */
    public static void scoreTopKHalf(KernelContext ctx, HalfArray in, HalfArray w, FloatArray bias, FloatArray scores, IntArray selected,
                                     FloatArray partial, IntArray arrivals, int dim, int units, int k) {
        float[] sums = ctx.allocateFloatLocalArray(WARPS * PASS);
        int[] keys = ctx.allocateIntLocalArray(MAX_UNITS);
        int[] chosen = ctx.allocateIntLocalArray(MAX_UNITS);
        int[] flag = ctx.allocateIntLocalArray(1);
        float[] acc = new float[PASS];
        float[] x = new float[8];
        float[] wv = new float[8];
        int t = ctx.groupIdx;
        int u0 = ctx.groupIdz * PASS;
        for (int q = 0; q < PASS; q++) acc[q] = 0f;
        for (int p = sliceStart(ctx, dim) + ctx.localIdx * 8; p < sliceEnd(ctx, dim); p += SLICE) {
            in.load8(t * dim + p, x);
            for (int q = 0; q < PASS; q++) {
                w.load8(Math.min(u0 + q, units - 1) * dim + p, wv); // rows past the last repeat it; their sums are dropped
                acc[q] += dot8(x, wv);
            }
        }
        finish(ctx, sums, keys, chosen, flag, acc, bias, scores, selected, partial, arrivals, t, u0, units, k);
    }

    /** float32 input and router weights (the activations off CUDA). */
    public static void scoreTopK(KernelContext ctx, FloatArray in, FloatArray w, FloatArray bias, FloatArray scores, IntArray selected,
                                 FloatArray partial, IntArray arrivals, int dim, int units, int k) {
        float[] sums = ctx.allocateFloatLocalArray(WARPS * PASS);
        int[] keys = ctx.allocateIntLocalArray(MAX_UNITS);
        int[] chosen = ctx.allocateIntLocalArray(MAX_UNITS);
        int[] flag = ctx.allocateIntLocalArray(1);
        float[] acc = new float[PASS];
        float[] x = new float[4];
        float[] wv = new float[4];
        int t = ctx.groupIdx;
        int u0 = ctx.groupIdz * PASS;
        for (int q = 0; q < PASS; q++) acc[q] = 0f;
        for (int p = sliceStart(ctx, dim) + ctx.localIdx * 8; p < sliceEnd(ctx, dim); p += SLICE) {
            for (int half = 0; half < 8; half += 4) {
                in.load4(t * dim + p + half, x);
                for (int q = 0; q < PASS; q++) {
                    w.load4(Math.min(u0 + q, units - 1) * dim + p + half, wv);
                    acc[q] += x[0] * wv[0] + x[1] * wv[1] + x[2] * wv[2] + x[3] * wv[3];
                }
            }
        }
        finish(ctx, sums, keys, chosen, flag, acc, bias, scores, selected, partial, arrivals, t, u0, units, k);
    }

    /** Slices of this launch (its grid's y). */
    static int launchSlices(KernelContext ctx) {
        return ctx.globalGroupSizeY / ctx.localGroupSizeY;
    }

    /** Input elements of each slice: whole steps of {@link #SLICE}, so that every slice starts on a work-item's 8. */
    static int sliceSpan(int dim, int slices) {
        int steps = (dim + SLICE - 1) / SLICE;
        return (steps + slices - 1) / slices * SLICE;
    }

    /** First input element of this group's slice. */
    static int sliceStart(KernelContext ctx, int dim) {
        return ctx.groupIdy * sliceSpan(dim, launchSlices(ctx));
    }

    /** End (exclusive) of this group's slice. */
    static int sliceEnd(KernelContext ctx, int dim) {
        return Math.min(dim, (ctx.groupIdy + 1) * sliceSpan(dim, launchSlices(ctx)));
    }

    static float dot8(float[] x, float[] w) {
        float s = 0f;
        for (int e = 0; e < 8; e++) s += x[e] * w[e];
        return s;
    }

    /**
     * Sums each of the group's {@code PASS} partial dot products over the group into
     * {@code partial}; the token's last group then adds the slices (in order) and the bias, stores
     * the scores (to {@code scores} and, as {@link TopK} keys, to {@code keys}) and selects.
     */
    static void finish(KernelContext ctx, float[] sums, int[] keys, int[] chosen, int[] flag, float[] acc, FloatArray bias,
                       FloatArray scores, IntArray selected, FloatArray partial, IntArray arrivals,
                       int t, int u0, int units, int k) {
        int slices = launchSlices(ctx);
        for (int q = 0; q < PASS; q++) {
            float v = ctx.warpReduceSum(acc[q]);
            if (ctx.laneId() == 0) sums[ctx.warpId() * PASS + q] = v;
        }
        ctx.localBarrier();
        int q = ctx.localIdx;
        if (q < PASS && u0 + q < units) {
            float s = 0f;
            for (int v = 0; v < WARPS; v++) s += sums[v * PASS + q];
            partial.set((t * slices + ctx.groupIdy) * units + u0 + q, s);
        }
        int groups = slices * (ctx.globalGroupSizeZ / ctx.localGroupSizeZ);
        if (Arrivals.lastToArrive(ctx, arrivals, t, groups, flag)) {
            for (int u = ctx.localIdx; u < units; u += THREADS) {
                float s = 0f;
                for (int slice = 0; slice < slices; slice++) s += partial.get((t * slices + slice) * units + u);
                s += bias.get(u);
                scores.set(t * units + u, s);
                keys[u] = TopK.key(s);
            }
            ctx.localBarrier();
            TopK.selectRanked(ctx, keys, chosen, selected, t, units, k);
        }
    }
}
