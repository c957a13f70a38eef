package polar.tornado.kernels;

import polar.tornado.KernelContext;
import polar.tornado.Parallel;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * Paged KV cache and causal attention over it, for a batch of query tokens of any sequences.
 *
 * <p>Cache layout, per layer and for K and V alike: {@code [block][kvHead][slot][headDim]} with
 * {@code blockSize} slots per block. Position {@code p} of a sequence lives in block
 * {@code blockTable[seqRow * maxBlocks + p / blockSize]}, slot {@code p % blockSize}; each query
 * token carries its sequence row ({@code tokenSeq}) and position ({@code positions}) and attends to
 * positions {@code 0..position} of its sequence. Prefill (many tokens per sequence) and decode
 * (one per sequence) are the same launch.
 *
 * <p>{@link #paged} runs one work-group per (KV head, query token, partition); the group's query
 * heads (GQA) share each K/V row it loads. Decode attention only streams the cache, so the kernel
 * is built around the loads: {@link #ROW_LANES} lanes read one K row and one V row together, 16
 * bytes each (8 dimensions per lane for every 128 of the head), and each lane keeps
 * {@link #ROWS} rows in flight. A row's scores are reduced over its lanes with warp shuffles;
 * each set of row lanes keeps its own online softmax (max, sum, and the output values of its 8
 * dimensions) over the rows it read, with no barrier in the loop. At the end the row sets are
 * merged (shuffles within a warp, local memory across warps). With several partitions (split-K,
 * flash-decoding) each writes a partial output with its max and sum, and the last partition of a
 * (KV head, token) to finish merges them in the same launch ({@link Arrivals}).
 *
 * <p>{@link SelectiveAttention} is the same kernel over the KV heads a router selected.
 */
public final class Attention {
    private Attention() {}

    public static final int THREADS = 128;
    static final int WARPS = THREADS / KernelContext.WARP_SIZE;
    /** Lanes (of one warp) that read one K or V row together: 8 dimensions, 16 bytes of float16, each per 128 dimensions. */
    static final int ROW_LANES = 16;
    /** Dimensions that {@link #ROW_LANES} lanes cover with one load each. */
    static final int SLICE = ROW_LANES * 8;
    /** Rows read at once by the work-group's sets of row lanes. */
    static final int ROW_SETS = THREADS / ROW_LANES;
    /** Rows (K and V) each lane has in flight per step. */
    static final int ROWS = 4;
    /** Positions per step of a work-group. */
    public static final int TILE = ROW_SETS * ROWS;
    /** Largest number of query heads per KV head. */
    public static final int MAX_GROUP = 8;
    public static final int MAX_HEAD_DIM = 256;
    /** Largest {@code group * headDim}: the query vectors one work-group holds. */
    public static final int MAX_GROUP_WIDTH = 1024;
    /** Head sizes must be a multiple of this (16-byte loads of float32 and float16 rows). */
    public static final int HEAD_DIM_MULTIPLE = 8;
    static final int MAX_SLICES = MAX_HEAD_DIM / SLICE;
    /** Query (or output) values one lane holds: 8 per slice per query head. */
    static final int PER_LANE = MAX_GROUP_WIDTH / ROW_LANES;
    /** Most complete (row, head) scores one lane holds after the transposed reduction. */
    static final int HELD = ROWS * MAX_GROUP / ROW_LANES;
    /** Partitions whose values a lane of the merge reads at once. */
    static final int COMBINE_BATCH = 8;
    /** Dimensions of a head per lane in the merge: {@code o[c]} is dimension {@code c * 32 + lane}. */
    static final int HEAD_CHUNKS = MAX_HEAD_DIM / KernelContext.WARP_SIZE;
    /** Score of a position outside the causal range (finite, so {@code exp} of differences stays 0, not NaN). */
    static final float MASKED = -1e30f;

    /** Writes each token's new K and V (at {@code kOffset} and {@code kOffset + kvDim} of its {@code qkv} row) into the cache. */
    public static void writeKv(FloatArray qkv, FloatArray kCache, FloatArray vCache,
                               IntArray blockTable, IntArray tokenSeq, IntArray positions,
                               int tokens, int rowStride, int kOffset, int kvDim, int maxBlocks, int headDim, int blockSize) {
        for (@Parallel int e = 0; e < kvDim; e++) {
            for (@Parallel int t = 0; t < tokens; t++) {
                int dst = slotIndex(blockTable, tokenSeq, positions, t, e, kvDim, maxBlocks, headDim, blockSize);
                int src = t * rowStride + kOffset + e;
                kCache.set(dst, qkv.get(src));
                vCache.set(dst, qkv.get(src + kvDim));
            }
        }
    }

    /** {@link #writeKv} into a float16 cache. */
    public static void writeKvHalf(FloatArray qkv, HalfArray kCache, HalfArray vCache,
                                   IntArray blockTable, IntArray tokenSeq, IntArray positions,
                                   int tokens, int rowStride, int kOffset, int kvDim, int maxBlocks, int headDim, int blockSize) {
        for (@Parallel int e = 0; e < kvDim; e++) {
            for (@Parallel int t = 0; t < tokens; t++) {
                int dst = slotIndex(blockTable, tokenSeq, positions, t, e, kvDim, maxBlocks, headDim, blockSize);
                int src = t * rowStride + kOffset + e;
                kCache.set(dst, qkv.get(src));
                vCache.set(dst, qkv.get(src + kvDim));
            }
        }
    }

    /**
     * The QKV projection's bias fused with {@link #writeKv} (OPT: no rotary embedding between them):
     * every element of each token's row ({@code rowStride = kOffset + 2 * kvDim}) gets its bias, and
     * the K and V parts go into the cache, with one pass over the rows instead of two.
     * Launch with {@code Grid.rows(tokens, rowStride)}.
     */
    public static void biasWriteKv(FloatArray qkv, FloatArray bias, FloatArray kCache, FloatArray vCache,
                                   IntArray blockTable, IntArray tokenSeq, IntArray positions,
                                   int tokens, int rowStride, int kOffset, int kvDim, int maxBlocks, int headDim, int blockSize) {
        for (@Parallel int e = 0; e < rowStride; e++) {
            for (@Parallel int t = 0; t < tokens; t++) {
                float v = qkv.get(t * rowStride + e) + bias.get(e);
                qkv.set(t * rowStride + e, v);
                int c = e - kOffset;
                if (c >= 0) {
                    int dst = slotIndex(blockTable, tokenSeq, positions, t, c % kvDim, kvDim, maxBlocks, headDim, blockSize);
                    if (c < kvDim) kCache.set(dst, v);
                    else vCache.set(dst, v);
                }
            }
        }
    }

    /** {@link #biasWriteKv} into a float16 cache. */
    public static void biasWriteKvHalf(FloatArray qkv, FloatArray bias, HalfArray kCache, HalfArray vCache,
                                       IntArray blockTable, IntArray tokenSeq, IntArray positions,
                                       int tokens, int rowStride, int kOffset, int kvDim, int maxBlocks, int headDim, int blockSize) {
        for (@Parallel int e = 0; e < rowStride; e++) {
            for (@Parallel int t = 0; t < tokens; t++) {
                float v = qkv.get(t * rowStride + e) + bias.get(e);
                qkv.set(t * rowStride + e, v);
                int c = e - kOffset;
                if (c >= 0) {
                    int dst = slotIndex(blockTable, tokenSeq, positions, t, c % kvDim, kvDim, maxBlocks, headDim, blockSize);
                    if (c < kvDim) kCache.set(dst, v);
                    else vCache.set(dst, v);
                }
            }
        }
    }

    /**
     * Attention of query tokens over the paged cache. Launch with
     * {@code Grid.groups(kvHeads, tokens, partitions, THREADS)}. Queries are the first
     * {@code heads * headDim} values of each {@code qkv} row ({@code qStride} apart). With one
     * partition the result goes to {@code out} ({@code [tokens, heads * headDim]}) and covers every
     * position; otherwise partition {@code z} covers {@code partitionSize} positions from
     * {@code z * partitionSize} and goes to {@code partOut} ({@code [tokens, partitions, heads * headDim]})
     * with per-head max and sum in {@code partStats} ({@code [tokens, partitions, heads, 2]}); the
     * partition that finishes last merges them into {@code out}: each partition's output weighted by
     * its softmax mass {@code sum * exp(max - globalMax)}, over the partitions that hold positions of
     * the token ({@code position / partitionSize + 1}). {@code arrivals} ({@code [tokens, kvHeads]},
     * zeros; left zero) counts the finished partitions.
     */
    public static void paged(KernelContext ctx, FloatArray qkv, FloatArray kCache, FloatArray vCache,
                             IntArray blockTable, IntArray tokenSeq, IntArray positions,
                             FloatArray out, FloatArray partOut, FloatArray partStats, IntArray arrivals,
                             int qStride, int maxBlocks, int partitionSize, int partitions, float scale,
                             int headDim, int group, int kvHeads, int blockSize) {
        float[] merged = ctx.allocateFloatLocalArray(WARPS * group * headDim);
        float[] mergedStats = ctx.allocateFloatLocalArray(WARPS * 2 * group);
        int[] flag = ctx.allocateIntLocalArray(1);
        attend(ctx, qkv, kCache, vCache, blockTable, tokenSeq, positions, out, partOut, partStats, merged, mergedStats, ctx.groupIdx,
                qStride, maxBlocks, partitionSize, partitions, scale, headDim, group, kvHeads, blockSize);
        if (partitions > 1) mergeIfLast(ctx, partOut, partStats, positions, arrivals, flag, out, ctx.groupIdx, partitions, partitionSize, headDim, group, kvHeads);
    }

    /** {@link #paged} over a float16 cache, writing float16 output (the next GEMM's input). */
    public static void pagedHalf(KernelContext ctx, FloatArray qkv, HalfArray kCache, HalfArray vCache,
                                 IntArray blockTable, IntArray tokenSeq, IntArray positions,
                                 HalfArray out, FloatArray partOut, FloatArray partStats, IntArray arrivals,
                                 int qStride, int maxBlocks, int partitionSize, int partitions, float scale,
                                 int headDim, int group, int kvHeads, int blockSize) {
        float[] merged = ctx.allocateFloatLocalArray(WARPS * group * headDim);
        float[] mergedStats = ctx.allocateFloatLocalArray(WARPS * 2 * group);
        int[] flag = ctx.allocateIntLocalArray(1);
        attend(ctx, qkv, kCache, vCache, blockTable, tokenSeq, positions, out, partOut, partStats, merged, mergedStats, ctx.groupIdx,
                qStride, maxBlocks, partitionSize, partitions, scale, headDim, group, kvHeads, blockSize);
        if (partitions > 1) mergeIfLast(ctx, partOut, partStats, positions, arrivals, flag, out, ctx.groupIdx, partitions, partitionSize, headDim, group, kvHeads);
    }

    /**
     * With split-K: when this group is the last of KV head {@code unit}'s partitions of token
     * {@code ctx.groupIdy} to finish, merges their partials into {@code out}, a warp per query head.
     */
    static void mergeIfLast(KernelContext ctx, FloatArray partOut, FloatArray partStats, IntArray positions, IntArray arrivals, int[] flag,
                            FloatArray out, int unit, int partitions, int partitionSize, int headDim, int group, int kvHeads) {
        if (Arrivals.lastToArrive(ctx, arrivals, ctx.groupIdy * kvHeads + unit, partitions, flag)) {
            float[] o = new float[HEAD_CHUNKS];
            for (int first = 0; first < group; first += WARPS) {
                boolean mine = first + ctx.warpId() < group;
                int head = unit * group + (mine ? first + ctx.warpId() : 0);
                combineHead(ctx, partOut, partStats, positions, o, head, mine, kvHeads * group, headDim, partitions, partitionSize);
                for (int c = 0; c < HEAD_CHUNKS; c++) {
                    int d = c * KernelContext.WARP_SIZE + ctx.laneId();
                    if (mine && d < headDim) out.set((ctx.groupIdy * kvHeads * group + head) * headDim + d, o[c]);
                }
            }
        }
    }

    static void mergeIfLast(KernelContext ctx, FloatArray partOut, FloatArray partStats, IntArray positions, IntArray arrivals, int[] flag,
                            HalfArray out, int unit, int partitions, int partitionSize, int headDim, int group, int kvHeads) {
        if (Arrivals.lastToArrive(ctx, arrivals, ctx.groupIdy * kvHeads + unit, partitions, flag)) {
            float[] o = new float[HEAD_CHUNKS];
            for (int first = 0; first < group; first += WARPS) {
                boolean mine = first + ctx.warpId() < group;
                int head = unit * group + (mine ? first + ctx.warpId() : 0);
                combineHead(ctx, partOut, partStats, positions, o, head, mine, kvHeads * group, headDim, partitions, partitionSize);
                for (int c = 0; c < HEAD_CHUNKS; c++) {
                    int d = c * KernelContext.WARP_SIZE + ctx.laneId();
                    if (mine && d < headDim) out.set((ctx.groupIdy * kvHeads * group + head) * headDim + d, o[c]);
                }
            }
        }
    }

    // ---- the kernel body, for one KV head ({@code unit}); float32 and float16 overloads where it touches the cache or the output ----

    /**
     * Token {@code ctx.groupIdy}'s attention over KV head {@code unit}'s positions of partition
     * {@code ctx.groupIdz}, written as {@link #paged} describes. {@code merged} and {@code mergedStats}
     * are local arrays of {@code WARPS * group * headDim} and {@code WARPS * 2 * group} floats.
     */
    static void attend(KernelContext ctx, FloatArray qkv, FloatArray kCache, FloatArray vCache,
                       IntArray blockTable, IntArray tokenSeq, IntArray positions,
                       FloatArray out, FloatArray partOut, FloatArray partStats, float[] merged, float[] mergedStats, int unit,
                       int qStride, int maxBlocks, int partitionSize, int partitions, float scale,
                       int headDim, int group, int kvHeads, int blockSize) {
        float[] q = new float[PER_LANE];
        float[] acc = new float[PER_LANE];
        float[] max = new float[MAX_GROUP];
        float[] sum = new float[MAX_GROUP];
        float[] keys = new float[ROWS * MAX_SLICES * 8];
        float[] values = new float[ROWS * MAX_SLICES * 8];
        float[] scores = new float[ROWS * MAX_GROUP];
        float[] weights = new float[ROWS * MAX_GROUP];
        float[] rescale = new float[MAX_GROUP];
        float[] runMax = new float[HELD];
        float[] lo = new float[4];
        float[] hi = new float[4];
        int t = ctx.groupIdy;
        int start = ctx.groupIdz * partitionSize;
        int end = partitions == 1 ? positions.get(t) + 1 : Math.min(start + partitionSize, positions.get(t) + 1);
        int table = tokenSeq.get(t) * maxBlocks;
        int lane = ctx.localIdx % ROW_LANES;
        int set = ctx.localIdx / ROW_LANES;
        loadQueries(q, runMax, sum, acc, qkv, t * qStride + unit * group * headDim, scale, lane, headDim, group);
        for (int tile = start; tile < end; tile += TILE) {
            for (int r = 0; r < ROWS; r++) {
                int row = rowIndex(blockTable, table, Math.min(tile + r * ROW_SETS + set, end - 1), unit, kvHeads * headDim, headDim, blockSize);
                loadRow(kCache, row, keys, r, lo, hi, lane, headDim);
                loadRow(vCache, row, values, r, lo, hi, lane, headDim);
            }
            dotRows(q, keys, scores, headDim, group);
            int offset = reduceScores(ctx, scores, lane, group);
            softmaxStep(ctx, scores, runMax, weights, rescale, offset, lane, tile + set, end, group);
            accumulate(acc, sum, weights, rescale, values, headDim, group);
        }
        gatherMax(ctx, runMax, max, lane, group);
        mergeRowSets(ctx, acc, max, sum, merged, mergedStats, lane, headDim, group);
        storeOutput(ctx, merged, mergedStats, out, partOut, partStats, unit, partitions, kvHeads, headDim, group);
    }

    static void attend(KernelContext ctx, FloatArray qkv, HalfArray kCache, HalfArray vCache,
                       IntArray blockTable, IntArray tokenSeq, IntArray positions,
                       HalfArray out, FloatArray partOut, FloatArray partStats, float[] merged, float[] mergedStats, int unit,
                       int qStride, int maxBlocks, int partitionSize, int partitions, float scale,
                       int headDim, int group, int kvHeads, int blockSize) {
        float[] q = new float[PER_LANE];
        float[] acc = new float[PER_LANE];
        float[] max = new float[MAX_GROUP];
        float[] sum = new float[MAX_GROUP];
        float[] keys = new float[ROWS * MAX_SLICES * 8];
        float[] values = new float[ROWS * MAX_SLICES * 8];
        float[] scores = new float[ROWS * MAX_GROUP];
        float[] weights = new float[ROWS * MAX_GROUP];
        float[] rescale = new float[MAX_GROUP];
        float[] runMax = new float[HELD];
        float[] eight = new float[8];
        int t = ctx.groupIdy;
        int start = ctx.groupIdz * partitionSize;
        int end = partitions == 1 ? positions.get(t) + 1 : Math.min(start + partitionSize, positions.get(t) + 1);
        int table = tokenSeq.get(t) * maxBlocks;
        int lane = ctx.localIdx % ROW_LANES;
        int set = ctx.localIdx / ROW_LANES;
        loadQueries(q, runMax, sum, acc, qkv, t * qStride + unit * group * headDim, scale, lane, headDim, group);
        for (int tile = start; tile < end; tile += TILE) {
            for (int r = 0; r < ROWS; r++) {
                int row = rowIndex(blockTable, table, Math.min(tile + r * ROW_SETS + set, end - 1), unit, kvHeads * headDim, headDim, blockSize);
                loadRow(kCache, row, keys, r, eight, lane, headDim);
                loadRow(vCache, row, values, r, eight, lane, headDim);
            }
            dotRows(q, keys, scores, headDim, group);
            int offset = reduceScores(ctx, scores, lane, group);
            softmaxStep(ctx, scores, runMax, weights, rescale, offset, lane, tile + set, end, group);
            accumulate(acc, sum, weights, rescale, values, headDim, group);
        }
        gatherMax(ctx, runMax, max, lane, group);
        mergeRowSets(ctx, acc, max, sum, merged, mergedStats, lane, headDim, group);
        storeOutput(ctx, merged, mergedStats, out, partOut, partStats, unit, partitions, kvHeads, headDim, group);
    }

    /**
     * Row {@code r} of this lane's registers: its 8 dimensions of every slice of 128 ({@code lane * 8 + slice * SLICE}),
     * zeros beyond the head size. Rows are laid out {@code [ROWS][slices][8]}.
     */
    static void loadRow(FloatArray cache, int row, float[] regs, int r, float[] lo, float[] hi, int lane, int headDim) {
        int slices = slices(headDim);
        for (int c = 0; c < slices; c++) {
            int d = c * SLICE + lane * 8;
            boolean inside = d < headDim;
            if (inside) {
                cache.load4(row + d, lo);
                cache.load4(row + d + 4, hi);
            }
            for (int j = 0; j < 4; j++) {
                regs[(r * slices + c) * 8 + j] = inside ? lo[j] : 0f;
                regs[(r * slices + c) * 8 + 4 + j] = inside ? hi[j] : 0f;
            }
        }
    }

    static void loadRow(HalfArray cache, int row, float[] regs, int r, float[] eight, int lane, int headDim) {
        int slices = slices(headDim);
        for (int c = 0; c < slices; c++) {
            int d = c * SLICE + lane * 8;
            boolean inside = d < headDim;
            if (inside) cache.load8(row + d, eight);
            for (int j = 0; j < 8; j++) regs[(r * slices + c) * 8 + j] = inside ? eight[j] : 0f;
        }
    }

    /** Each row set's merged output values and statistics, normalised, into {@code out} (one partition) or {@code partOut} and {@code partStats}. */
    static void storeOutput(KernelContext ctx, float[] merged, float[] mergedStats, FloatArray out, FloatArray partOut, FloatArray partStats,
                            int unit, int partitions, int kvHeads, int headDim, int group) {
        int width = group * headDim;
        int base = outputBase(ctx, unit, 1, kvHeads, width), partBase = outputBase(ctx, unit, partitions, kvHeads, width);
        for (int i = ctx.localIdx; i < width; i += THREADS) {
            float o = mergedValue(merged, mergedStats, i, headDim, group);
            if (partitions == 1) out.set(base + i, o);
            else partOut.set(partBase + i, o);
        }
        writeStats(ctx, mergedStats, partStats, unit, partitions, kvHeads * group, group);
    }

    static void storeOutput(KernelContext ctx, float[] merged, float[] mergedStats, HalfArray out, FloatArray partOut, FloatArray partStats,
                            int unit, int partitions, int kvHeads, int headDim, int group) {
        int width = group * headDim;
        int base = outputBase(ctx, unit, 1, kvHeads, width), partBase = outputBase(ctx, unit, partitions, kvHeads, width);
        for (int i = ctx.localIdx; i < width; i += THREADS) {
            float o = mergedValue(merged, mergedStats, i, headDim, group);
            if (partitions == 1) out.set(base + i, o);
            else partOut.set(partBase + i, o);
        }
        writeStats(ctx, mergedStats, partStats, unit, partitions, kvHeads * group, group);
    }

    // ---- type-free pieces ----

    /** Element offset in a cache of token {@code t}'s slot for element {@code e} of its K (or V) row. */
    static int slotIndex(IntArray blockTable, IntArray tokenSeq, IntArray positions, int t, int e, int kvDim, int maxBlocks, int headDim, int blockSize) {
        int position = positions.get(t);
        int block = blockTable.get(tokenSeq.get(t) * maxBlocks + position / blockSize);
        return cacheIndex(block, e / headDim, position % blockSize, kvDim, headDim, blockSize) + e % headDim;
    }

    /** Element offset of position {@code pos}'s row for {@code kvHead} in a cache, through the block table. */
    static int rowIndex(IntArray blockTable, int table, int pos, int kvHead, int kvDim, int headDim, int blockSize) {
        return cacheIndex(blockTable.get(table + pos / blockSize), kvHead, pos % blockSize, kvDim, headDim, blockSize);
    }

    /** Element offset of (block, kvHead, slot)'s row in the {@code [block][kvHead][slot][headDim]} layout. */
    static int cacheIndex(int block, int kvHead, int slot, int kvDim, int headDim, int blockSize) {
        return block * blockSize * kvDim + (kvHead * blockSize + slot) * headDim;
    }

    /** Slices of {@link #SLICE} dimensions in a head. */
    static int slices(int headDim) {
        return (headDim + SLICE - 1) / SLICE;
    }

    /** Start of this group's output values in {@code out} (one partition) or {@code partOut}. */
    static int outputBase(KernelContext ctx, int unit, int partitions, int kvHeads, int width) {
        return ((ctx.groupIdy * partitions + (partitions == 1 ? 0 : ctx.groupIdz)) * kvHeads + unit) * width;
    }

    /** This lane's query values (pre-scaled; {@code [group][slices][8]}, zeros beyond the head size) and a cleared softmax state. */
    static void loadQueries(float[] q, float[] runMax, float[] sum, float[] acc, FloatArray qkv, int base, float scale, int lane, int headDim, int group) {
        int slices = slices(headDim);
        for (int j = 0; j < HELD; j++) runMax[j] = MASKED;
        for (int h = 0; h < group; h++) {
            sum[h] = 0f;
            for (int c = 0; c < slices; c++) {
                int d = c * SLICE + lane * 8;
                for (int j = 0; j < 8; j++) {
                    int i = (h * slices + c) * 8 + j;
                    q[i] = d < headDim ? qkv.get(base + h * headDim + d + j) * scale : 0f;
                    acc[i] = 0f;
                }
            }
        }
    }

    /** {@code group} rounded up to a power of two: score index {@code r * padded + h} puts rows in the top bits. */
    static int padded(int group) {
        return group <= 1 ? 1 : group <= 2 ? 2 : group <= 4 ? 4 : MAX_GROUP;
    }

    /** This lane's part of each (row, query head) score, at {@code scores[r * padded(group) + h]} (0 for padding heads). */
    static void dotRows(float[] q, float[] keys, float[] scores, int headDim, int group) {
        int width = slices(headDim) * 8;
        int padded = padded(group);
        for (int r = 0; r < ROWS; r++) {
            for (int h = 0; h < padded; h++) {
                float s = 0f;
                if (h < group) {
                    for (int e = 0; e < width; e++) s += q[h * width + e] * keys[r * width + e];
                }
                scores[r * padded + h] = s;
            }
        }
    }

    /**
     * Sums the {@code n = ROWS * padded(group)} partial scores over the row's lanes, transposed: each
     * halving step (masks 8, 4, 2, 1) keeps half of the values (the upper half on lanes with the mask
     * bit set) and adds the other lane's copy of them, so {@code n / 2 + n / 4 + ...} shuffles
     * instead of {@code 4 n}. Afterwards {@code scores[0 .. held(group))} are the complete scores of
     * indices {@code offset, offset + 1, ...} (returned); rows sit in the two top index bits, so lanes
     * {@code l ^ 4} and {@code l ^ 8} hold the other rows of the same heads.
     */
    static int reduceScores(KernelContext ctx, float[] scores, int lane, int group) {
        int count = ROWS * padded(group);
        int offset = 0;
        for (int mask = ROW_LANES / 2; mask > 0; mask = mask / 2) {
            if (count > 1) {
                int half = count / 2;
                boolean upper = (lane & mask) != 0;
                for (int i = 0; i < half; i++) {
                    float keep = upper ? scores[i + half] : scores[i];
                    float send = upper ? scores[i] : scores[i + half];
                    scores[i] = keep + ctx.warpShuffleXor(send, mask);
                }
                if (upper) offset += half;
                count = half;
            } else {
                scores[0] += ctx.warpShuffleXor(scores[0], mask);
            }
        }
        return offset;
    }

    /** Complete scores each lane holds after {@link #reduceScores}. */
    static int held(int group) {
        return Math.max(1, ROWS * padded(group) / ROW_LANES);
    }

    /** The lane (of its row set) that holds score index {@code i} after {@link #reduceScores}. */
    static int holder(int i, int group) {
        int n = ROWS * padded(group);
        return n >= ROW_LANES ? i / held(group) : i * (ROW_LANES / n);
    }

    /**
     * One online-softmax step on the complete scores this lane holds: each held (row, head) gets the
     * rows' max of its head (lanes {@code ^ 8}, {@code ^ 4}), its weight {@code exp(score - newMax)} and
     * its head's rescale {@code exp(oldMax - newMax)}, once per row set instead of on every lane;
     * then every lane of the set gets all of them ({@code weights[r * MAX_GROUP + h]}, {@code rescale[h]}) by shuffles.
     * Rows past {@code end} weigh 0.
     */
    static void softmaxStep(KernelContext ctx, float[] scores, float[] runMax, float[] weights, float[] rescale,
                            int offset, int lane, int first, int end, int group) {
        int padded = padded(group);
        float[] weight = new float[HELD];
        float[] scale = new float[HELD];
        for (int j = 0; j < held(group); j++) {
            int i = offset + j;
            boolean valid = i % padded < group && first + i / padded * ROW_SETS < end;
            float s = valid ? scores[j] : MASKED;
            float m = s;
            for (int mask = ROW_LANES / 2; mask >= ROW_LANES / ROWS; mask = mask / 2) m = Math.max(m, ctx.warpShuffleXor(m, mask));
            float newMax = Math.max(runMax[j], m);
            weight[j] = valid ? (float) Math.exp(s - newMax) : 0f;
            scale[j] = (float) Math.exp(runMax[j] - newMax);
            runMax[j] = newMax;
        }
        int setBase = ctx.laneId() - lane;
        for (int r = 0; r < ROWS; r++) {
            for (int h = 0; h < group; h++) {
                int i = r * padded + h;
                weights[r * MAX_GROUP + h] = ctx.warpShuffle(weight[i % held(group)], setBase + holder(i, group));
            }
        }
        for (int h = 0; h < group; h++) rescale[h] = ctx.warpShuffle(scale[h % held(group)], setBase + holder(h, group));
    }

    /** Rescales the state to the step's new max and adds the rows' weighted values. */
    static void accumulate(float[] acc, float[] sum, float[] weights, float[] rescale, float[] values, int headDim, int group) {
        int width = slices(headDim) * 8;
        for (int h = 0; h < group; h++) {
            float total = sum[h] * rescale[h];
            for (int e = 0; e < width; e++) acc[h * width + e] *= rescale[h];
            for (int r = 0; r < ROWS; r++) {
                float p = weights[r * MAX_GROUP + h];
                total += p;
                for (int e = 0; e < width; e++) acc[h * width + e] += p * values[r * width + e];
            }
            sum[h] = total;
        }
    }

    /** Each head's running max, from the lane that holds it, into {@code max[h]} on every lane of the row set. */
    static void gatherMax(KernelContext ctx, float[] runMax, float[] max, int lane, int group) {
        for (int h = 0; h < group; h++) max[h] = ctx.warpShuffle(runMax[h % held(group)], ctx.laneId() - lane + holder(h, group));
    }

    /**
     * Merges the row sets' softmax states: the two sets of a warp through shuffles (lanes {@code l}
     * and {@code l ^ ROW_LANES} hold the same dimensions), then each warp's state into local memory
     * ({@code merged [WARPS][group * headDim]}, {@code mergedStats [WARPS][group][max, sum]}).
     */
    static void mergeRowSets(KernelContext ctx, float[] acc, float[] max, float[] sum, float[] merged, float[] mergedStats,
                             int lane, int headDim, int group) {
        int slices = slices(headDim);
        int width = slices * 8;
        int warp = ctx.warpId();
        for (int h = 0; h < group; h++) {
            float otherMax = ctx.warpShuffleXor(max[h], ROW_LANES);
            float otherSum = ctx.warpShuffleXor(sum[h], ROW_LANES);
            float m = Math.max(max[h], otherMax);
            float mine = (float) Math.exp(max[h] - m);
            float theirs = (float) Math.exp(otherMax - m);
            for (int e = 0; e < width; e++) acc[h * width + e] = acc[h * width + e] * mine + ctx.warpShuffleXor(acc[h * width + e], ROW_LANES) * theirs;
            sum[h] = sum[h] * mine + otherSum * theirs;
            max[h] = m;
        }
        if (ctx.laneId() < ROW_LANES) {
            for (int h = 0; h < group; h++) {
                for (int c = 0; c < slices; c++) {
                    int d = c * SLICE + lane * 8;
                    for (int j = 0; j < 8; j++) if (d < headDim) merged[(warp * group + h) * headDim + d + j] = acc[(h * slices + c) * 8 + j];
                }
                if (lane == 0) {
                    mergedStats[(warp * group + h) * 2] = max[h];
                    mergedStats[(warp * group + h) * 2 + 1] = sum[h];
                }
            }
        }
        ctx.localBarrier();
    }

    /** The largest of the warps' maxima for head {@code h}. */
    static float mergedMax(float[] mergedStats, int h, int group) {
        float m = MASKED;
        for (int w = 0; w < WARPS; w++) m = Math.max(m, mergedStats[(w * group + h) * 2]);
        return m;
    }

    /** The softmax sum of head {@code h} over the whole group, relative to {@link #mergedMax}. */
    static float mergedSum(float[] mergedStats, int h, int group) {
        float m = mergedMax(mergedStats, h, group);
        float s = 0f;
        for (int w = 0; w < WARPS; w++) s += mergedStats[(w * group + h) * 2 + 1] * (float) Math.exp(mergedStats[(w * group + h) * 2] - m);
        return s;
    }

    /** Output value {@code i} of the group ({@code [group][headDim]}), normalised; 0 without any position. */
    static float mergedValue(float[] merged, float[] mergedStats, int i, int headDim, int group) {
        int h = i / headDim;
        float m = mergedMax(mergedStats, h, group);
        float value = 0f;
        float total = 0f;
        for (int w = 0; w < WARPS; w++) {
            float weight = (float) Math.exp(mergedStats[(w * group + h) * 2] - m);
            value += merged[w * group * headDim + i] * weight;
            total += mergedStats[(w * group + h) * 2 + 1] * weight;
        }
        return total > 0f ? value / total : 0f;
    }

    /** With split-K, each head's max and sum go to {@code partStats[token, partition, head]}. */
    static void writeStats(KernelContext ctx, float[] mergedStats, FloatArray partStats, int unit, int partitions, int heads, int group) {
        if (partitions > 1 && ctx.localIdx < group) {
            int h = ctx.localIdx;
            int base = ((ctx.groupIdy * partitions + ctx.groupIdz) * heads + unit * group + h) * 2;
            partStats.set(base, mergedMax(mergedStats, h, group));
            partStats.set(base + 1, mergedSum(mergedStats, h, group));
        }
    }

    /**
     * Query head {@code head} of token {@code ctx.groupIdy} merged over its partitions by one warp:
     * lanes take partitions for the max and the weights, then dimensions ({@code o[c]} is dimension
     * {@code c * 32 + lane}), reading {@link #COMBINE_BATCH} partitions' values at once. Every lane
     * runs it ({@code mine} false: computes on head {@code head}'s data and the caller stores nothing).
     */
    static void combineHead(KernelContext ctx, FloatArray partOut, FloatArray partStats, IntArray positions, float[] o,
                            int head, boolean mine, int heads, int headDim, int partitions, int partitionSize) {
        int t = ctx.groupIdy;
        int lane = ctx.laneId();
        int used = Math.min(positions.get(t) / partitionSize + 1, partitions);
        float[] weight = new float[COMBINE_BATCH];
        int[] part = new int[COMBINE_BATCH];
        float max = MASKED;
        for (int base = 0; base < used; base += KernelContext.WARP_SIZE) {
            int p = base + lane;
            if (p < used) max = Math.max(max, partStats.get(((t * partitions + p) * heads + head) * 2));
        }
        max = ctx.warpReduceMax(max);
        for (int c = 0; c < HEAD_CHUNKS; c++) o[c] = 0f;
        float total = 0f;
        for (int base = 0; base < used; base += KernelContext.WARP_SIZE) {
            int p = base + lane;
            float w = 0f;
            if (p < used) {
                int s = ((t * partitions + p) * heads + head) * 2;
                w = partStats.get(s + 1) * (float) Math.exp(partStats.get(s) - max);
            }
            total += w;
            for (int i = 0; i < KernelContext.WARP_SIZE; i += COMBINE_BATCH) {
                if (base + i < used) {
                    for (int b = 0; b < COMBINE_BATCH; b++) {
                        weight[b] = ctx.warpShuffle(w, i + b);
                        part[b] = Math.min(base + i + b, used - 1);
                    }
                    for (int c = 0; c < HEAD_CHUNKS; c++) {
                        int d = c * KernelContext.WARP_SIZE + lane;
                        if (d < headDim) {
                            float v = 0f;
                            for (int b = 0; b < COMBINE_BATCH; b++) v += weight[b] * partOut.get(((t * partitions + part[b]) * heads + head) * headDim + d);
                            o[c] += v;
                        }
                    }
                }
            }
        }
        total = ctx.warpReduceSum(total);
        for (int c = 0; c < HEAD_CHUNKS; c++) o[c] = total > 0f ? o[c] / total : 0f;
    }
}
