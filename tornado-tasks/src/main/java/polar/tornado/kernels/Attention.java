package polar.tornado.kernels;

import polar.tornado.KernelContext;
import polar.tornado.Parallel;
import polar.tornado.types.FloatArray;
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
 * <p>{@link #paged} runs one work-group per (KV head, query token, partition): the group's query
 * heads (GQA) share each K/V row it loads. Positions are processed in tiles of {@link #TILE}, one
 * position per work-item for the scores (its K row read with 16-byte loads, dotted with every
 * query head of the group), then an online softmax (a warp per head), then each work-item
 * accumulates its share of the group's output values over the tile's V rows (coalesced). Three
 * barriers per tile and no per-position reductions. With several partitions (split-K,
 * flash-decoding) each writes a partial output with its max and sum and {@link #combine} merges them.
 */
public final class Attention {
    private Attention() {}

    public static final int THREADS = 128;
    static final int WARP = KernelContext.WARP_SIZE;
    static final int WARPS = THREADS / WARP;
    /** Positions per tile: one per work-item when scoring. */
    public static final int TILE = THREADS;
    static final int TILE_PER_LANE = TILE / WARP;
    /** Largest number of query heads per KV head. */
    public static final int MAX_GROUP = 8;
    public static final int MAX_HEAD_DIM = 256;
    /** Largest {@code group * headDim}: the query vectors one work-group holds. */
    public static final int MAX_GROUP_WIDTH = 1024;
    /** Head sizes must be a multiple of this (16-byte loads of float32 and float16 rows). */
    public static final int HEAD_DIM_MULTIPLE = 8;
    static final int PER_THREAD = MAX_GROUP_WIDTH / THREADS;
    /** Score of a position outside the causal range (finite, so {@code exp} of differences stays 0, not NaN). */
    static final float MASKED = -1e30f;
    // Offsets in the per-head statistics array.
    static final int MAX = 0;
    static final int SUM = MAX_GROUP;
    static final int RESCALE = 2 * MAX_GROUP;

    /** Writes each token's new K and V (at {@code kOffset} and {@code kOffset + kvDim} of its {@code qkv} row) into the cache. */
    public static void writeKv(FloatArray qkv, FloatArray kCache, FloatArray vCache,
                               IntArray blockTable, IntArray tokenSeq, IntArray positions,
                               int tokens, int rowStride, int kOffset, int kvDim, int maxBlocks, int headDim, int blockSize) {
        for (@Parallel int t = 0; t < tokens; t++) {
            for (@Parallel int e = 0; e < kvDim; e++) {
                int position = positions.get(t);
                int block = blockTable.get(tokenSeq.get(t) * maxBlocks + position / blockSize);
                int dst = cacheIndex(block, e / headDim, position % blockSize, kvDim, headDim, blockSize) + e % headDim;
                int src = t * rowStride + kOffset + e;
                kCache.set(dst, qkv.get(src));
                vCache.set(dst, qkv.get(src + kvDim));
            }
        }
    }

    /**
     * Attention of query tokens over the paged cache. Launch with
     * {@code Grid.groups(kvHeads, tokens, partitions, THREADS)}. Queries are the first
     * {@code heads * headDim} values of each {@code qkv} row ({@code qStride} apart). With one
     * partition the result goes to {@code out} ({@code [tokens, heads * headDim]}); otherwise to
     * {@code partOut} ({@code [tokens, partitions, heads * headDim]}) with per-head max and sum in
     * {@code partStats} ({@code [tokens, partitions, heads, 2]}), for {@link #combine}.
     */
    public static void paged(KernelContext ctx, FloatArray qkv, FloatArray kCache, FloatArray vCache,
                             IntArray blockTable, IntArray tokenSeq, IntArray positions,
                             FloatArray out, FloatArray partOut, FloatArray partStats,
                             int qStride, int maxBlocks, int partitionSize, int partitions, float scale,
                             int headDim, int group, int kvHeads, int blockSize) {
        float[] q = ctx.allocateFloatLocalArray(MAX_GROUP_WIDTH);
        float[] p = ctx.allocateFloatLocalArray(MAX_GROUP * TILE);
        float[] stats = ctx.allocateFloatLocalArray(3 * MAX_GROUP);
        int[] rows = ctx.allocateIntLocalArray(TILE);
        float[] acc = new float[PER_THREAD];
        float[] score = new float[MAX_GROUP];
        float[] k = new float[4];
        int kvHead = ctx.groupIdx;
        int t = ctx.groupIdy;
        int part = ctx.groupIdz;
        int j = ctx.localIdx;
        int width = group * headDim;
        int kvDim = kvHeads * headDim;
        int position = positions.get(t);
        int start = part * partitionSize;
        int end = Math.min(start + partitionSize, position + 1);
        int table = tokenSeq.get(t) * maxBlocks;
        loadQueries(ctx, q, stats, acc, qkv, t * qStride + kvHead * width, width, scale, group);
        for (int tile = start; tile < end; tile += TILE) {
            int n = Math.min(TILE, end - tile);
            for (int h = 0; h < group; h++) score[h] = 0f;
            if (j < n) {
                int row = rowIndex(blockTable, table, tile + j, kvHead, kvDim, headDim, blockSize);
                rows[j] = row;
                for (int d = 0; d < headDim; d += 4) {
                    kCache.load4(row + d, k);
                    dot4(q, k, score, d, headDim, group);
                }
            }
            storeScores(p, score, j, j < n, group);
            ctx.localBarrier();
            softmaxTile(ctx, p, stats, n, group);
            ctx.localBarrier();
            for (int r = 0; r < PER_THREAD; r++) {
                int i = j + r * THREADS;
                if (i < width) {
                    int h = i / headDim;
                    int d = i % headDim;
                    float a = acc[r] * stats[RESCALE + h];
                    for (int c = 0; c < n; c++) a += p[h * TILE + c] * vCache.get(rows[c] + d);
                    acc[r] = a;
                }
            }
            ctx.localBarrier();
        }
        int heads = kvHeads * group;
        for (int r = 0; r < PER_THREAD; r++) {
            int i = j + r * THREADS;
            if (i < width) {
                float o = normalised(acc[r], stats[SUM + i / headDim]);
                if (partitions == 1) out.set(t * heads * headDim + kvHead * width + i, o);
                else partOut.set((t * partitions + part) * heads * headDim + kvHead * width + i, o);
            }
        }
        writeStats(ctx, stats, partStats, ((t * partitions + part) * heads + kvHead * group) * 2, partitions, group);
    }

    /**
     * Merges split-K partials into {@code out[tokens, heads * headDim]}: each partition's output
     * weighted by its softmax mass {@code sum * exp(max - globalMax)}. Only the partitions that
     * hold positions of the token ({@code position / partitionSize + 1}) count.
     */
    public static void combine(FloatArray partOut, FloatArray partStats, IntArray positions, FloatArray out,
                               int tokens, int heads, int headDim, int partitions, int partitionSize) {
        for (@Parallel int t = 0; t < tokens; t++) {
            for (@Parallel int i = 0; i < heads * headDim; i++) {
                out.set(t * heads * headDim + i, combined(partOut, partStats, positions, t, i, heads, headDim, partitions, partitionSize));
            }
        }
    }

    // ---- shared pieces (the float16 variants use the same ones) ----

    /** Element offset of position {@code pos}'s row for {@code kvHead} in a cache, through the block table. */
    static int rowIndex(IntArray blockTable, int table, int pos, int kvHead, int kvDim, int headDim, int blockSize) {
        return cacheIndex(blockTable.get(table + pos / blockSize), kvHead, pos % blockSize, kvDim, headDim, blockSize);
    }

    /** Element offset of (block, kvHead, slot)'s row in the {@code [block][kvHead][slot][headDim]} layout. */
    static int cacheIndex(int block, int kvHead, int slot, int kvDim, int headDim, int blockSize) {
        return block * blockSize * kvDim + (kvHead * blockSize + slot) * headDim;
    }

    /** Loads the group's queries (pre-scaled) into local memory and clears the softmax state. */
    static void loadQueries(KernelContext ctx, float[] q, float[] stats, float[] acc, FloatArray qkv, int base, int width, float scale, int group) {
        for (int i = ctx.localIdx; i < width; i += THREADS) q[i] = qkv.get(base + i) * scale;
        if (ctx.localIdx < group) {
            stats[MAX + ctx.localIdx] = MASKED;
            stats[SUM + ctx.localIdx] = 0f;
            stats[RESCALE + ctx.localIdx] = 1f;
        }
        for (int r = 0; r < PER_THREAD; r++) acc[r] = 0f;
        ctx.localBarrier();
    }

    /** {@code score[h] += q_h[d..d+3] . k[0..3]} for every query head of the group. */
    static void dot4(float[] q, float[] k, float[] score, int d, int headDim, int group) {
        for (int h = 0; h < group; h++) {
            int o = h * headDim + d;
            score[h] += q[o] * k[0] + q[o + 1] * k[1] + q[o + 2] * k[2] + q[o + 3] * k[3];
        }
    }

    static void storeScores(float[] p, float[] score, int j, boolean valid, int group) {
        for (int h = 0; h < group; h++) p[h * TILE + j] = valid ? score[h] : MASKED;
    }

    /**
     * Online softmax over one tile, one warp per head: turns the tile's scores into
     * {@code exp(score - newMax)}, and rescales the running sum (and, through {@code stats[RESCALE]},
     * the accumulators) to the new max. Every warp runs every round (warp operations are group-wide
     * on OpenCL); a warp without a head in a round computes on masked scores and stores nothing.
     */
    static void softmaxTile(KernelContext ctx, float[] p, float[] stats, int n, int group) {
        int lane = ctx.laneId();
        for (int first = 0; first < group; first += WARPS) {
            int h = first + ctx.warpId();
            boolean mine = h < group;
            float tileMax = MASKED;
            for (int c = 0; c < TILE_PER_LANE; c++) if (mine) tileMax = Math.max(tileMax, p[h * TILE + lane + c * WARP]);
            float old = mine ? stats[MAX + h] : MASKED;
            float max = Math.max(old, ctx.warpReduceMax(tileMax));
            float sum = 0f;
            for (int c = 0; c < TILE_PER_LANE; c++) {
                if (mine) {
                    int i = h * TILE + lane + c * WARP;
                    float e = (float) Math.exp(p[i] - max);
                    p[i] = e;
                    sum += e;
                }
            }
            sum = ctx.warpReduceSum(sum);
            if (mine && lane == 0) {
                float rescale = (float) Math.exp(old - max);
                stats[RESCALE + h] = rescale;
                stats[SUM + h] = stats[SUM + h] * rescale + sum;
                stats[MAX + h] = max;
            }
        }
    }

    static float normalised(float acc, float sum) {
        return sum > 0f ? acc / sum : 0f;
    }

    /** With split-K, each head's max and sum go to {@code partStats} at {@code base}. */
    static void writeStats(KernelContext ctx, float[] stats, FloatArray partStats, int base, int partitions, int group) {
        if (partitions > 1 && ctx.localIdx < group) {
            partStats.set(base + 2 * ctx.localIdx, stats[MAX + ctx.localIdx]);
            partStats.set(base + 2 * ctx.localIdx + 1, stats[SUM + ctx.localIdx]);
        }
    }

    static float combined(FloatArray partOut, FloatArray partStats, IntArray positions, int t, int i,
                          int heads, int headDim, int partitions, int partitionSize) {
        int used = positions.get(t) / partitionSize + 1;
        int head = i / headDim;
        float max = MASKED;
        for (int part = 0; part < used; part++) max = Math.max(max, partStats.get(((t * partitions + part) * heads + head) * 2));
        float total = 0f;
        float value = 0f;
        for (int part = 0; part < used; part++) {
            int s = ((t * partitions + part) * heads + head) * 2;
            float weight = partStats.get(s + 1) * (float) Math.exp(partStats.get(s) - max);
            total += weight;
            value += weight * partOut.get((t * partitions + part) * heads * headDim + i);
        }
        return total > 0f ? value / total : 0f;
    }
}
