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
 * At small batch both are bound by the weight bytes, so each selected weight byte is read from
 * memory once (per batch tile; the other tiles find it in L2), with coalesced 16-byte loads, and
 * enough loads in flight to cover the memory latency:
 *
 * <ul>
 * <li>{@code fc1*}: {@code h[b][j] = relu(x[b] . W1[active[j]] + b1[active[j]])} into the compact
 * {@code h [batch, k]} (float32). A warp owns {@link #ROWS_PER_WARP} neurons and walks their whole
 * rows, {@link #FC1_CHUNKS} chunks of {@link #CHUNK} columns a step: each lane issues
 * {@code ROWS_PER_WARP * FC1_CHUNKS} 16-byte weight loads at once, then multiplies them with the
 * batch tile's x, read straight from global memory (a few KB, hot in L1 and shared by every warp of
 * the SM); no local memory, no barrier; a warp reduction at the end. Work-groups of
 * {@link #FC1_THREADS} cover {@link #NEURONS} neurons.
 * <li>{@code fc2*}: {@code out[b][c] += sum_j h[b][j] W2t[active[j]][c] + b2[c]}: split-K over the
 * selected neurons. A work-group owns {@link #CHUNK} output columns (8 per lane) of a batch tile and
 * a share ({@code split}) of the neurons; it stages up to {@code CHUNK} of its neurons' row offsets and
 * h values in local memory, then its warps take turns over them, {@link #fc2Rows} rows (one wide load
 * each) per step, and finally add up across warps. With one split the group adds into {@code out}
 * directly; with several, each split writes float32 partials and the split that finishes last
 * for its columns adds them in a fixed order ({@link Arrivals}: deterministic, no separate combine
 * launch). {@link #fc2Splits} sizes the split so that several work-groups run per SM.
 * </ul>
 *
 * <p>Requirements: {@code hidden % 8 == 0}, {@code 1 <= batchTile <= MAX_BATCH_TILE} (an
 * {@code Arg.constant}, so the per-batch-row loops unroll and accumulators stay in registers).
 *
 * <p>These are CUDA-core kernels: from a batch of about 16 on they are bound by float32 FMAs, not
 * bytes, and lose to a tensor-core GEMM over all neurons once {@code batch * k} is large enough
 * ({@link #fasterThanDense}).
 */
public final class SparseMlp {
    private SparseMlp() {}

    static final int WARP = KernelContext.WARP_SIZE;
    /** Work-items per FC2 work-group: 4 warps, so that several groups share an SM. */
    public static final int THREADS = 128;
    static final int WARPS = THREADS / WARP;
    /** Work-items per FC1 work-group. */
    public static final int FC1_THREADS = 128;
    static final int FC1_WARPS = FC1_THREADS / WARP;
    /** Columns a warp covers with one load per lane: 8 per lane, one 16-byte load of float16. */
    public static final int CHUNK = 8 * WARP;
    /** FC1: neurons (weight rows) per warp; they share the x loads. */
    public static final int ROWS_PER_WARP = 2;
    /** FC1: chunks of {@link #CHUNK} columns per step; with {@link #ROWS_PER_WARP}, 8 wide loads in flight per lane. */
    static final int FC1_CHUNKS = 4;
    /** FC2: most weight rows a warp loads per step (at batch tiles of 1-2; fewer at larger tiles, see {@link #fc2Rows}). */
    static final int FC2_MAX_ROWS = 8;
    /** Selected neurons per FC1 work-group. */
    public static final int NEURONS = FC1_WARPS * ROWS_PER_WARP;
    /** Largest batch tile: batch rows one work-group computes. */
    public static final int MAX_BATCH_TILE = 8;
    /** {@code hidden} must be a multiple of this (16-byte loads). */
    public static final int HIDDEN_MULTIPLE = 8;
    /** Most FC2 splits {@link #fc2Splits} picks. */
    public static final int MAX_SPLITS = 64;
    /** FC2 work-groups {@link #fc2Splits} aims for per SM (4 warps each; enough loads in flight to cover HBM latency). */
    static final int FC2_GROUPS_PER_SM = 4;
    /** Fewest neurons per FC2 split: two steps of {@link #FC2_MAX_ROWS} rows for each warp. */
    static final int MIN_SPLIT_NEURONS = 2 * FC2_MAX_ROWS * WARPS;
    /**
     * {@link #fasterThanDense}: the gathered MLP wins while {@code batch * k <= DENSE_CROSSOVER * ffn}.
     * Dense (cuBLAS, tensor cores) reads both float16 matrices once, about 0.12-0.15 ms for an
     * OPT-6.7B layer at batch 1-64 on the H100; these kernels need {@code 2 batch k hidden} float32
     * FMAs, about 10 T FMA/s there (measured: batch 64, 4096 of 16384 neurons, 0.23 ms). Equal time at
     * {@code batch * k / ffn} about 10.
     */
    public static final float DENSE_CROSSOVER = 10f;

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
        float[] w = new float[8 * ROWS_PER_WARP * FC1_CHUNKS];
        float[] acc = new float[ROWS_PER_WARP * MAX_BATCH_TILE];
        int[] rowStart = new int[ROWS_PER_WARP];
        int b0 = ctx.groupIdx * batchTile;
        int n0 = fc1Rows(ctx, active, rowStart, hidden, k);
        for (int c0 = 8 * ctx.laneId(); c0 < hidden; c0 += FC1_CHUNKS * CHUNK) {
            for (int r = 0; r < ROWS_PER_WARP; r++) {
                for (int s = 0; s < FC1_CHUNKS; s++) load8(w1, fc1Column(rowStart[r], c0 + s * CHUNK, hidden), w, r * FC1_CHUNKS + s);
            }
            fc1Accumulate(x, w, acc, b0, c0, batch, hidden, batchTile);
        }
        fc1Store(ctx, acc, bias, active, h, b0, n0, batch, k, batchTile);
    }

    public static void fc1F32F16(KernelContext ctx, FloatArray x, HalfArray w1, FloatArray bias, IntArray active, FloatArray h,
                                 int batch, int hidden, int k, int batchTile) {
        float[] w = new float[8 * ROWS_PER_WARP * FC1_CHUNKS];
        float[] acc = new float[ROWS_PER_WARP * MAX_BATCH_TILE];
        int[] rowStart = new int[ROWS_PER_WARP];
        int b0 = ctx.groupIdx * batchTile;
        int n0 = fc1Rows(ctx, active, rowStart, hidden, k);
        for (int c0 = 8 * ctx.laneId(); c0 < hidden; c0 += FC1_CHUNKS * CHUNK) {
            for (int r = 0; r < ROWS_PER_WARP; r++) {
                for (int s = 0; s < FC1_CHUNKS; s++) load8(w1, fc1Column(rowStart[r], c0 + s * CHUNK, hidden), w, r * FC1_CHUNKS + s);
            }
            fc1Accumulate(x, w, acc, b0, c0, batch, hidden, batchTile);
        }
        fc1Store(ctx, acc, bias, active, h, b0, n0, batch, k, batchTile);
    }

    public static void fc1F16F32(KernelContext ctx, HalfArray x, FloatArray w1, FloatArray bias, IntArray active, FloatArray h,
                                 int batch, int hidden, int k, int batchTile) {
        float[] w = new float[8 * ROWS_PER_WARP * FC1_CHUNKS];
        float[] acc = new float[ROWS_PER_WARP * MAX_BATCH_TILE];
        int[] rowStart = new int[ROWS_PER_WARP];
        int b0 = ctx.groupIdx * batchTile;
        int n0 = fc1Rows(ctx, active, rowStart, hidden, k);
        for (int c0 = 8 * ctx.laneId(); c0 < hidden; c0 += FC1_CHUNKS * CHUNK) {
            for (int r = 0; r < ROWS_PER_WARP; r++) {
                for (int s = 0; s < FC1_CHUNKS; s++) load8(w1, fc1Column(rowStart[r], c0 + s * CHUNK, hidden), w, r * FC1_CHUNKS + s);
            }
            fc1Accumulate(x, w, acc, b0, c0, batch, hidden, batchTile);
        }
        fc1Store(ctx, acc, bias, active, h, b0, n0, batch, k, batchTile);
    }

    public static void fc1F16F16(KernelContext ctx, HalfArray x, HalfArray w1, FloatArray bias, IntArray active, FloatArray h,
                                 int batch, int hidden, int k, int batchTile) {
        float[] w = new float[8 * ROWS_PER_WARP * FC1_CHUNKS];
        float[] acc = new float[ROWS_PER_WARP * MAX_BATCH_TILE];
        int[] rowStart = new int[ROWS_PER_WARP];
        int b0 = ctx.groupIdx * batchTile;
        int n0 = fc1Rows(ctx, active, rowStart, hidden, k);
        for (int c0 = 8 * ctx.laneId(); c0 < hidden; c0 += FC1_CHUNKS * CHUNK) {
            for (int r = 0; r < ROWS_PER_WARP; r++) {
                for (int s = 0; s < FC1_CHUNKS; s++) load8(w1, fc1Column(rowStart[r], c0 + s * CHUNK, hidden), w, r * FC1_CHUNKS + s);
            }
            fc1Accumulate(x, w, acc, b0, c0, batch, hidden, batchTile);
        }
        fc1Store(ctx, acc, bias, active, h, b0, n0, batch, k, batchTile);
    }

    // ---- FC2: one variant per W2t storage; launch with
    // Grid.groups(ceil(batch / batchTile), ceil(hidden / CHUNK), splits, THREADS);
    // arrivals: at least ceil(batch / batchTile) * ceil(hidden / CHUNK) ints, zeros (left zero)

    public static void fc2F32(KernelContext ctx, FloatArray h, FloatArray w2t, FloatArray bias, IntArray active, FloatArray out,
                              FloatArray partial, IntArray arrivals, int batch, int hidden, int k, int splits, int batchTile) {
        float[] hs = ctx.allocateFloatLocalArray(MAX_BATCH_TILE * CHUNK);
        int[] rowStart = ctx.allocateIntLocalArray(CHUNK);
        float[] sums = ctx.allocateFloatLocalArray(WARPS * CHUNK);
        int[] flag = ctx.allocateIntLocalArray(1);
        float[] w = new float[8 * FC2_MAX_ROWS];
        float[] acc = new float[8 * MAX_BATCH_TILE];
        int rows = fc2Rows(batchTile);
        int b0 = ctx.groupIdx * batchTile;
        int col = ctx.groupIdy * CHUNK + 8 * ctx.laneId();
        int per = (k + splits - 1) / splits;
        int end = Math.min(k, (ctx.groupIdz + 1) * per);
        for (int j0 = ctx.groupIdz * per; j0 < end; j0 += CHUNK) {
            int n = stageH(ctx, h, active, hs, rowStart, b0, j0, end, batch, hidden, k, batchTile);
            for (int jj = rows * ctx.warpId(); jj < n; jj += rows * WARPS) {
                for (int r = 0; r < rows; r++) load8(w2t, fc2Column(rowStart, jj + r, n, col, hidden), w, r);
                fc2Accumulate(hs, w, acc, jj, rows, batchTile);
            }
            ctx.localBarrier();
        }
        fc2Store(ctx, sums, acc, bias, out, partial, b0, batch, hidden, splits, batchTile);
        if (splits > 1) fc2MergeIfLast(ctx, bias, out, partial, arrivals, flag, b0, batch, hidden, splits, batchTile);
    }

    public static void fc2F16(KernelContext ctx, FloatArray h, HalfArray w2t, FloatArray bias, IntArray active, FloatArray out,
                              FloatArray partial, IntArray arrivals, int batch, int hidden, int k, int splits, int batchTile) {
        float[] hs = ctx.allocateFloatLocalArray(MAX_BATCH_TILE * CHUNK);
        int[] rowStart = ctx.allocateIntLocalArray(CHUNK);
        float[] sums = ctx.allocateFloatLocalArray(WARPS * CHUNK);
        int[] flag = ctx.allocateIntLocalArray(1);
        float[] w = new float[8 * FC2_MAX_ROWS];
        float[] acc = new float[8 * MAX_BATCH_TILE];
        int rows = fc2Rows(batchTile);
        int b0 = ctx.groupIdx * batchTile;
        int col = ctx.groupIdy * CHUNK + 8 * ctx.laneId();
        int per = (k + splits - 1) / splits;
        int end = Math.min(k, (ctx.groupIdz + 1) * per);
        for (int j0 = ctx.groupIdz * per; j0 < end; j0 += CHUNK) {
            int n = stageH(ctx, h, active, hs, rowStart, b0, j0, end, batch, hidden, k, batchTile);
            for (int jj = rows * ctx.warpId(); jj < n; jj += rows * WARPS) {
                for (int r = 0; r < rows; r++) load8(w2t, fc2Column(rowStart, jj + r, n, col, hidden), w, r);
                fc2Accumulate(hs, w, acc, jj, rows, batchTile);
            }
            ctx.localBarrier();
        }
        fc2Store(ctx, sums, acc, bias, out, partial, b0, batch, hidden, splits, batchTile);
        if (splits > 1) fc2MergeIfLast(ctx, bias, out, partial, arrivals, flag, b0, batch, hidden, splits, batchTile);
    }

    /**
     * FC2 weight rows a warp loads per step for a batch tile: 8 at tiles of 1-2 (8 wide loads in
     * flight per lane), fewer at larger tiles, where the accumulators ({@code 8 * batchTile} per
     * lane) need the registers.
     */
    static int fc2Rows(int batchTile) {
        return batchTile <= 2 ? FC2_MAX_ROWS : batchTile <= 4 ? FC2_MAX_ROWS / 2 : FC2_MAX_ROWS / 4;
    }

    /**
     * FC2 splits for a device with {@code multiprocessors} SMs (compute units): about
     * {@link #FC2_GROUPS_PER_SM} work-groups per SM, at most {@link #MAX_SPLITS}, keeping at least
     * {@link #MIN_SPLIT_NEURONS} neurons per split.
     */
    public static int fc2Splits(int batch, int batchTile, int hidden, int k, int multiprocessors) {
        int groups = (batch + batchTile - 1) / batchTile * ((hidden + CHUNK - 1) / CHUNK);
        int wanted = (FC2_GROUPS_PER_SM * multiprocessors + groups - 1) / groups;
        return Math.max(1, Math.min(Math.min(wanted, MAX_SPLITS), k / MIN_SPLIT_NEURONS));
    }

    /**
     * Whether the gathered MLP of {@code k} of {@code ffn} neurons beats the dense MLP at
     * {@code batch} rows on a GPU with tensor cores: {@code batch * k <= DENSE_CROSSOVER * ffn}.
     */
    public static boolean fasterThanDense(int batch, int k, int ffn) {
        return (double) batch * k <= (double) DENSE_CROSSOVER * ffn;
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

    /** FC1: the start of each of this warp's weight rows ({@code -1} past {@code k}); returns the warp's first neuron. */
    static int fc1Rows(KernelContext ctx, IntArray active, int[] rowStart, int hidden, int k) {
        int n0 = ctx.groupIdy * NEURONS + ctx.warpId() * ROWS_PER_WARP;
        for (int r = 0; r < ROWS_PER_WARP; r++) rowStart[r] = n0 + r < k ? active.get(n0 + r) * hidden : -1;
        return n0;
    }

    /** FC1: where this lane's 8 weights of a row start at column {@code col}, or {@code -1} if none. */
    static int fc1Column(int rowStart, int col, int hidden) {
        return rowStart >= 0 && col < hidden ? rowStart + col : -1;
    }

    /**
     * FC1: {@code acc[r][b] += w[r] . x[b0 + b]} over this lane's columns of the step (8 from each of
     * {@link #FC1_CHUNKS} chunks, starting at {@code c0}); x rows past the batch count as zeros.
     */
    static void fc1Accumulate(FloatArray x, float[] w, float[] acc, int b0, int c0, int batch, int hidden, int batchTile) {
        float[] xv = new float[8];
        for (int b = 0; b < batchTile; b++) {
            for (int s = 0; s < FC1_CHUNKS; s++) {
                int col = c0 + s * CHUNK;
                load8(x, b0 + b < batch && col < hidden ? (b0 + b) * hidden + col : -1, xv, 0);
                fc1Dot(w, xv, acc, s, b);
            }
        }
    }

    static void fc1Accumulate(HalfArray x, float[] w, float[] acc, int b0, int c0, int batch, int hidden, int batchTile) {
        float[] xv = new float[8];
        for (int b = 0; b < batchTile; b++) {
            for (int s = 0; s < FC1_CHUNKS; s++) {
                int col = c0 + s * CHUNK;
                load8(x, b0 + b < batch && col < hidden ? (b0 + b) * hidden + col : -1, xv, 0);
                fc1Dot(w, xv, acc, s, b);
            }
        }
    }

    /** FC1: {@code acc[r][b] += w[r][chunk s] . xv} for each of the warp's rows. */
    static void fc1Dot(float[] w, float[] xv, float[] acc, int s, int b) {
        for (int r = 0; r < ROWS_PER_WARP; r++) {
            float d = 0f;
            for (int c = 0; c < 8; c++) d += w[8 * (r * FC1_CHUNKS + s) + c] * xv[c];
            acc[r * MAX_BATCH_TILE + b] += d;
        }
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
    static void fc2Accumulate(float[] hs, float[] w, float[] acc, int jj, int rows, int batchTile) {
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < batchTile; b++) {
                float hv = hs[b * CHUNK + jj + r];
                for (int c = 0; c < 8; c++) acc[b * 8 + c] += hv * w[8 * r + c];
            }
        }
    }

    /**
     * FC2 with several splits, partials {@code [splits, batch, hidden]} written: the last split of
     * this group's batch tile and columns to finish adds {@code sum over splits of partial + bias}
     * into {@code out}, summing the splits in order.
     */
    static void fc2MergeIfLast(KernelContext ctx, FloatArray bias, FloatArray out, FloatArray partial, IntArray arrivals, int[] flag,
                               int b0, int batch, int hidden, int splits, int batchTile) {
        int columnTiles = (hidden + CHUNK - 1) / CHUNK;
        if (Arrivals.lastToArrive(ctx, arrivals, ctx.groupIdx * columnTiles + ctx.groupIdy, splits, flag)) {
            for (int e = ctx.localIdx; e < batchTile * CHUNK; e += THREADS) {
                int b = e / CHUNK;
                int col = ctx.groupIdy * CHUNK + e % CHUNK;
                if (b0 + b < batch && col < hidden) {
                    int i = (b0 + b) * hidden + col;
                    float s = 0f;
                    for (int z = 0; z < splits; z++) s += partial.get(z * batch * hidden + i);
                    out.set(i, out.get(i) + s + bias.get(col));
                }
            }
        }
    }

    /**
     * FC2: adds the warps' accumulators per column through local memory, then either adds the sum
     * and the bias into {@code out} (one split) or writes the split's partial.
     */
    static void fc2Store(KernelContext ctx, float[] sums, float[] acc, FloatArray bias, FloatArray out, FloatArray partial,
                         int b0, int batch, int hidden, int splits, int batchTile) {
        for (int b = 0; b < batchTile; b++) {
            for (int c = 0; c < 8; c++) sums[ctx.warpId() * CHUNK + 8 * ctx.laneId() + c] = acc[b * 8 + c];
            ctx.localBarrier();
            for (int t = ctx.localIdx; t < CHUNK; t += THREADS) {
                float s = 0f;
                for (int w = 0; w < WARPS; w++) s += sums[w * CHUNK + t];
                int col = ctx.groupIdy * CHUNK + t;
                if (b0 + b < batch && col < hidden) {
                    int i = (b0 + b) * hidden + col;
                    if (splits == 1) out.set(i, out.get(i) + s + bias.get(col));
                    else partial.set(ctx.groupIdz * batch * hidden + i, s);
                }
            }
            ctx.localBarrier();
        }
    }
}
