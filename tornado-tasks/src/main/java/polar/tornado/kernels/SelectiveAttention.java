package polar.tornado.kernels;

import polar.tornado.KernelContext;
import polar.tornado.Parallel;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * Polar Sparsity's selective attention for decode: {@link Attention#paged} over only the units
 * that a router selected for each token. A unit is a KV head: a query head for MHA, a KV group
 * (all of its query heads) for GQA. {@code selected [tokens, k]} lists each token's units in any
 * order; every other unit's output (before the output projection) is zero.
 *
 * <p>Same cache layout, block tables, split-K partitions and outputs as {@link Attention}, and
 * the same math step for step (its tile loop, softmax and combine), so with every unit selected
 * the results are bit-identical on the same backend. The grid is compact: one work-group per
 * (selected slot, token, partition), so the device only schedules work that reads the cache, and
 * a few selected units of a long context still fill it through split-K. Within a group each K/V
 * row is loaded once for all query heads of the unit.
 *
 * <p>Variants as in {@link Attention}: {@link #paged} (float32 cache and output) and
 * {@link #pagedHalf} (float16 cache and output); {@link #combine} and {@link #combineHalf}.
 */
public final class SelectiveAttention {
    private SelectiveAttention() {}

    /**
     * Selective paged attention. Launch with {@code Grid.groups(k, tokens, partitions, Attention.THREADS)};
     * the arguments are {@link Attention#paged}'s plus {@code selected} and {@code k} (selected units
     * per token, at least 1). Partition 0's groups also write the zeros of the unselected units into
     * {@code out}; with several partitions the selected units' partials go to {@code partOut} and
     * {@code partStats} (laid out as for {@link Attention#paged}) for {@link #combine}.
     */
    public static void paged(KernelContext ctx, FloatArray qkv, FloatArray kCache, FloatArray vCache,
                             IntArray blockTable, IntArray tokenSeq, IntArray positions, IntArray selected,
                             FloatArray out, FloatArray partOut, FloatArray partStats,
                             int qStride, int maxBlocks, int partitionSize, int partitions, float scale, int k,
                             int headDim, int group, int kvHeads, int blockSize) {
        float[] q = ctx.allocateFloatLocalArray(Attention.MAX_GROUP_WIDTH);
        float[] p = ctx.allocateFloatLocalArray(Attention.MAX_GROUP * Attention.TILE);
        float[] stats = ctx.allocateFloatLocalArray(3 * Attention.MAX_GROUP);
        int[] rows = ctx.allocateIntLocalArray(Attention.TILE);
        float[] acc = new float[Attention.PER_THREAD];
        float[] score = new float[Attention.MAX_GROUP];
        float[] key = new float[8];
        int t = ctx.groupIdy;
        int unit = selected.get(t * k + ctx.groupIdx);
        int start = ctx.groupIdz * partitionSize;
        int end = Math.min(start + partitionSize, positions.get(t) + 1);
        int table = tokenSeq.get(t) * maxBlocks;
        if (ctx.groupIdz == 0) zeroUnselected(ctx, selected, out, t, k, kvHeads, group * headDim);
        Attention.loadQueries(ctx, q, stats, acc, qkv, t * qStride + unit * group * headDim, group * headDim, scale, group);
        for (int tile = start; tile < end; tile += Attention.TILE) {
            int n = Math.min(Attention.TILE, end - tile);
            scoreKeys(ctx, q, p, rows, score, key, kCache, blockTable, table, tile, n, unit, kvHeads, headDim, group, blockSize);
            ctx.localBarrier();
            Attention.softmaxTile(ctx, p, stats, n, group);
            ctx.localBarrier();
            Attention.accumulateValues(ctx, acc, p, stats, rows, vCache, n, group * headDim, headDim);
            ctx.localBarrier();
        }
        storeOutput(ctx, acc, stats, out, partOut, partStats, unit, partitions, kvHeads, headDim, group);
    }

    /** {@link #paged} over a float16 cache, writing float16 output (as {@link Attention#pagedHalf}). */
    public static void pagedHalf(KernelContext ctx, FloatArray qkv, HalfArray kCache, HalfArray vCache,
                                 IntArray blockTable, IntArray tokenSeq, IntArray positions, IntArray selected,
                                 HalfArray out, FloatArray partOut, FloatArray partStats,
                                 int qStride, int maxBlocks, int partitionSize, int partitions, float scale, int k,
                                 int headDim, int group, int kvHeads, int blockSize) {
        float[] q = ctx.allocateFloatLocalArray(Attention.MAX_GROUP_WIDTH);
        float[] p = ctx.allocateFloatLocalArray(Attention.MAX_GROUP * Attention.TILE);
        float[] stats = ctx.allocateFloatLocalArray(3 * Attention.MAX_GROUP);
        int[] rows = ctx.allocateIntLocalArray(Attention.TILE);
        float[] acc = new float[Attention.PER_THREAD];
        float[] score = new float[Attention.MAX_GROUP];
        float[] key = new float[8];
        int t = ctx.groupIdy;
        int unit = selected.get(t * k + ctx.groupIdx);
        int start = ctx.groupIdz * partitionSize;
        int end = Math.min(start + partitionSize, positions.get(t) + 1);
        int table = tokenSeq.get(t) * maxBlocks;
        if (ctx.groupIdz == 0) zeroUnselected(ctx, selected, out, t, k, kvHeads, group * headDim);
        Attention.loadQueries(ctx, q, stats, acc, qkv, t * qStride + unit * group * headDim, group * headDim, scale, group);
        for (int tile = start; tile < end; tile += Attention.TILE) {
            int n = Math.min(Attention.TILE, end - tile);
            scoreKeys(ctx, q, p, rows, score, key, kCache, blockTable, table, tile, n, unit, kvHeads, headDim, group, blockSize);
            ctx.localBarrier();
            Attention.softmaxTile(ctx, p, stats, n, group);
            ctx.localBarrier();
            Attention.accumulateValues(ctx, acc, p, stats, rows, vCache, n, group * headDim, headDim);
            ctx.localBarrier();
        }
        storeOutput(ctx, acc, stats, out, partOut, partStats, unit, partitions, kvHeads, headDim, group);
    }

    /**
     * Merges the selected units' split-K partials into {@code out [tokens, heads * headDim]}, as
     * {@link Attention#combine} does for all heads. Launch with {@code Grid.of(tokens, k * group * headDim)}.
     */
    public static void combine(FloatArray partOut, FloatArray partStats, IntArray positions, IntArray selected, FloatArray out,
                               int tokens, int k, int heads, int headDim, int group, int partitions, int partitionSize) {
        for (@Parallel int t = 0; t < tokens; t++) {
            for (@Parallel int e = 0; e < k * group * headDim; e++) {
                int i = selectedElement(selected, t, k, e, group * headDim);
                out.set(t * heads * headDim + i, Attention.combined(partOut, partStats, positions, t, i, heads, headDim, partitions, partitionSize));
            }
        }
    }

    /** {@link #combine} writing float16 output. */
    public static void combineHalf(FloatArray partOut, FloatArray partStats, IntArray positions, IntArray selected, HalfArray out,
                                   int tokens, int k, int heads, int headDim, int group, int partitions, int partitionSize) {
        for (@Parallel int t = 0; t < tokens; t++) {
            for (@Parallel int e = 0; e < k * group * headDim; e++) {
                int i = selectedElement(selected, t, k, e, group * headDim);
                out.set(t * heads * headDim + i, Attention.combined(partOut, partStats, positions, t, i, heads, headDim, partitions, partitionSize));
            }
        }
    }

    // ---- pieces of Attention's kernels with the KV head as a parameter (there: the group's x index) ----

    /** {@code Attention.scoreKeys} for KV head {@code kvHead}. */
    static void scoreKeys(KernelContext ctx, float[] q, float[] p, int[] rows, float[] score, float[] k, FloatArray kCache,
                          IntArray blockTable, int table, int tile, int n, int kvHead, int kvHeads, int headDim, int group, int blockSize) {
        int j = ctx.localIdx;
        for (int h = 0; h < group; h++) score[h] = 0f;
        if (j < n) {
            int row = Attention.rowIndex(blockTable, table, tile + j, kvHead, kvHeads * headDim, headDim, blockSize);
            rows[j] = row;
            for (int d = 0; d < headDim; d += 4) {
                kCache.load4(row + d, k);
                Attention.dot(q, k, 4, score, d, headDim, group);
            }
        }
        Attention.storeScores(p, score, j, j < n, group);
    }

    static void scoreKeys(KernelContext ctx, float[] q, float[] p, int[] rows, float[] score, float[] k, HalfArray kCache,
                          IntArray blockTable, int table, int tile, int n, int kvHead, int kvHeads, int headDim, int group, int blockSize) {
        int j = ctx.localIdx;
        for (int h = 0; h < group; h++) score[h] = 0f;
        if (j < n) {
            int row = Attention.rowIndex(blockTable, table, tile + j, kvHead, kvHeads * headDim, headDim, blockSize);
            rows[j] = row;
            for (int d = 0; d < headDim; d += 8) {
                kCache.load8(row + d, k);
                Attention.dot(q, k, 8, score, d, headDim, group);
            }
        }
        Attention.storeScores(p, score, j, j < n, group);
    }

    /** {@code Attention.storeOutput} for KV head {@code kvHead} of token {@code ctx.groupIdy}, partition {@code ctx.groupIdz}. */
    static void storeOutput(KernelContext ctx, float[] acc, float[] stats, FloatArray out, FloatArray partOut, FloatArray partStats,
                            int kvHead, int partitions, int kvHeads, int headDim, int group) {
        int heads = kvHeads * group;
        int width = group * headDim;
        int base = ctx.groupIdy * heads * headDim + kvHead * width;
        int partBase = (ctx.groupIdy * partitions + ctx.groupIdz) * heads * headDim + kvHead * width;
        for (int r = 0; r < Attention.PER_THREAD; r++) {
            int i = ctx.localIdx + r * Attention.THREADS;
            if (i < width) {
                float o = Attention.normalised(acc[r], stats[Attention.SUM + i / headDim]);
                if (partitions == 1) out.set(base + i, o);
                else partOut.set(partBase + i, o);
            }
        }
        writeStats(ctx, stats, partStats, kvHead, partitions, heads, group);
    }

    static void storeOutput(KernelContext ctx, float[] acc, float[] stats, HalfArray out, FloatArray partOut, FloatArray partStats,
                            int kvHead, int partitions, int kvHeads, int headDim, int group) {
        int heads = kvHeads * group;
        int width = group * headDim;
        int base = ctx.groupIdy * heads * headDim + kvHead * width;
        int partBase = (ctx.groupIdy * partitions + ctx.groupIdz) * heads * headDim + kvHead * width;
        for (int r = 0; r < Attention.PER_THREAD; r++) {
            int i = ctx.localIdx + r * Attention.THREADS;
            if (i < width) {
                float o = Attention.normalised(acc[r], stats[Attention.SUM + i / headDim]);
                if (partitions == 1) out.set(base + i, o);
                else partOut.set(partBase + i, o);
            }
        }
        writeStats(ctx, stats, partStats, kvHead, partitions, heads, group);
    }

    /** {@code Attention.writeStats} for KV head {@code kvHead}. */
    static void writeStats(KernelContext ctx, float[] stats, FloatArray partStats, int kvHead, int partitions, int heads, int group) {
        if (partitions > 1 && ctx.localIdx < group) {
            int base = ((ctx.groupIdy * partitions + ctx.groupIdz) * heads + kvHead * group + ctx.localIdx) * 2;
            partStats.set(base, stats[Attention.MAX + ctx.localIdx]);
            partStats.set(base + 1, stats[Attention.SUM + ctx.localIdx]);
        }
    }

    // ---- selection ----

    /**
     * Zeros token {@code t}'s output of the units that this group's slot ({@code ctx.groupIdx})
     * stands in for: the unselected units {@code u} with {@code u % k == slot}, so that every
     * unselected unit is written exactly once.
     */
    static void zeroUnselected(KernelContext ctx, IntArray selected, FloatArray out, int t, int k, int kvHeads, int width) {
        for (int u = ctx.groupIdx; u < kvHeads; u += k) {
            if (!isSelected(selected, t * k, k, u)) {
                for (int i = ctx.localIdx; i < width; i += Attention.THREADS) out.set((t * kvHeads + u) * width + i, 0f);
            }
        }
    }

    static void zeroUnselected(KernelContext ctx, IntArray selected, HalfArray out, int t, int k, int kvHeads, int width) {
        for (int u = ctx.groupIdx; u < kvHeads; u += k) {
            if (!isSelected(selected, t * k, k, u)) {
                for (int i = ctx.localIdx; i < width; i += Attention.THREADS) out.set((t * kvHeads + u) * width + i, 0f);
            }
        }
    }

    static boolean isSelected(IntArray selected, int base, int k, int unit) {
        for (int m = 0; m < k; m++) {
            if (selected.get(base + m) == unit) return true;
        }
        return false;
    }

    /** Index in a token's output row of element {@code e} of its selected units' outputs ({@code width} per unit). */
    static int selectedElement(IntArray selected, int t, int k, int e, int width) {
        return selected.get(t * k + e / width) * width + e % width;
    }
}
