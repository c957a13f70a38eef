package polar.tornado.kernels;

import polar.tornado.KernelContext;
import polar.tornado.Parallel;
import polar.tornado.types.BFloat16Array;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/**
 * Tiled matrix multiply for {@link polar.tornado.graph.GemmTask} where no vendor library exists
 * (OpenCL): {@code C[i][j] = alpha * sum_p A[i][p] * B[j][p] + beta * C[i][j]}, row-major with
 * offsets and leading dimensions in elements, float32 accumulation. A and C are float32; B (the
 * weights, by far the most bytes) is read as stored: one kernel per B type, differing only in how
 * B is staged, the rest shared through the static helpers below. A or C in float16/bfloat16 (rare:
 * activations are float32 off CUDA) go through a float32 copy made by the widen/narrow kernels.
 *
 * <p>Launch: {@link #THREADS} work-items per group along x, group (x, y) computes the
 * {@link #TILE}x{@link #TILE} block of C at rows {@code y * TILE}, columns {@code x * TILE}:
 * {@code Grid.groups(ceil(n / TILE), ceil(m / TILE), THREADS)}. Each work-item accumulates a 4x4
 * block of C in registers, strided by 16 rows and columns so that neighbouring work-items read
 * neighbouring local-memory words. As in BLAS, C is not read when {@code beta == 0}.
 */
public final class Gemm {
    private Gemm() {}

    /** Rows and columns of C per work-group. */
    public static final int TILE = 64;
    /** Work-items per work-group (16 x 16, each owning 4 x 4 elements of C). */
    public static final int THREADS = 256;
    /** Depth (along k) of the tiles staged in local memory. */
    static final int DEPTH = 16;
    /** Row stride of a staged tile, padded by one word to avoid bank conflicts on stores. */
    static final int STRIDE = 65;
    /** Floats of local memory per staged tile: DEPTH * STRIDE. */
    static final int TILE_FLOATS = 1040;

    public static void gemmF32F32(KernelContext ctx, FloatArray a, int aOffset, int lda, FloatArray b, int bOffset, int ldb,
                                  FloatArray c, int cOffset, int ldc, int m, int n, int k, float alpha, float beta) {
        float[] aTile = ctx.allocateFloatLocalArray(TILE_FLOATS);
        float[] bTile = ctx.allocateFloatLocalArray(TILE_FLOATS);
        float[] acc = new float[16];
        int row0 = ctx.groupIdy * TILE;
        int col0 = ctx.groupIdx * TILE;
        for (int p0 = 0; p0 < k; p0 += DEPTH) {
            stageF32(a, aOffset, lda, m, k, row0, p0, aTile, ctx.localIdx);
            stageF32(b, bOffset, ldb, n, k, col0, p0, bTile, ctx.localIdx);
            multiplyStaged(ctx, aTile, bTile, acc);
        }
        store(c, cOffset, ldc, m, n, row0, col0, acc, alpha, beta, ctx.localIdx);
    }

    public static void gemmF32F16(KernelContext ctx, FloatArray a, int aOffset, int lda, HalfArray b, int bOffset, int ldb,
                                  FloatArray c, int cOffset, int ldc, int m, int n, int k, float alpha, float beta) {
        float[] aTile = ctx.allocateFloatLocalArray(TILE_FLOATS);
        float[] bTile = ctx.allocateFloatLocalArray(TILE_FLOATS);
        float[] acc = new float[16];
        int row0 = ctx.groupIdy * TILE;
        int col0 = ctx.groupIdx * TILE;
        for (int p0 = 0; p0 < k; p0 += DEPTH) {
            stageF32(a, aOffset, lda, m, k, row0, p0, aTile, ctx.localIdx);
            stageF16(b, bOffset, ldb, n, k, col0, p0, bTile, ctx.localIdx);
            multiplyStaged(ctx, aTile, bTile, acc);
        }
        store(c, cOffset, ldc, m, n, row0, col0, acc, alpha, beta, ctx.localIdx);
    }

    public static void gemmF32BF16(KernelContext ctx, FloatArray a, int aOffset, int lda, BFloat16Array b, int bOffset, int ldb,
                                   FloatArray c, int cOffset, int ldc, int m, int n, int k, float alpha, float beta) {
        float[] aTile = ctx.allocateFloatLocalArray(TILE_FLOATS);
        float[] bTile = ctx.allocateFloatLocalArray(TILE_FLOATS);
        float[] acc = new float[16];
        int row0 = ctx.groupIdy * TILE;
        int col0 = ctx.groupIdx * TILE;
        for (int p0 = 0; p0 < k; p0 += DEPTH) {
            stageF32(a, aOffset, lda, m, k, row0, p0, aTile, ctx.localIdx);
            stageBF16(b, bOffset, ldb, n, k, col0, p0, bTile, ctx.localIdx);
            multiplyStaged(ctx, aTile, bTile, acc);
        }
        store(c, cOffset, ldc, m, n, row0, col0, acc, alpha, beta, ctx.localIdx);
    }

    // Staging: the TILE x DEPTH block of a row-major matrix at (row0, p0) into tile[p * STRIDE + row],
    // zeros outside rows x k. Consecutive work-items read consecutive elements of a row. One variant
    // per element type (kernels have no generics); the index arithmetic is shared.

    static void stageF32(FloatArray src, int offset, int ld, int rows, int k, int row0, int p0, float[] tile, int thread) {
        for (int e = thread; e < TILE * DEPTH; e += THREADS) {
            int i = stagedIndex(e, offset, ld, rows, k, row0, p0);
            tile[tileSlot(e)] = i < 0 ? 0.0f : src.get(i);
        }
    }

    static void stageF16(HalfArray src, int offset, int ld, int rows, int k, int row0, int p0, float[] tile, int thread) {
        for (int e = thread; e < TILE * DEPTH; e += THREADS) {
            int i = stagedIndex(e, offset, ld, rows, k, row0, p0);
            tile[tileSlot(e)] = i < 0 ? 0.0f : src.get(i);
        }
    }

    static void stageBF16(BFloat16Array src, int offset, int ld, int rows, int k, int row0, int p0, float[] tile, int thread) {
        for (int e = thread; e < TILE * DEPTH; e += THREADS) {
            int i = stagedIndex(e, offset, ld, rows, k, row0, p0);
            tile[tileSlot(e)] = i < 0 ? 0.0f : src.get(i);
        }
    }

    /** The source element of staged element {@code e} (row {@code e / DEPTH}, depth {@code e % DEPTH}), or -1 outside rows x k. */
    static int stagedIndex(int e, int offset, int ld, int rows, int k, int row0, int p0) {
        int r = e / DEPTH;
        int p = e % DEPTH;
        return row0 + r < rows && p0 + p < k ? offset + (row0 + r) * ld + p0 + p : -1;
    }

    /** Where staged element {@code e} sits in its tile: transposed, depth-major. */
    static int tileSlot(int e) {
        return e % DEPTH * STRIDE + e / DEPTH;
    }

    /** Once both tiles are staged (a barrier), accumulates their product; ends with a barrier before they are restaged. */
    static void multiplyStaged(KernelContext ctx, float[] aTile, float[] bTile, float[] acc) {
        ctx.localBarrier();
        multiplyTiles(aTile, bTile, acc, ctx.localIdx);
        ctx.localBarrier();
    }

    /** acc[4 * i + j] += sum_p aTile[p][ty + 16 i] * bTile[p][tx + 16 j] over the staged depth. */
    static void multiplyTiles(float[] aTile, float[] bTile, float[] acc, int thread) {
        int tx = thread % 16;
        int ty = thread / 16;
        for (int p = 0; p < DEPTH; p++) {
            for (int i = 0; i < 4; i++) {
                float av = aTile[p * STRIDE + ty + 16 * i];
                for (int j = 0; j < 4; j++) {
                    acc[4 * i + j] += av * bTile[p * STRIDE + tx + 16 * j];
                }
            }
        }
    }

    /** C = alpha * acc + beta * C for this work-item's 4 x 4 elements inside m x n. */
    static void store(FloatArray c, int offset, int ldc, int m, int n, int row0, int col0, float[] acc, float alpha, float beta, int thread) {
        int tx = thread % 16;
        int ty = thread / 16;
        for (int i = 0; i < 4; i++) {
            int row = row0 + ty + 16 * i;
            for (int j = 0; j < 4; j++) {
                int col = col0 + tx + 16 * j;
                if (row < m && col < n) {
                    int index = offset + row * ldc + col;
                    float v = alpha * acc[4 * i + j];
                    if (beta != 0.0f) v += beta * c.get(index);
                    c.set(index, v);
                }
            }
        }
    }

    // Conversions between a sub-matrix (offset, leading dimension) of float16/bfloat16 storage and a
    // dense float32 [rows, cols] copy. The column is dimension x: Grid.of(cols, rows).

    public static void widenHalf(HalfArray src, int offset, int ld, FloatArray dst, int rows, int cols) {
        for (@Parallel int c = 0; c < cols; c++) {
            for (@Parallel int r = 0; r < rows; r++) {
                dst.set(r * cols + c, src.get(offset + r * ld + c));
            }
        }
    }

    public static void widenBFloat16(BFloat16Array src, int offset, int ld, FloatArray dst, int rows, int cols) {
        for (@Parallel int c = 0; c < cols; c++) {
            for (@Parallel int r = 0; r < rows; r++) {
                dst.set(r * cols + c, src.get(offset + r * ld + c));
            }
        }
    }

    public static void narrowHalf(FloatArray src, HalfArray dst, int offset, int ld, int rows, int cols) {
        for (@Parallel int c = 0; c < cols; c++) {
            for (@Parallel int r = 0; r < rows; r++) {
                dst.set(offset + r * ld + c, src.get(r * cols + c));
            }
        }
    }

    public static void narrowBFloat16(FloatArray src, BFloat16Array dst, int offset, int ld, int rows, int cols) {
        for (@Parallel int c = 0; c < cols; c++) {
            for (@Parallel int r = 0; r < rows; r++) {
                dst.set(offset + r * ld + c, src.get(r * cols + c));
            }
        }
    }
}
