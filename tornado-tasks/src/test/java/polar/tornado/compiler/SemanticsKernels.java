package polar.tornado.compiler;

import polar.tornado.KernelContext;
import polar.tornado.Parallel;
import polar.tornado.types.BFloat16Array;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/** Kernels whose translations must compute exactly what the Java computes (see SemanticsTest). */
public final class SemanticsKernels {
    /** Results per work-item of integerOps and floatOps. */
    public static final int RESULTS = 32;
    /** Results per work-item of warps. */
    public static final int WARP_RESULTS = 13;

    private SemanticsKernels() {}

    /** Integer arithmetic, conversions, shifts, control flow: {@code out[i * RESULTS + k]} from {@code in[2i], in[2i+1]}. */
    public static void integerOps(IntArray in, IntArray out, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            int a = in.get(2 * i);
            int b = in.get(2 * i + 1);
            int o = i * RESULTS;
            int divisor = (b & 0x7fff) + 1;
            out.set(o, a / divisor);
            out.set(o + 1, a % divisor);
            out.set(o + 2, a >>> (b & 31));
            out.set(o + 3, a >> (b & 31));
            out.set(o + 4, a << (b & 31));
            out.set(o + 5, (byte) a);
            out.set(o + 6, (short) a);
            out.set(o + 7, (char) a);
            long w = (long) a * b;
            out.set(o + 8, (int) (w >>> 32));
            out.set(o + 9, (int) w);
            out.set(o + 10, Integer.bitCount(a));
            out.set(o + 11, Integer.numberOfLeadingZeros(a));
            out.set(o + 12, Math.abs(a));
            out.set(o + 13, Math.max(a, b));
            out.set(o + 14, Math.min(a, b));
            out.set(o + 15, a ^ ~b);
            int x = a;
            x >>>= 3;
            x += b;
            x *= 3;
            x -= 7;
            x &= 0xFFFF;
            x |= 1 << 20;
            x ^= b;
            out.set(o + 16, x);
            out.set(o + 17, a > b ? 1 : a == b ? 0 : -1);
            long lw = ((long) a << 20) + b;
            lw >>>= 7;
            out.set(o + 18, (int) (lw % 1000003L));
            out.set(o + 19, Long.bitCount(lw) + Long.numberOfLeadingZeros(lw));
            char c = (char) (a & 0xFFFF);
            c += 5;
            out.set(o + 20, c);
            short s = (short) b;
            s *= 3;
            out.set(o + 21, s);
            byte by = (byte) a;
            by >>= 1;
            out.set(o + 22, by);
            int count = 0;
            outer:
            for (int r = 0; r < 8; r++) {
                for (int t = 0; t < 8; t++) {
                    if (((a >> (t + r)) & 1) == 0) continue outer;
                    if (t == 5) break outer;
                    count++;
                }
            }
            out.set(o + 23, count);
            int sum = 0;
            int k = b & 15;
            while (k > 0) {
                sum += k;
                k--;
            }
            do {
                sum++;
            } while (sum < 3);
            out.set(o + 24, sum);
            out.set(o + 25, Integer.MIN_VALUE / divisor + Integer.MAX_VALUE % divisor);
            boolean flag = (a & 1) == 1 ^ b < 0;
            out.set(o + 26, flag ? 1 : 0);
            out.set(o + 27, Math.clamp((long) a, -1000, 1000));
            int[] table = {3, 1, 4, 1, 5};
            out.set(o + 28, table[(b & 0x7fffffff) % table.length]);
            int[] acc = new int[4];
            for (int j = 0; j < 4; j++) {
                acc[j] = a >> j;
            }
            out.set(o + 29, acc[0] + acc[3] + acc[1]++ + ++acc[2]);
            out.set(o + 30, in.getSize() + digitSum(a));
            int classic;
            switch (b & 7) {
                case 0:
                    classic = 10;
                    break;
                case 1:
                case 2:
                    classic = 20; // falls through
                case 3:
                    classic = 30;
                    break;
                default:
                    classic = -1;
            }
            int arrow = 0;
            for (int j = 0; j < 3; j++) {
                switch ((a >> j) & 3) {
                    case 0 -> arrow += 5;
                    case 1, 2 -> {
                        if (j == 1) continue;
                        arrow *= 2;
                    }
                    default -> arrow -= 7;
                }
                arrow++;
            }
            out.set(o + 31, 'x' + (int) 'y' - (short) -3 + 100 * classic + arrow);
        }
    }

    static int digitSum(int value) {
        int v = Math.abs(value % 1000000);
        int s = 0;
        while (v > 0) {
            s += v % 10;
            v /= 10;
        }
        return s;
    }

    /**
     * Float operations whose results are exact in IEEE arithmetic go to {@code exact[i * RESULTS + k]}
     * (and their int results to {@code ints}); library functions, and a * b + c (which devices may
     * fuse into one rounding), to {@code approx}.
     */
    public static void floatOps(FloatArray in, FloatArray exact, IntArray ints, FloatArray approx, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float f = in.get(2 * i);
            float g = in.get(2 * i + 1);
            int o = i * RESULTS;
            exact.set(o, f + g);
            exact.set(o + 1, f * g);
            exact.set(o + 2, f % g);
            exact.set(o + 3, Math.abs(f));
            exact.set(o + 4, Math.copySign(f, g));
            exact.set(o + 5, Math.fma(f, g, 0.25f));
            exact.set(o + 6, (float) Math.floor(f));
            exact.set(o + 7, (float) Math.ceil(f));
            exact.set(o + 8, (float) Math.rint(f));
            double product = (double) f * g; // a separate statement: OpenCL fuses a * b + c within an expression
            exact.set(o + 9, (float) (product + 1e-3));
            exact.set(o + 10, Float.intBitsToFloat(Float.floatToRawIntBits(f) ^ 0x80000000));
            exact.set(o + 11, -f + 5);
            exact.set(o + 12, f < g ? f : g);
            float h = f;
            h += 2;
            h *= 0.5f;
            h %= 3f;
            exact.set(o + 13, h);
            exact.set(o + 14, (float) (int) (f * 1000f) / 1000f);
            exact.set(o + 15, Float.MAX_VALUE + Float.NEGATIVE_INFINITY * (f == f ? 0f : 1f));
            ints.set(o, (int) f);
            ints.set(o + 1, (int) (f * 1e10f));
            ints.set(o + 2, (int) (long) g);
            ints.set(o + 3, Math.round(f));
            ints.set(o + 4, (int) Math.round((double) g));
            ints.set(o + 5, Float.isNaN(f) ? 1 : 0);
            ints.set(o + 6, Float.isInfinite(g) ? 1 : 0);
            ints.set(o + 7, Float.isFinite(f * g) ? 1 : 0);
            ints.set(o + 8, Float.floatToRawIntBits(f));
            ints.set(o + 9, (short) f);
            ints.set(o + 10, (char) g);
            ints.set(o + 11, (byte) (f * 100));
            ints.set(o + 12, f > g ? 1 : f == g ? 2 : 0);
            ints.set(o + 13, (int) (f / (float) (n - n))); // f / 0f, which nvcc rejects as a constant
            boolean finite = Float.isFinite(f) && Float.isFinite(g);
            approx.set(o, finite ? (float) Math.exp(Math.min(f, 80f)) : 0f);
            approx.set(o + 1, finite ? (float) Math.log(Math.abs(f) + 1f) : 0f);
            approx.set(o + 2, (float) Math.sqrt(Math.abs(g)));
            approx.set(o + 3, (float) Math.tanh(f));
            approx.set(o + 4, finite ? (float) Math.pow(Math.abs(f) + 1f, 0.75f) : 0f);
            approx.set(o + 5, finite ? (float) Math.sin(f) + (float) Math.cos(g) : 0f);
            approx.set(o + 6, finite ? (float) Math.exp((double) f / 100.0) : 0f);
            approx.set(o + 7, finite ? Math.max(f, g) - Math.min(f, g) : 0f);
            approx.set(o + 8, f / g);
            approx.set(o + 9, finite ? (float) Math.atan2(f, g) : 0f);
            approx.set(o + 10, finite && Math.abs(f * g) < 1e30f ? f * g + 1.5f : 0f);
        }
    }

    /** float16 and bfloat16 storage: element access, wide loads and stores, bit conversions. */
    public static void storage(FloatArray src, HalfArray h, BFloat16Array b, HalfArray wide, FloatArray out, IntArray bits, int n) {
        for (@Parallel int v = 0; v < n / 8; v++) {
            int base = v * 8;
            for (int j = 0; j < 8; j++) {
                h.set(base + j, src.get(base + j));
                b.set(base + j, src.get(base + j));
                bits.set(base + j, Float.floatToFloat16(src.get(base + j)) + 65536 * h.getBits(base + j));
            }
            float[] r = new float[8];
            h.load8(base, r);
            float[] q = new float[8];
            b.load8(base, q);
            float[] f = new float[8];
            src.load4(base, f);
            float[] g = new float[4];
            src.load4(base + 4, g);
            for (int j = 0; j < 8; j++) {
                out.set(4 * base + j, r[j]);
                out.set(4 * base + 8 + j, q[j] + b.get(base + j));
                out.set(4 * base + 16 + j, j < 4 ? f[j] : g[j - 4]);
                out.set(4 * base + 24 + j, Float.float16ToFloat(h.getBits(base + j)) - h.get(base + j));
                r[j] = r[j] * 3f + 0.001f;
            }
            wide.store8(base, r);
            for (int j = 0; j < 4; j++) {
                g[j] = -g[j];
            }
            src.store4(base + 4, g);
        }
    }

    /** Warp operations, ids, local memory, barriers and atomics; one group of 64 (or more) per launch. */
    public static void warps(KernelContext ctx, FloatArray in, FloatArray out, IntArray counts, FloatArray sums) {
        float[] shared = ctx.allocateFloatLocalArray(128);
        int[] bins = ctx.allocateIntLocalArray(8);
        int gid = ctx.globalIdx;
        int lid = ctx.localIdx;
        float v = in.get(gid);
        int o = gid * WARP_RESULTS;
        out.set(o, ctx.laneId());
        out.set(o + 1, ctx.warpId());
        out.set(o + 2, ctx.warpShuffle(v, 3));
        out.set(o + 3, ctx.warpShuffleXor(v, 5));
        out.set(o + 4, ctx.warpReduceSum(v));
        out.set(o + 5, ctx.warpReduceMax(v));
        shared[lid] = v * 2;
        ctx.localBarrier();
        out.set(o + 6, shared[(lid + 1) % ctx.localGroupSizeX]);
        out.set(o + 7, ctx.groupIdx);
        out.set(o + 8, ctx.localGroupSizeX + 1000 * ctx.globalGroupSizeX);
        out.set(o + 9, groupSum(ctx, shared, v));
        out.set(o + 10, ctx.atomicAdd(counts, lid % 4, 1) >= 0 ? 1 : 0);
        ctx.atomicAdd(sums, ctx.groupIdx, v);
        out.set(o + 11, ctx.warpShuffle(ctx.warpReduceSum(lid), 31 - ctx.laneId()));
        // a histogram in local memory: every work-item bumps bin lid % 8, each bin ends at size / 8
        if (lid < 8) bins[lid] = 0;
        ctx.localBarrier();
        ctx.atomicAdd(bins, lid % 8, 1);
        ctx.localBarrier();
        out.set(o + 12, bins[lid % 8] * 8 - ctx.localGroupSizeX);
    }

    /** Sum of {@code value} over the group, through local memory (a device function with barriers). */
    static float groupSum(KernelContext ctx, float[] scratch, float value) {
        int lid = ctx.localIdx;
        ctx.localBarrier();
        scratch[lid] = value;
        ctx.localBarrier();
        for (int stride = ctx.localGroupSizeX / 2; stride > 0; stride >>= 1) {
            if (lid < stride) {
                scratch[lid] += scratch[lid + stride];
            }
            ctx.localBarrier();
        }
        float total = scratch[0];
        ctx.localBarrier();
        return total;
    }
}
