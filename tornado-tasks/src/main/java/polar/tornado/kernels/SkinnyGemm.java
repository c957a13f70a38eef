package polar.tornado.kernels;

import polar.tornado.KernelContext;
import polar.tornado.graph.Arg;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.GemmTask;
import polar.tornado.graph.Grid;
import polar.tornado.graph.KernelTask;
import polar.tornado.graph.TaskGraph;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/**
 * {@link GemmTask} for few rows of A (decode: one row per sequence), where the multiply is a
 * stream over the float16 weights: {@code C[i][j] = alpha * sum_p A[i][p] * W[j][p] + beta * C[i][j]}
 * for {@code i < m <= MAX_M}, float32 accumulation, C float32 (not read when {@code beta == 0}).
 *
 * <p>A work-group of {@link #THREADS} work-items owns {@link #ROWS} rows of W (columns of C) and
 * reads each exactly once, with 16-byte loads: work-item {@code t} takes the 8 elements at
 * {@code p = 8 t + 8 THREADS s} of every row, so a warp reads 512 contiguous bytes of a row per load
 * and the group 2 KiB; the {@code ROWS} loads of a step are independent, so each work-item keeps
 * {@code ROWS x 16} bytes in flight. The matching 8 elements of the {@code m} rows of A come
 * through the cache (A is at most a few hundred KiB, read by every group at the same pace) and
 * each is used for all {@code ROWS} rows of W: the {@code m x ROWS} sums stay in registers
 * ({@code m} is compiled in), then a warp reduction and one across the group's warps give C.
 * Grid: {@code Grid.groups(ceil(n / ROWS), THREADS)}, thousands of groups for the projections of
 * a 7B model, enough to fill 132 SMs with several groups each.
 *
 * <p>Contract ({@link #supports}): W float16; A float16 or float32; C float32 (float16 with A float16); {@code k}, the
 * leading dimensions and offsets of A and W multiples of 8 (aligned 16-byte loads); any {@code n}.
 */
public final class SkinnyGemm {
    private SkinnyGemm() {}

    /** Most rows of A (and C) one launch takes. */
    public static final int MAX_M = 16;
    /** Work-items per group: 4 warps, each step of the group covering 1024 elements of k. */
    public static final int THREADS = 128;
    /** Rows of W (columns of C) per group. */
    public static final int ROWS = 4;
    static final int WARPS = THREADS / KernelContext.WARP_SIZE;
    /** Elements of k one step of the group covers (8 per work-item). */
    static final int STEP = THREADS * 8;

    /** A in float16 (CUDA's activations). {@code m} (at most {@link #MAX_M}) is best specialised ({@link Arg#constant}). */
    public static void f16(KernelContext ctx, HalfArray a, int aOffset, int lda, HalfArray w, int wOffset, int ldw,
                           FloatArray c, int cOffset, int ldc, int n, int k, float alpha, float beta, int m) {
        float[] partial = ctx.allocateFloatLocalArray(WARPS * MAX_M * ROWS);
        float[] acc = new float[MAX_M * ROWS]; // the first m * ROWS used; registers once m is compiled in
        int row0 = ctx.groupIdx * ROWS;
        streamHalfA(ctx, a, aOffset, lda, w, wOffset, ldw, row0, n, k, m, acc);
        reduceAndStore(ctx, acc, partial, c, cOffset, ldc, row0, n, alpha, beta, m);
    }

    /**
     * A and C in float16 (a router's low-rank layer, whose output feeds a float16 kernel); the same
     * stream and sums, rounded to float16 on the store.
     */
    public static void f16ToHalf(KernelContext ctx, HalfArray a, int aOffset, int lda, HalfArray w, int wOffset, int ldw,
                                 HalfArray c, int cOffset, int ldc, int n, int k, float alpha, float beta, int m) {
        float[] partial = ctx.allocateFloatLocalArray(WARPS * MAX_M * ROWS);
        float[] acc = new float[MAX_M * ROWS];
        int row0 = ctx.groupIdx * ROWS;
        streamHalfA(ctx, a, aOffset, lda, w, wOffset, ldw, row0, n, k, m, acc);
        reduce(ctx, acc, partial, m);
        int q = ctx.localIdx;
        int j = row0 + q % ROWS;
        if (q < m * ROWS && j < n) {
            int index = cOffset + (q / ROWS) * ldc + j;
            float out = alpha * groupSum(partial, q);
            if (beta != 0.0f) out += beta * c.get(index);
            c.set(index, out);
        }
    }

    /** A in float32 (the activations off CUDA). {@code m} (at most {@link #MAX_M}) is best specialised ({@link Arg#constant}). */
    public static void f32(KernelContext ctx, FloatArray a, int aOffset, int lda, HalfArray w, int wOffset, int ldw,
                           FloatArray c, int cOffset, int ldc, int n, int k, float alpha, float beta, int m) {
        float[] partial = ctx.allocateFloatLocalArray(WARPS * MAX_M * ROWS);
        float[] acc = new float[MAX_M * ROWS]; // the first m * ROWS used; registers once m is compiled in
        float[] wv = new float[ROWS * 8];
        float[] x = new float[8];
        float[] x4 = new float[4];
        int row0 = ctx.groupIdx * ROWS;
        for (int p = ctx.localIdx * 8; p < k; p += STEP) {
            loadRows(w, wOffset, ldw, row0, n, p, wv);
            for (int i = 0; i < m; i++) {
                int at = aOffset + i * lda + p;
                a.load4(at, x4);
                for (int e = 0; e < 4; e++) x[e] = x4[e];
                a.load4(at + 4, x4);
                for (int e = 0; e < 4; e++) x[4 + e] = x4[e];
                accumulate(acc, i, x, wv);
            }
        }
        reduceAndStore(ctx, acc, partial, c, cOffset, ldc, row0, n, alpha, beta, m);
    }

    /** The float16 A's share of this work-item: every 8 elements of k it owns, for the group's rows of W, into {@code acc}. */
    static void streamHalfA(KernelContext ctx, HalfArray a, int aOffset, int lda, HalfArray w, int wOffset, int ldw,
                            int row0, int n, int k, int m, float[] acc) {
        float[] wv = new float[ROWS * 8];
        float[] x = new float[8];
        for (int p = ctx.localIdx * 8; p < k; p += STEP) {
            loadRows(w, wOffset, ldw, row0, n, p, wv);
            for (int i = 0; i < m; i++) {
                a.load8(aOffset + i * lda + p, x);
                accumulate(acc, i, x, wv);
            }
        }
    }

    /** Elements {@code p..p+7} of rows {@code row0..row0+ROWS-1} of W into {@code wv}; rows past {@code n} repeat the last (their sums are dropped). */
    static void loadRows(HalfArray w, int wOffset, int ldw, int row0, int n, int p, float[] wv) {
        float[] t = new float[8];
        for (int r = 0; r < ROWS; r++) {
            w.load8(wOffset + Math.min(row0 + r, n - 1) * ldw + p, t);
            for (int e = 0; e < 8; e++) wv[r * 8 + e] = t[e];
        }
    }

    /** {@code acc[i * ROWS + r] += x . W-row r} over the 8 loaded elements. */
    static void accumulate(float[] acc, int i, float[] x, float[] wv) {
        for (int r = 0; r < ROWS; r++) {
            float s = acc[i * ROWS + r];
            for (int e = 0; e < 8; e++) s += x[e] * wv[r * 8 + e];
            acc[i * ROWS + r] = s;
        }
    }

    /** Sums each of the {@code m x ROWS} values over the group and writes C (reading it only when {@code beta != 0}). */
    static void reduceAndStore(KernelContext ctx, float[] acc, float[] partial, FloatArray c, int cOffset, int ldc,
                               int row0, int n, float alpha, float beta, int m) {
        reduce(ctx, acc, partial, m);
        int q = ctx.localIdx;
        int j = row0 + q % ROWS;
        if (q < m * ROWS && j < n) {
            int index = cOffset + (q / ROWS) * ldc + j;
            float out = alpha * groupSum(partial, q);
            if (beta != 0.0f) out += beta * c.get(index);
            c.set(index, out);
        }
    }

    /** Each warp's sums of the {@code m x ROWS} values into {@code partial}, visible to the group after the barrier. */
    static void reduce(KernelContext ctx, float[] acc, float[] partial, int m) {
        int lane = ctx.laneId();
        int warp = ctx.warpId();
        for (int q = 0; q < m * ROWS; q++) {
            float v = ctx.warpReduceSum(acc[q]);
            if (lane == 0) partial[warp * MAX_M * ROWS + q] = v;
        }
        ctx.localBarrier();
    }

    /** Value {@code q} summed over the group's warps. */
    static float groupSum(float[] partial, int q) {
        float s = 0.0f;
        for (int v = 0; v < WARPS; v++) s += partial[v * MAX_M * ROWS + q];
        return s;
    }

    // ---- host side: lowering a GemmTask

    /**
     * Whether {@code g} fits this kernel with {@code m <= maxM} (at most {@link #MAX_M}): W float16,
     * A float16 or float32, C float32 (or float16 with A float16), {@code k}, offsets and leading dimensions of A and W
     * multiples of 8, everything addressable with int indices.
     */
    public static boolean supports(GemmTask g, int maxM) {
        ElementType<?> aType = g.a().type();
        return g.m() <= Math.min(maxM, MAX_M)
                && g.b().type() == ElementType.F16 && (aType == ElementType.F16 || aType == ElementType.F32)
                && (g.c().type() == ElementType.F32 || g.c().type() == ElementType.F16 && aType == ElementType.F16)
                && g.k() % 8 == 0 && g.lda() % 8 == 0 && g.ldb() % 8 == 0 && g.aOffset() % 8 == 0 && g.bOffset() % 8 == 0
                && g.a().length() <= Integer.MAX_VALUE && g.b().length() <= Integer.MAX_VALUE && g.c().length() <= Integer.MAX_VALUE;
    }

    /** The launch computing {@code g}, which must be {@linkplain #supports supported}. */
    @SuppressWarnings("unchecked")
    public static KernelTask launch(GemmTask g) {
        if (!supports(g, MAX_M)) throw new IllegalArgumentException("SkinnyGemm does not take " + g);
        TaskGraph plan = new TaskGraph("skinny-gemm");
        Grid grid = Grid.groups((g.n() + ROWS - 1) / ROWS, THREADS);
        Buffer<HalfArray> w = (Buffer<HalfArray>) g.b();

        Arg<Integer> aOffset = Arg.i32((int) g.aOffset()), lda = Arg.i32(g.lda()), wOffset = Arg.i32((int) g.bOffset()), ldw = Arg.i32(g.ldb());
        Arg<Integer> cOffset = Arg.i32((int) g.cOffset()), ldc = Arg.i32(g.ldc()), n = Arg.i32(g.n()), k = Arg.i32(g.k());
        Arg<Float> alpha = Arg.f32(g.alpha()), beta = Arg.f32(g.beta());
        Arg<Integer> m = Arg.constant(g.m());
        if (g.c().type() == ElementType.F16) {
            return plan.kernel(SkinnyGemm::f16ToHalf, grid, (Buffer<HalfArray>) g.a(), aOffset, lda, w, wOffset, ldw, (Buffer<HalfArray>) g.c(), cOffset, ldc, n, k, alpha, beta, m);
        }
        Buffer<FloatArray> c = (Buffer<FloatArray>) g.c();
        return g.a().type() == ElementType.F16
                ? plan.kernel(SkinnyGemm::f16, grid, (Buffer<HalfArray>) g.a(), aOffset, lda, w, wOffset, ldw, c, cOffset, ldc, n, k, alpha, beta, m)
                : plan.kernel(SkinnyGemm::f32, grid, (Buffer<FloatArray>) g.a(), aOffset, lda, w, wOffset, ldw, c, cOffset, ldc, n, k, alpha, beta, m);
    }
}
