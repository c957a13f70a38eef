package polar.tornado.kernels;

import polar.tornado.KernelContext;
import polar.tornado.Parallel;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * The basic kernel suite every backend is checked against: a bandwidth-bound copy, reductions
 * through local memory and through warp shuffles, a numerically stable softmax, a tiled matrix
 * multiply and a gather. Written as they should run on a GPU; the JVM runs the same source.
 */
public final class Basics {
    private Basics() {}

    /** Work-items per group of the row kernels (launch with {@code Grid.groups(rows, GROUP_SIZE)}). */
    public static final int GROUP_SIZE = 256;
    /** Warps per group of the row kernels. */
    public static final int WARPS = GROUP_SIZE / KernelContext.WARP_SIZE;
    /** Side of the square tiles of {@link #matmulTiled}. */
    public static final int TILE = 16;
    /** Row length of a tile in local memory, padded by one so a column read hits 16 different banks. */
    public static final int TILE_STRIDE = 17;
    /** Floats of one padded tile in local memory. */
    public static final int TILE_FLOATS = TILE * TILE_STRIDE;

    /** {@code out[i] = alpha * in[i]} in float16 storage, one element per work-item ({@code Grid.of(n)}). */
    public static void scaleHalf(HalfArray in, HalfArray out, float alpha, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            out.set(i, alpha * in.get(i));
        }
    }

    /**
     * {@code out[i] = alpha * in[i]} in float16 storage, eight elements per work-item through one
     * 16-byte load and store ({@code Grid.of((n + 7) / 8)}); the last work-item handles a partial vector.
     */
    public static void scaleHalf8(HalfArray in, HalfArray out, float alpha, int n) {
        for (@Parallel int v = 0; v < (n + 7) / 8; v++) {
            int base = v * 8;
            if (base + 8 <= n) {
                float[] regs = new float[8];
                in.load8(base, regs);
                for (int j = 0; j < 8; j++) {
                    regs[j] = alpha * regs[j];
                }
                out.store8(base, regs);
            } else {
                for (int i = base; i < n; i++) {
                    out.set(i, alpha * in.get(i));
                }
            }
        }
    }

    /**
     * Reverses each block of {@link #GROUP_SIZE} elements through local memory:
     * {@code out[g*G + t] = in[g*G + G-1-t]}. Correct only if the barrier makes every work-item's
     * write visible before any reads, so it checks that a backend's barriers hold.
     */
    public static void reverseBlocks(KernelContext ctx, FloatArray in, FloatArray out) {
        float[] block = ctx.allocateFloatLocalArray(GROUP_SIZE);
        int t = ctx.localIdx;
        block[t] = in.get(ctx.globalIdx);
        ctx.localBarrier();
        out.set(ctx.globalIdx, block[GROUP_SIZE - 1 - t]);
    }

    /** {@code out[r] = sum of x[r][0..cols)}: one group per row, a tree reduction in local memory. */
    public static void rowSum(KernelContext ctx, FloatArray x, FloatArray out, int cols) {
        float[] partial = ctx.allocateFloatLocalArray(GROUP_SIZE);
        int t = ctx.localIdx;
        int base = ctx.groupIdx * cols;
        float sum = 0f;
        for (int c = t; c < cols; c += GROUP_SIZE) {
            sum += x.get(base + c);
        }
        partial[t] = sum;
        ctx.localBarrier();
        for (int stride = GROUP_SIZE / 2; stride > 0; stride >>= 1) {
            if (t < stride) {
                partial[t] += partial[t + stride];
            }
            ctx.localBarrier();
        }
        if (t == 0) {
            out.set(ctx.groupIdx, partial[0]);
        }
    }

    /** {@code out[r] = sum of x[r][0..cols)}: one group per row, warp shuffles, then one warp combines the warps' sums. */
    public static void rowSumWarp(KernelContext ctx, FloatArray x, FloatArray out, int cols) {
        float[] warpSums = ctx.allocateFloatLocalArray(WARPS);
        int t = ctx.localIdx;
        int base = ctx.groupIdx * cols;
        float sum = 0f;
        for (int c = t; c < cols; c += GROUP_SIZE) {
            sum += x.get(base + c);
        }
        sum = ctx.warpReduceSum(sum);
        if (ctx.laneId() == 0) {
            warpSums[ctx.warpId()] = sum;
        }
        ctx.localBarrier();
        // every warp reduces the warps' sums (OpenCL emulates warp operations with group barriers,
        // so all work-items must reach them); work-item 0 writes
        float total = 0f;
        if (ctx.laneId() < WARPS) {
            total = warpSums[ctx.laneId()];
        }
        total = ctx.warpReduceSum(total);
        if (t == 0) {
            out.set(ctx.groupIdx, total);
        }
    }

    /** Row-wise softmax of {@code x [rows, cols]}: one group per row; subtracts the row maximum so exp cannot overflow. */
    public static void softmaxRows(KernelContext ctx, FloatArray x, FloatArray out, int cols) {
        float[] scratch = ctx.allocateFloatLocalArray(GROUP_SIZE);
        int t = ctx.localIdx;
        int base = ctx.groupIdx * cols;

        float max = Float.NEGATIVE_INFINITY;
        for (int c = t; c < cols; c += GROUP_SIZE) {
            max = Math.max(max, x.get(base + c));
        }
        scratch[t] = max;
        ctx.localBarrier();
        for (int stride = GROUP_SIZE / 2; stride > 0; stride >>= 1) {
            if (t < stride) {
                scratch[t] = Math.max(scratch[t], scratch[t + stride]);
            }
            ctx.localBarrier();
        }
        float rowMax = scratch[0];
        ctx.localBarrier(); // everyone has read the maximum before scratch is reused

        float sum = 0f;
        for (int c = t; c < cols; c += GROUP_SIZE) {
            sum += (float) Math.exp(x.get(base + c) - rowMax);
        }
        scratch[t] = sum;
        ctx.localBarrier();
        for (int stride = GROUP_SIZE / 2; stride > 0; stride >>= 1) {
            if (t < stride) {
                scratch[t] += scratch[t + stride];
            }
            ctx.localBarrier();
        }
        float inverse = 1f / scratch[0];
        for (int c = t; c < cols; c += GROUP_SIZE) {
            out.set(base + c, (float) Math.exp(x.get(base + c) - rowMax) * inverse);
        }
    }

    /**
     * {@code c [m, n] = a [m, k] * b [n, k]^T} (the layout of a GEMM task), float32, in 16x16 tiles
     * through local memory. Work-item (x, y) of group (gx, gy) computes c[gy*16 + y][gx*16 + x];
     * launch with global size (n, m) rounded up to multiples of 16 and local size (16, 16).
     */
    public static void matmulTiled(KernelContext ctx, FloatArray a, FloatArray b, FloatArray c, int m, int n, int k) {
        float[] aTile = ctx.allocateFloatLocalArray(TILE_FLOATS); // aTile[y][p] = a[row y of the tile][p]
        float[] bTile = ctx.allocateFloatLocalArray(TILE_FLOATS); // bTile[p][x] = b[row x of the tile][p], transposed on load
        int tx = ctx.localIdx;
        int ty = ctx.localIdy;
        int row = ctx.groupIdy * TILE + ty;
        int col = ctx.groupIdx * TILE + tx;
        int bRow = ctx.groupIdx * TILE + ty; // work-item (x, y) loads element x of b's row y of this tile
        float acc = 0f;
        for (int p0 = 0; p0 < k; p0 += TILE) {
            float av = 0f;
            if (row < m && p0 + tx < k) {
                av = a.get(row * k + p0 + tx);
            }
            aTile[ty * TILE_STRIDE + tx] = av;
            float bv = 0f;
            if (bRow < n && p0 + tx < k) {
                bv = b.get(bRow * k + p0 + tx);
            }
            bTile[tx * TILE_STRIDE + ty] = bv;
            ctx.localBarrier();
            for (int p = 0; p < TILE; p++) {
                acc += aTile[ty * TILE_STRIDE + p] * bTile[p * TILE_STRIDE + tx];
            }
            ctx.localBarrier(); // the tiles are read before the next step overwrites them
        }
        if (row < m && col < n) {
            c.set(row * n + col, acc);
        }
    }

    /**
     * {@code out[r][:] = table[index[r]][:]} for {@code rows} rows of {@code cols} values.
     * The column is dimension x so neighbouring work-items touch neighbouring addresses
     * ({@code Grid.of(cols, rows)}).
     */
    public static void gatherRows(FloatArray table, IntArray index, FloatArray out, int rows, int cols) {
        for (@Parallel int c = 0; c < cols; c++) {
            for (@Parallel int r = 0; r < rows; r++) {
                out.set(r * cols + c, table.get(index.get(r) * cols + c));
            }
        }
    }
}
