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
        for (int i = ctx.localIdx; i < hidden; i += THREADS) out.set(base + i, x.get(base + i) * inv * weight.get(i));
    }

    public static void rmsnormHalf(KernelContext ctx, FloatArray x, FloatArray weight, HalfArray out, int hidden, float eps) {
        float[] partial = ctx.allocateFloatLocalArray(WARPS);
        int base = ctx.groupIdx * hidden;
        float inv = rmsScale(ctx, partial, x, base, hidden, eps);
        for (int i = ctx.localIdx; i < hidden; i += THREADS) out.set(base + i, x.get(base + i) * inv * weight.get(i));
    }

    /** LayerNorm with affine weight and bias: {@code out = (x - mean) / sqrt(var + eps) * weight + bias}. */
    public static void layernorm(KernelContext ctx, FloatArray x, FloatArray weight, FloatArray bias, FloatArray out, int hidden, float eps) {
        float[] partial = ctx.allocateFloatLocalArray(WARPS);
        int base = ctx.groupIdx * hidden;
        float mean = blockSum(ctx, partial, rowSum(ctx, x, base, hidden, 0f, false)) / hidden;
        float inv = 1f / (float) Math.sqrt(blockSum(ctx, partial, rowSum(ctx, x, base, hidden, mean, true)) / hidden + eps);
        for (int i = ctx.localIdx; i < hidden; i += THREADS) out.set(base + i, (x.get(base + i) - mean) * inv * weight.get(i) + bias.get(i));
    }

    public static void layernormHalf(KernelContext ctx, FloatArray x, FloatArray weight, FloatArray bias, HalfArray out, int hidden, float eps) {
        float[] partial = ctx.allocateFloatLocalArray(WARPS);
        int base = ctx.groupIdx * hidden;
        float mean = blockSum(ctx, partial, rowSum(ctx, x, base, hidden, 0f, false)) / hidden;
        float inv = 1f / (float) Math.sqrt(blockSum(ctx, partial, rowSum(ctx, x, base, hidden, mean, true)) / hidden + eps);
        for (int i = ctx.localIdx; i < hidden; i += THREADS) out.set(base + i, (x.get(base + i) - mean) * inv * weight.get(i) + bias.get(i));
    }

    /** {@code 1 / sqrt(mean(x^2) + eps)} of the row at {@code base}, returned to every work-item. */
    static float rmsScale(KernelContext ctx, float[] partial, FloatArray x, int base, int hidden, float eps) {
        float sumSquares = blockSum(ctx, partial, rowSum(ctx, x, base, hidden, 0f, true));
        return 1f / (float) Math.sqrt(sumSquares / hidden + eps);
    }

    /** This work-item's share of {@code sum(x - shift)} or, when {@code squared}, of {@code sum((x - shift)^2)}. */
    static float rowSum(KernelContext ctx, FloatArray x, int base, int hidden, float shift, boolean squared) {
        float s = 0f;
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
