package polar.tornado.compiler;

import static java.lang.Math.abs;
import static polar.tornado.KernelContext.WARP_SIZE;

import polar.tornado.KernelContext;
import polar.tornado.Parallel;
import polar.tornado.types.BFloat16Array;
import polar.tornado.types.ByteArray;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/** Kernels that exercise the translator: each one must translate to both dialects and build. */
public final class TranslationKernels {
    static final int BLOCK = 256;
    static final float EPSILON = 1e-5f;
    static final long BIG = 1L << 40;

    private TranslationKernels() {}

    /** A @Parallel 1D loop. */
    public static void scaledAdd(FloatArray a, FloatArray b, FloatArray c, float alpha, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            c.set(i, alpha * a.get(i) + b.get(i));
        }
    }

    /** A @Parallel 2D loop: c = a * b for row-major a [m,k] and b [k,n]. */
    public static void matmul(FloatArray a, FloatArray b, FloatArray c, int m, int n, int k) {
        for (@Parallel int i = 0; i < m; i++) {
            for (@Parallel int j = 0; j < n; j++) {
                float sum = 0f;
                for (int t = 0; t < k; t++) {
                    sum += a.get(i * k + t) * b.get(t * n + j);
                }
                c.set(i * n + j, sum);
            }
        }
    }

    /** Row sums with local memory and barriers: one group per row. */
    public static void rowSum(KernelContext ctx, FloatArray x, FloatArray out, int cols) {
        float[] partial = ctx.allocateFloatLocalArray(BLOCK);
        int row = ctx.groupIdx;
        int lid = ctx.localIdx;
        float sum = 0;
        for (int j = lid; j < cols; j += ctx.localGroupSizeX) {
            sum += x.get(row * cols + j);
        }
        partial[lid] = sum;
        ctx.localBarrier();
        for (int stride = ctx.localGroupSizeX / 2; stride > 0; stride >>= 1) {
            if (lid < stride) {
                partial[lid] += partial[lid + stride];
            }
            ctx.localBarrier();
        }
        if (lid == 0) {
            out.set(row, partial[0]);
        }
    }

    /** Row maxima through warp reductions: warp partials in local memory, then the first warp. */
    public static void rowMaxWarp(KernelContext ctx, FloatArray x, FloatArray out, int cols) {
        float[] warpMax = ctx.allocateFloatLocalArray(BLOCK / WARP_SIZE);
        int row = ctx.groupIdx;
        float m = Float.NEGATIVE_INFINITY;
        for (int j = ctx.localIdx; j < cols; j += ctx.localGroupSizeX) {
            m = Math.max(m, x.get(row * cols + j));
        }
        m = ctx.warpReduceMax(m);
        if (ctx.laneId() == 0) {
            warpMax[ctx.warpId()] = m;
        }
        ctx.localBarrier();
        int warps = ctx.localGroupSizeX / KernelContext.WARP_SIZE;
        float v = ctx.laneId() < warps ? warpMax[ctx.laneId()] : Float.NEGATIVE_INFINITY;
        v = ctx.warpReduceMax(v);
        float s = ctx.warpShuffle(v, 0) + ctx.warpShuffleXor(v, 1) * 0f;
        if (ctx.localIdx == 0) {
            out.set(row, s);
        }
    }

    /** Softmax over rows, calling device functions; one group per row. */
    public static void softmax(KernelContext ctx, FloatArray x, int cols) {
        float[] scratch = ctx.allocateFloatLocalArray(BLOCK);
        int base = ctx.groupIdx * cols;
        float m = blockReduce(ctx, scratch, localMax(ctx, x, base, cols), true);
        float sum = 0f;
        for (int j = ctx.localIdx; j < cols; j += ctx.localGroupSizeX) {
            float e = (float) Math.exp(x.get(base + j) - m);
            x.set(base + j, e);
            sum += e;
        }
        float total = blockReduce(ctx, scratch, sum, false);
        float inv = 1f / (total + EPSILON);
        for (int j = ctx.localIdx; j < cols; j += ctx.localGroupSizeX) {
            x.set(base + j, x.get(base + j) * inv);
        }
    }

    static float localMax(KernelContext ctx, FloatArray x, int base, int cols) {
        float m = -Float.MAX_VALUE;
        for (int j = ctx.localIdx; j < cols; j += ctx.localGroupSizeX) {
            m = Math.max(m, x.get(base + j));
        }
        return m;
    }

    static float blockReduce(KernelContext ctx, float[] scratch, float value, boolean max) {
        int lid = ctx.localIdx;
        scratch[lid] = value;
        ctx.localBarrier();
        for (int stride = ctx.localGroupSizeX / 2; stride > 0; stride /= 2) {
            if (lid < stride) {
                scratch[lid] = max ? Math.max(scratch[lid], scratch[lid + stride]) : scratch[lid] + scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float r = scratch[0];
        ctx.localBarrier();
        return r;
    }

    /** float16 scaled copy with 16-byte loads and stores; n is a multiple of 8. */
    public static void scaleHalf8(HalfArray in, HalfArray out, float scale, int n) {
        for (@Parallel int i = 0; i < n / 8; i++) {
            float[] r = new float[8];
            in.load8(i * 8, r);
            for (int j = 0; j < 8; j++) {
                r[j] *= scale;
            }
            out.store8(i * 8, r);
        }
    }

    /** Wide float and bfloat16 loads, element-wise half and bfloat16 access. */
    public static void mixedStorage(FloatArray f, BFloat16Array b, HalfArray h, FloatArray out, int n) {
        for (@Parallel int i = 0; i < n / 8; i++) {
            float[] r = new float[8];
            b.load8(i * 8, r);
            float[] q = new float[8];
            f.load4(i * 8, q);
            f.load4(i * 8 + 4, r);
            for (int j = 0; j < 4; j++) {
                q[j] += h.get(i * 8 + j) + b.get(i * 8 + j) + Float.float16ToFloat(h.getBits(i * 8 + j));
            }
            out.store4(i * 8, q);
            b.set(i * 8, q[0]);
            h.set(i * 8 + 1, r[1]);
        }
    }

    /** Attention-like dot products with a specialised head size: q [heads, headDim] f16, k [headDim] f16. */
    public static void headDots(KernelContext ctx, HalfArray q, HalfArray k, FloatArray out, int headDim) {
        float[] partial = ctx.allocateFloatLocalArray(headDim);
        int head = ctx.groupIdx;
        int lid = ctx.localIdx;
        float acc = 0f;
        for (int d = lid; d < headDim; d += ctx.localGroupSizeX) {
            acc += q.get(head * headDim + d) * k.get(d);
        }
        partial[lid] = acc;
        ctx.localBarrier();
        if (lid == 0) {
            float s = 0f;
            for (int d = 0; d < ctx.localGroupSizeX; d++) {
                s += partial[d];
            }
            out.set(head, s / (float) Math.sqrt(headDim));
        }
    }

    /** Integer work: histogram with atomics, byte quants, shifts, bit tricks, long and double arithmetic, labelled loops. */
    public static void integers(KernelContext ctx, IntArray hist, ByteArray quants, FloatArray sums, int n) {
        int i = ctx.globalIdx;
        if (i >= n) {
            return;
        }
        int q = quants.get(i);
        int bucket = ((q >>> 4) & 0xF) + SemanticsKernels.digitSum(abs(q)) % 2;
        ctx.atomicAdd(hist, bucket, 1);
        ctx.atomicAdd(sums, 0, q * 0.5f);
        long wide = BIG + i;
        wide >>>= 3;
        int bits = Float.floatToRawIntBits((float) wide) ^ Integer.MIN_VALUE;
        double d = Math.sqrt((double) bits) + Math.PI;
        char c = 'a';
        short s = (short) (c + Integer.bitCount(bits));
        byte b = (byte) (s % 7);
        boolean odd = (b & 1) != 0 && !Float.isNaN((float) d);
        outer:
        for (int r = 0; r < 4; r++) {
            for (int t = 0; t < 4; t++) {
                if (t == r) continue outer;
                if (r * t > 6) break outer;
                bucket += odd ? 1 : -1;
            }
        }
        int w = 0;
        while (w < 3) {
            w++;
        }
        do {
            w--;
        } while (w > 0);
        quants.set(i, (byte) (bucket + Math.round(1.5f) + Math.abs(-w) + Math.min(w, 2) + (int) Math.floor(d)));
        float[] table = {1f, 2f, 3f};
        sums.set(i, table[i % table.length] + (float) (d % 2.0) + 5.5f % 2f + Math.clamp(s, 0, 10));
    }
}
