package polar.tornado.kernels;

import polar.tornado.KernelContext;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/**
 * Row-wise normalisation of the float32 residual stream: one work-group per row, statistics in
 * float32 through warp reductions and a small local array. The output is the next GEMM's input
 * (float32, or float16 in the {@code Half} variants, which share all the math).
 * Launch with {@code Grid.groups(rows, THREADS)}.
 */
public final class Norms {
    private Norms() {}

    public static final int THREADS = 128;
    static final int WARPS = THREADS / KernelContext.WARP_SIZE;

    /** Llama RMSNorm: {@code out = x / sqrt(mean(x^2) + eps) * weight}. */
    public static void rmsnorm(KernelContext ctx, FloatArray x, FloatArray weight, FloatArray out, int hidden, float eps) {
        float[] partial = ctx.allocateFloatLocalArray(WARPS);
        int base = ctx.groupIdx * hidden;
        float inv = rmsScale(ctx, partial, x, base, hidden, eps);
        if (hidden % 8 == 0) {
            float[] v = new float[4];
            for (int i = ctx.localIdx * 8; i < hidden; i += THREADS * 8) {
                for (int h = 0; h < 8; h += 4) {
                    scaled4(x, weight, base, i + h, inv, v, 0);
                    out.store4(base + i + h, v);
                }
            }
        } else {
            for (int i = ctx.localIdx; i < hidden; i += THREADS) out.set(base + i, x.get(base + i) * inv * weight.get(i));
        }
    }

    public static void rmsnormHalf(KernelContext ctx, FloatArray x, FloatArray weight, HalfArray out, int hidden, float eps) {
        float[] partial = ctx.allocateFloatLocalArray(WARPS);
        int base = ctx.groupIdx * hidden;
        float inv = rmsScale(ctx, partial, x, base, hidden, eps);
        if (hidden % 8 == 0) {
            float[] v = new float[8];
            for (int i = ctx.localIdx * 8; i < hidden; i += THREADS * 8) {
                scaled4(x, weight, base, i, inv, v, 0);
                scaled4(x, weight, base, i + 4, inv, v, 4);
                out.store8(base + i, v);
            }
        } else {
            for (int i = ctx.localIdx; i < hidden; i += THREADS) out.set(base + i, x.get(base + i) * inv * weight.get(i));
        }
    }

    /** LayerNorm with affine weight and bias: {@code out = (x - mean) / sqrt(var + eps) * weight + bias}. */
    public static void layernorm(KernelContext ctx, FloatArray x, FloatArray weight, FloatArray bias, FloatArray out, int hidden, float eps) {
        float[] partial = ctx.allocateFloatLocalArray(WARPS);
        int base = ctx.groupIdx * hidden;
        float mean = blockSum(ctx, partial, rowSum(ctx, x, base, hidden, 0f, false)) / hidden;
        storeAffine(ctx, x, weight, bias, out, base, hidden, mean, invStd(ctx, partial, x, base, hidden, mean, eps));
    }

    public static void layernormHalf(KernelContext ctx, FloatArray x, FloatArray weight, FloatArray bias, HalfArray out, int hidden, float eps) {
        float[] partial = ctx.allocateFloatLocalArray(WARPS);
        int base = ctx.groupIdx * hidden;
        float mean = blockSum(ctx, partial, rowSum(ctx, x, base, hidden, 0f, false)) / hidden;
        storeAffineHalf(ctx, x, weight, bias, out, base, hidden, mean, invStd(ctx, partial, x, base, hidden, mean, eps));
    }

    /**
     * {@link #layernorm} after adding {@code add} (the bias of the block that just wrote the
     * residual) into {@code x}, which keeps the sum: one launch instead of a bias add and a norm.
     */
    public static void addLayernorm(KernelContext ctx, FloatArray x, FloatArray add, FloatArray weight, FloatArray bias, FloatArray out, int hidden, float eps) {
        float[] partial = ctx.allocateFloatLocalArray(WARPS);
        int base = ctx.groupIdx * hidden;
        addRow(ctx, x, add, base, hidden);
        float mean = blockSum(ctx, partial, rowSum(ctx, x, base, hidden, 0f, false)) / hidden;
        storeAffine(ctx, x, weight, bias, out, base, hidden, mean, invStd(ctx, partial, x, base, hidden, mean, eps));
    }

    public static void addLayernormHalf(KernelContext ctx, FloatArray x, FloatArray add, FloatArray weight, FloatArray bias, HalfArray out, int hidden, float eps) {
        float[] partial = ctx.allocateFloatLocalArray(WARPS);
        int base = ctx.groupIdx * hidden;
        addRow(ctx, x, add, base, hidden);
        float mean = blockSum(ctx, partial, rowSum(ctx, x, base, hidden, 0f, false)) / hidden;
        storeAffineHalf(ctx, x, weight, bias, out, base, hidden, mean, invStd(ctx, partial, x, base, hidden, mean, eps));
    }

    /** {@code 1 / sqrt(var + eps)} of the row at {@code base} around its {@code mean}, returned to every work-item. */
    static float invStd(KernelContext ctx, float[] partial, FloatArray x, int base, int hidden, float mean, float eps) {
        return 1f / (float) Math.sqrt(blockSum(ctx, partial, rowSum(ctx, x, base, hidden, mean, true)) / hidden + eps);
    }

    /** The LayerNorm of the row at {@code base} into float32 {@code out}. */
    static void storeAffine(KernelContext ctx, FloatArray x, FloatArray weight, FloatArray bias, FloatArray out, int base, int hidden, float mean, float inv) {
        if (hidden % 8 == 0) {
            float[] v = new float[4];
            for (int i = ctx.localIdx * 8; i < hidden; i += THREADS * 8) {
                for (int h = 0; h < 8; h += 4) {
                    affine4(x, weight, bias, base, i + h, mean, inv, v, 0);
                    out.store4(base + i + h, v);
                }
            }
        } else {
            for (int i = ctx.localIdx; i < hidden; i += THREADS) out.set(base + i, (x.get(base + i) - mean) * inv * weight.get(i) + bias.get(i));
        }
    }

    /** The LayerNorm of the row at {@code base} into float16 {@code out}. */
    static void storeAffineHalf(KernelContext ctx, FloatArray x, FloatArray weight, FloatArray bias, HalfArray out, int base, int hidden, float mean, float inv) {
        if (hidden % 8 == 0) {
            float[] v = new float[8];
            for (int i = ctx.localIdx * 8; i < hidden; i += THREADS * 8) {
                affine4(x, weight, bias, base, i, mean, inv, v, 0);
                affine4(x, weight, bias, base, i + 4, mean, inv, v, 4);
                out.store8(base + i, v);
            }
        } else {
            for (int i = ctx.localIdx; i < hidden; i += THREADS) out.set(base + i, (x.get(base + i) - mean) * inv * weight.get(i) + bias.get(i));
        }
    }

    /**
     * {@code x[base..base+hidden) += add}, each work-item over the elements it reads again in the
     * norm's passes (so its own stores are all it needs to see: no barrier).
     */
    static void addRow(KernelContext ctx, FloatArray x, FloatArray add, int base, int hidden) {
        if (hidden % 8 == 0) {
            float[] a = new float[4];
            float[] b = new float[4];
            for (int i = ctx.localIdx * 8; i < hidden; i += THREADS * 8) {
                for (int h = 0; h < 8; h += 4) {
                    x.load4(base + i + h, a);
                    add.load4(i + h, b);
                    for (int e = 0; e < 4; e++) a[e] += b[e];
                    x.store4(base + i + h, a);
                }
            }
        } else {
            for (int i = ctx.localIdx; i < hidden; i += THREADS) x.set(base + i, x.get(base + i) + add.get(i));
        }
    }

    /** RMSNorm of elements {@code i..i+3} of the row at {@code base} (16-byte loads) into {@code v[at..at+3]}. */
    static void scaled4(FloatArray x, FloatArray weight, int base, int i, float inv, float[] v, int at) {
        float[] a = new float[4];
        float[] w = new float[4];
        x.load4(base + i, a);
        weight.load4(i, w);
        for (int e = 0; e < 4; e++) v[at + e] = a[e] * inv * w[e];
    }

    /** LayerNorm of elements {@code i..i+3} of the row at {@code base} (16-byte loads) into {@code v[at..at+3]}. */
    static void affine4(FloatArray x, FloatArray weight, FloatArray bias, int base, int i, float mean, float inv, float[] v, int at) {
        float[] a = new float[4];
        float[] w = new float[4];
        float[] b = new float[4];
        x.load4(base + i, a);
        weight.load4(i, w);
        bias.load4(i, b);
        for (int e = 0; e < 4; e++) v[at + e] = (a[e] - mean) * inv * w[e] + b[e];
    }

    /** {@code 1 / sqrt(mean(x^2) + eps)} of the row at {@code base}, returned to every work-item. */
    static float rmsScale(KernelContext ctx, float[] partial, FloatArray x, int base, int hidden, float eps) {
        float sumSquares = blockSum(ctx, partial, rowSum(ctx, x, base, hidden, 0f, true));
        return 1f / (float) Math.sqrt(sumSquares / hidden + eps);
    }

    /**
     * This work-item's share of {@code sum(x - shift)} or, when {@code squared}, of {@code sum((x - shift)^2)}:
     * 8 consecutive elements per step (16-byte loads) where the row allows it.
     */
    static float rowSum(KernelContext ctx, FloatArray x, int base, int hidden, float shift, boolean squared) {
        float s = 0f;
        if (hidden % 8 == 0) {
            float[] a = new float[4];
            for (int i = ctx.localIdx * 8; i < hidden; i += THREADS * 8) {
                for (int h = 0; h < 8; h += 4) {
                    x.load4(base + i + h, a);
                    for (int e = 0; e < 4; e++) {
                        float v = a[e] - shift;
                        s += squared ? v * v : v;
                    }
                }
            }
            return s;
        }
        for (int i = ctx.localIdx; i < hidden; i += THREADS) {
            float v = x.get(base + i) - shift;
            s += squared ? v * v : v;
        }
        return s;
    }

    /** Sum of {@code value} over the work-group, returned to every work-item; {@code partial} may be reused afterwards. */
    static float blockSum(KernelContext ctx, float[] partial, float value) {
        float warpSum = ctx.warpReduceSum(value);
        if (ctx.laneId() == 0) partial[ctx.warpId()] = warpSum;
        ctx.localBarrier();
        float total = 0f;
        for (int w = 0; w < WARPS; w++) total += partial[w];
        ctx.localBarrier();
        return total;
    }
}
