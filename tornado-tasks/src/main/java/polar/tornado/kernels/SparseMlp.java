package polar.tornado.kernels;

import polar.tornado.KernelContext;
import polar.tornado.Parallel;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * Polar Sparsity's selective MLP for ReLU models (OPT): {@code out += fc2(relu(fc1(x) + b1)) + b2}
 * over only the {@code k} neurons listed in {@code active [k]}, one list for the whole batch.
 *
 * <p>The list comes from the router: its scores {@code [batch, ffn]} are ReLU'd and summed over the
 * batch ({@link #batchReluSum}), then {@link TopK#large} picks the k best neurons (ascending order).
 *
 * <p>Both products are gathered GEMMs over rows of a {@code [ffn, hidden]} matrix, so that each
 * selected neuron is one contiguous row read with 16-byte loads: FC1 reads rows of W1 as stored
 * (PyTorch's {@code fc1.weight} is {@code [ffn, hidden]}); FC2 reads rows of W2 <em>transposed</em>
 * ({@code fc2.weight} is {@code [hidden, ffn]}, its neurons are columns; the engine uploads a
 * {@code [ffn, hidden]} copy for sparse layers). Weights are float16 or float32, math float32.
 *
 * <ul>
 * <li>{@code fc1*}: {@code h[b][j] = relu(x[b] . W1[active[j]] + b1[active[j]])} into the compact
 * {@code h [batch, k]} (float32). A work-group is {@link #FC1_THREADS} work-items over
 * {@link #NEURONS} neurons (a warp per {@link #ROWS_PER_WARP} rows) and {@code batchTile} batch
 * rows; it walks {@code hidden} up to {@link #FC1_CHUNKS} chunks of {@link #CHUNK} columns at a time, stages the batch tile's x
 * chunk in local memory once for all its warps, and each lane reads 8 columns of each of its rows
 * in one wide load. Every weight row is read once per batch tile; batch tiles are the grid's x, so
 * the groups that share rows run together and all but the first find them in L2.
 * <li>{@code fc2*}: {@code out[b][c] += sum_j h[b][j] W2t[active[j]][c] + b2[c]}. A work-group owns
 * {@link #CHUNK} output columns (8 per lane) of a batch tile and a share ({@code split}) of the
 * selected neurons; its warps take turns over the neurons, two rows per step,
 * with the h tile and row offsets staged in local memory, then add up across warps. With one split
 * the group adds into {@code out} directly; with several, each split writes float32 partials and
 * {@link #fc2Combine} adds them (deterministic, no atomics).
 * </ul>
 *
 * <p>Requirements: {@code hidden % 8 == 0}, {@code 1 <= batchTile <= MAX_BATCH_TILE} (an
 * {@code Arg.constant}, so the per-batch-row loops unroll and accumulators stay in registers).
 */
public final class SparseMlp {
    private SparseMlp() {}

    /** Work-items per FC2 work-group. */
    public static final int THREADS = 256;
    static final int WARP = KernelContext.WARP_SIZE;
    static final int WARPS = THREADS / WARP;
    /** Work-items per FC1 work-group: 4 warps, so that a few thousand neurons still make enough groups to fill a GPU. */
    public static final int FC1_THREADS = 128;
    static final int FC1_WARPS = FC1_THREADS / WARP;
    /** Columns a warp covers at once: 8 per lane, one 16-byte load of float16. */
    public static final int CHUNK = 8 * WARP;
    /**
     * FC1: most chunks of columns staged and loaded per step, so that each lane has up to
     * {@code ROWS_PER_WARP * FC1_CHUNKS} 16-byte loads in flight (small batches: few warps stream the rows).
     */
    static final int FC1_CHUNKS = 2;
    /** FC1: weight rows per warp, loaded together and each multiplied with the staged x. */
    public static final int ROWS_PER_WARP = 4;
    /** FC2: weight rows a warp loads per step (2, not 4: 125 registers instead of 137 at batch tile 8, two groups per SM). */
    static final int FC2_ROWS = 2;
    /** Selected neurons per FC1 work-group. */
    public static final int NEURONS = FC1_WARPS * ROWS_PER_WARP;
    /** Largest batch tile: batch rows one work-group computes. */
    public static final int MAX_BATCH_TILE = 8;
    /** {@code hidden} must be a multiple of this (16-byte loads). */
    public static final int HIDDEN_MULTIPLE = 8;

    /** {@code sums[c] = sum over the batch of max(0, scores[b][c])}, for {@code scores [batch, ffn]}. Launch with {@code Grid.of(ffn)}. */
    public static void batchReluSum(FloatArray scores, FloatArray sums, int batch, int ffn) {
        for (@Parallel int c = 0; c < ffn; c++) {
            float s = 0f;
            for (int b = 0; b < batch; b++) s += Math.max(0f, scores.get(b * ffn + c));
            sums.set(c, s);
        }
    }

    // ---- FC1: one variant per (x, W1) storage; launch with
    // Grid.groups(ceil(batch / batchTile), ceil(k / NEURONS), FC1_THREADS)

    public static void fc1F32F32(KernelContext ctx, FloatArray x, FloatArray w1, FloatArray bias, IntArray active, FloatArray h,
                                 int batch, int hidden, int k, int batchTile) {
        float[] xs = ctx.allocateFloatLocalArray(MAX_BATCH_TILE * CHUNK * FC1_CHUNKS);
        float[] w = new float[8 * ROWS_PER_WARP * FC1_CHUNKS];
        float[] acc = new float[ROWS_PER_WARP * MAX_BATCH_TILE];
        int[] rowStart = new int[ROWS_PER_WARP];
        int b0 = ctx.groupIdx * batchTile;
        int n0 = fc1Rows(ctx, active, rowStart, hidden, k);
        for (int c0 = 0; c0 < hidden; c0 += CHUNK * fc1Chunks(batchTile)) {
            stageX(ctx, x, xs, b0, c0, batch, hidden, batchTile);
            for (int q = 0; q < fc1Chunks(batchTile); q++) {
                for (int r = 0; r < ROWS_PER_WARP; r++) load8(w1, fc1Column(ctx, rowStart[r], c0 + q * CHUNK, hidden), w, q * ROWS_PER_WARP + r);
            }
            fc1Accumulate(ctx, xs, w, acc, batchTile);
        }
        fc1Store(ctx, acc, bias, active, h, b0, n0, batch, k, batchTile);
    }

    public static void fc1F32F16(KernelContext ctx, FloatArray x, HalfArray w1, FloatArray bias, IntArray active, FloatArray h,
                                 int batch, int hidden, int k, int batchTile) {
        float[] xs = ctx.allocateFloatLocalArray(MAX_BATCH_TILE * CHUNK * FC1_CHUNKS);
        float[] w = new float[8 * ROWS_PER_WARP * FC1_CHUNKS];
        float[] acc = new float[ROWS_PER_WARP * MAX_BATCH_TILE];
        int[] rowStart = new int[ROWS_PER_WARP];
        int b0 = ctx.groupIdx * batchTile;
        int n0 = fc1Rows(ctx, active, rowStart, hidden, k);
        for (int c0 = 0; c0 < hidden; c0 += CHUNK * fc1Chunks(batchTile)) {
            stageX(ctx, x, xs, b0, c0, batch, hidden, batchTile);
            for (int q = 0; q < fc1Chunks(batchTile); q++) {
                for (int r = 0; r < ROWS_PER_WARP; r++) load8(w1, fc1Column(ctx, rowStart[r], c0 + q * CHUNK, hidden), w, q * ROWS_PER_WARP + r);
            }
            fc1Accumulate(ctx, xs, w, acc, batchTile);
        }
        fc1Store(ctx, acc, bias, active, h, b0, n0, batch, k, batchTile);
    }

    public static void fc1F16F32(KernelContext ctx, HalfArray x, FloatArray w1, FloatArray bias, IntArray active, FloatArray h,
                                 int batch, int hidden, int k, int batchTile) {
        float[] xs = ctx.allocateFloatLocalArray(MAX_BATCH_TILE * CHUNK * FC1_CHUNKS);
        float[] w = new float[8 * ROWS_PER_WARP * FC1_CHUNKS];
        float[] acc = new float[ROWS_PER_WARP * MAX_BATCH_TILE];
        int[] rowStart = new int[ROWS_PER_WARP];
        int b0 = ctx.groupIdx * batchTile;
        int n0 = fc1Rows(ctx, active, rowStart, hidden, k);
        for (int c0 = 0; c0 < hidden; c0 += CHUNK * fc1Chunks(batchTile)) {
            stageX(ctx, x, xs, b0, c0, batch, hidden, batchTile);
            for (int q = 0; q < fc1Chunks(batchTile); q++) {
                for (int r = 0; r < ROWS_PER_WARP; r++) load8(w1, fc1Column(ctx, rowStart[r], c0 + q * CHUNK, hidden), w, q * ROWS_PER_WARP + r);
            }
            fc1Accumulate(ctx, xs, w, acc, batchTile);
        }
        fc1Store(ctx, acc, bias, active, h, b0, n0, batch, k, batchTile);
    }

    public static void fc1F16F16(KernelContext ctx, HalfArray x, HalfArray w1, FloatArray bias, IntArray active, FloatArray h,
                                 int batch, int hidden, int k, int batchTile) {
        float[] xs = ctx.allocateFloatLocalArray(MAX_BATCH_TILE * CHUNK * FC1_CHUNKS);
        float[] w = new float[8 * ROWS_PER_WARP * FC1_CHUNKS];
        float[] acc = new float[ROWS_PER_WARP * MAX_BATCH_TILE];
        int[] rowStart = new int[ROWS_PER_WARP];
        int b0 = ctx.groupIdx * batchTile;
        int n0 = fc1Rows(ctx, active, rowStart, hidden, k);
        for (int c0 = 0; c0 < hidden; c0 += CHUNK * fc1Chunks(batchTile)) {
            stageX(ctx, x, xs, b0, c0, batch, hidden, batchTile);
            for (int q = 0; q < fc1Chunks(batchTile); q++) {
                for (int r = 0; r < ROWS_PER_WARP; r++) load8(w1, fc1Column(ctx, rowStart[r], c0 + q * CHUNK, hidden), w, q * ROWS_PER_WARP + r);
            }
            fc1Accumulate(ctx, xs, w, acc, batchTile);
        }
        fc1Store(ctx, acc, bias, active, h, b0, n0, batch, k, batchTile);
    }

    // ---- FC2: one variant per W2t storage; launch with
    // Grid.groups(ceil(batch / batchTile), ceil(hidden / CHUNK), splits, THREADS)

    public static void fc2F32(KernelContext ctx, FloatArray h, FloatArray w2t, FloatArray bias, IntArray active, FloatArray out,
                              FloatArray partial, int batch, int hidden, int k, int splits, int batchTile) {
        float[] hs = ctx.allocateFloatLocalArray(MAX_BATCH_TILE * CHUNK);
        int[] rowStart = ctx.allocateIntLocalArray(CHUNK);
        float[] sums = ctx.allocateFloatLocalArray(WARPS * CHUNK);
        float[] w = new float[8 * FC2_ROWS];
        float[] acc = new float[8 * MAX_BATCH_TILE];
        int b0 = ctx.groupIdx * batchTile;
        int col = ctx.groupIdy * CHUNK + 8 * ctx.laneId();
        int per = (k + splits - 1) / splits;
        int end = Math.min(k, (ctx.groupIdz + 1) * per);
        for (int j0 = ctx.groupIdz * per; j0 < end; j0 += CHUNK) {
            int n = stageH(ctx, h, active, hs, rowStart, b0, j0, end, batch, hidden, k, batchTile);
            for (int jj = FC2_ROWS * ctx.warpId(); jj < n; jj += FC2_ROWS * WARPS) {
                for (int r = 0; r < FC2_ROWS; r++) load8(w2t, fc2Column(rowStart, jj + r, n, col, hidden), w, r);
                fc2Accumulate(hs, w, acc, jj, batchTile);
            }
            ctx.localBarrier();
        }
        fc2Store(ctx, sums, acc, bias, out, partial, b0, batch, hidden, splits, batchTile);
    }

    public static void fc2F16(KernelContext ctx, FloatArray h, HalfArray w2t, FloatArray bias, IntArray active, FloatArray out,
                              FloatArray partial, int batch, int hidden, int k, int splits, int batchTile) {
        float[] hs = ctx.allocateFloatLocalArray(MAX_BATCH_TILE * CHUNK);
        int[] rowStart = ctx.allocateIntLocalArray(CHUNK);
        float[] sums = ctx.allocateFloatLocalArray(WARPS * CHUNK);
        float[] w = new float[8 * FC2_ROWS];
        float[] acc = new float[8 * MAX_BATCH_TILE];
        int b0 = ctx.groupIdx * batchTile;
        int col = ctx.groupIdy * CHUNK + 8 * ctx.laneId();
        int per = (k + splits - 1) / splits;
        int end = Math.min(k, (ctx.groupIdz + 1) * per);
        for (int j0 = ctx.groupIdz * per; j0 < end; j0 += CHUNK) {
            int n = stageH(ctx, h, active, hs, rowStart, b0, j0, end, batch, hidden, k, batchTile);
            for (int jj = FC2_ROWS * ctx.warpId(); jj < n; jj += FC2_ROWS * WARPS) {
                for (int r = 0; r < FC2_ROWS; r++) load8(w2t, fc2Column(rowStart, jj + r, n, col, hidden), w, r);
                fc2Accumulate(hs, w, acc, jj, batchTile);
            }
            ctx.localBarrier();
        }
        fc2Store(ctx, sums, acc, bias, out, partial, b0, batch, hidden, splits, batchTile);
    }

    /**
     * FC2 splits for a device with {@code multiprocessors} SMs (compute units): about one work-group
     * per SM (on an H100 this beat a quarter and four times as many, batch 1 to 64), keeping at least
     * 64 neurons per split.
     */
    public static int fc2Splits(int batch, int batchTile, int hidden, int k, int multiprocessors) {
        int groups = (batch + batchTile - 1) / batchTile * ((hidden + CHUNK - 1) / CHUNK);
        return Math.max(1, Math.min(Math.round((float) multiprocessors / groups), k / 64));
    }

    /**
     * With several splits: {@code out[b][c] += sum over splits of partial[s][b][c] + bias[c]}, for
     * {@code partial [splits, batch, hidden]}. Launch with {@code Grid.of(hidden, batch)}.
     */
    public static void fc2Combine(FloatArray partial, FloatArray bias, FloatArray out, int batch, int hidden, int splits) {
        for (@Parallel int c = 0; c < hidden; c++) {
            for (@Parallel int b = 0; b < batch; b++) {
                float s = 0f;
                for (int z = 0; z < splits; z++) s += partial.get((z * batch + b) * hidden + c);
                out.set(b * hidden + c, out.get(b * hidden + c) + s + bias.get(c));
            }
        }
    }

    // ---- shared pieces

    /** {@code w[8r .. 8r+7] = a[i .. i+7]} in one (float16) or two (float32) 16-byte loads; zeros when {@code i < 0}. */
    static void load8(HalfArray a, int i, float[] w, int r) {
        float[] v = new float[8];
        if (i >= 0) a.load8(i, v);
        for (int c = 0; c < 8; c++) w[8 * r + c] = v[c];
    }

    static void load8(FloatArray a, int i, float[] w, int r) {
        float[] lo = new float[4];
        float[] hi = new float[4];
        if (i >= 0) {
            a.load4(i, lo);
            a.load4(i + 4, hi);
        }
        for (int c = 0; c < 4; c++) {
            w[8 * r + c] = lo[c];
            w[8 * r + 4 + c] = hi[c];
        }
    }

    /** FC1: chunks per step: {@link #FC1_CHUNKS} for batch tiles up to 4, else 1 (the accumulators of a larger tile stay in registers only then). */
    static int fc1Chunks(int batchTile) {
        return batchTile <= 4 ? FC1_CHUNKS : 1;
    }

    /** FC1: the start of each of this warp's weight rows ({@code -1} past {@code k}); returns the warp's first neuron. */
    static int fc1Rows(KernelContext ctx, IntArray active, int[] rowStart, int hidden, int k) {
        int n0 = ctx.groupIdy * NEURONS + ctx.warpId() * ROWS_PER_WARP;
        for (int r = 0; r < ROWS_PER_WARP; r++) rowStart[r] = n0 + r < k ? active.get(n0 + r) * hidden : -1;
        return n0;
    }

    /** FC1: where this lane's 8 weights of a row start in chunk {@code c0}, or {@code -1} if none. */
    static int fc1Column(KernelContext ctx, int rowStart, int c0, int hidden) {
        int col = c0 + 8 * ctx.laneId();
        return rowStart >= 0 && col < hidden ? rowStart + col : -1;
    }

    /**
     * FC1: {@code xs[b][q][c * 32 + lane] = x[b0 + b][c0 + q * CHUNK + 8 * lane + c]} for the step's
     * {@link #FC1_CHUNKS} chunks, zeros outside the batch
     * and the row: a lane's 8 columns sit 32 words apart, so a warp reads them without bank
     * conflicts. Ends with a barrier.
     */
    static void stageX(KernelContext ctx, FloatArray x, float[] xs, int b0, int c0, int batch, int hidden, int batchTile) {
        float[] v = new float[8];
        int chunks = fc1Chunks(batchTile);
        for (int e = ctx.localIdx; e < batchTile * WARP * chunks; e += FC1_THREADS) {
            int bq = e / WARP;
            int lane = e % WARP;
            int col = c0 + bq % chunks * CHUNK + 8 * lane;
            int b = bq / chunks;
            load8(x, b0 + b < batch && col < hidden ? (b0 + b) * hidden + col : -1, v, 0);
            for (int c = 0; c < 8; c++) xs[bq * CHUNK + c * WARP + lane] = v[c];
        }
        ctx.localBarrier();
    }

    static void stageX(KernelContext ctx, HalfArray x, float[] xs, int b0, int c0, int batch, int hidden, int batchTile) {
        float[] v = new float[8];
        int chunks = fc1Chunks(batchTile);
        for (int e = ctx.localIdx; e < batchTile * WARP * chunks; e += FC1_THREADS) {
            int bq = e / WARP;
            int lane = e % WARP;
            int col = c0 + bq % chunks * CHUNK + 8 * lane;
            int b = bq / chunks;
            load8(x, b0 + b < batch && col < hidden ? (b0 + b) * hidden + col : -1, v, 0);
            for (int c = 0; c < 8; c++) xs[bq * CHUNK + c * WARP + lane] = v[c];
        }
        ctx.localBarrier();
    }

    /** FC1: {@code acc[r][b] += w[r] . x[b]} over this lane's 8 columns of the chunk; ends with a barrier (xs is restaged next). */
    static void fc1Accumulate(KernelContext ctx, float[] xs, float[] w, float[] acc, int batchTile) {
        int lane = ctx.laneId();
        for (int b = 0; b < batchTile; b++) {
            for (int q = 0; q < fc1Chunks(batchTile); q++) {
                for (int c = 0; c < 8; c++) {
                    float xv = xs[(b * fc1Chunks(batchTile) + q) * CHUNK + c * WARP + lane];
                    for (int r = 0; r < ROWS_PER_WARP; r++) acc[r * MAX_BATCH_TILE + b] += w[8 * (q * ROWS_PER_WARP + r) + c] * xv;
                }
            }
        }
        ctx.localBarrier();
    }

    /** FC1: sums each accumulator over the warp and writes {@code relu(sum + bias)} to the compact {@code h [batch, k]}. */
    static void fc1Store(KernelContext ctx, float[] acc, FloatArray bias, IntArray active, FloatArray h,
                         int b0, int n0, int batch, int k, int batchTile) {
        for (int r = 0; r < ROWS_PER_WARP; r++) {
            for (int b = 0; b < batchTile; b++) {
                float s = ctx.warpReduceSum(acc[r * MAX_BATCH_TILE + b]);
                int n = n0 + r;
                if (ctx.laneId() == 0 && n < k && b0 + b < batch) h.set((b0 + b) * k + n, Math.max(0f, s + bias.get(active.get(n))));
            }
        }
    }

    /**
     * FC2: stages {@code hs[b][jj] = h[b0 + b][j0 + jj]} and each row's start in W2t for the next
     * up to {@link #CHUNK} neurons before {@code end}; returns how many. Ends with a barrier.
     */
    static int stageH(KernelContext ctx, FloatArray h, IntArray active, float[] hs, int[] rowStart,
                      int b0, int j0, int end, int batch, int hidden, int k, int batchTile) {
        int n = Math.min(CHUNK, end - j0);
        for (int jj = ctx.localIdx; jj < n; jj += THREADS) rowStart[jj] = active.get(j0 + jj) * hidden;
        for (int e = ctx.localIdx; e < batchTile * CHUNK; e += THREADS) {
            int b = e / CHUNK;
            int jj = e % CHUNK;
            hs[e] = b0 + b < batch && jj < n ? h.get((b0 + b) * k + j0 + jj) : 0f;
        }
        ctx.localBarrier();
        return n;
    }

    /** FC2: where this lane's 8 weights of staged row {@code jj} start, or {@code -1} past the rows or the columns. */
    static int fc2Column(int[] rowStart, int jj, int n, int col, int hidden) {
        return jj < n && col < hidden ? rowStart[jj] + col : -1;
    }

    /** FC2: {@code acc[b][c] += h[b][jj + r] * w[r][c]} over this step's rows (staged rows past the end have h = 0 and w = 0). */
    static void fc2Accumulate(float[] hs, float[] w, float[] acc, int jj, int batchTile) {
        for (int r = 0; r < FC2_ROWS; r++) {
            for (int b = 0; b < batchTile; b++) {
                float hv = hs[b * CHUNK + jj + r];
                for (int c = 0; c < 8; c++) acc[b * 8 + c] += hv * w[8 * r + c];
            }
        }
    }

    /**
     * FC2: adds the warps' accumulators per column through local memory, then either adds the sum
     * and the bias into {@code out} (one split) or writes the split's partial.
     */
    static void fc2Store(KernelContext ctx, float[] sums, float[] acc, FloatArray bias, FloatArray out, FloatArray partial,
                         int b0, int batch, int hidden, int splits, int batchTile) {
        int t = ctx.localIdx;
        int col = ctx.groupIdy * CHUNK + t;
        for (int b = 0; b < batchTile; b++) {
            for (int c = 0; c < 8; c++) sums[ctx.warpId() * CHUNK + 8 * ctx.laneId() + c] = acc[b * 8 + c];
            ctx.localBarrier();
            float s = 0f;
            for (int w = 0; w < WARPS; w++) s += sums[w * CHUNK + t];
            if (b0 + b < batch && col < hidden) {
                int i = (b0 + b) * hidden + col;
                if (splits == 1) out.set(i, out.get(i) + s + bias.get(col));
                else partial.set(ctx.groupIdz * batch * hidden + i, s);
            }
            ctx.localBarrier();
        }
    }
}
