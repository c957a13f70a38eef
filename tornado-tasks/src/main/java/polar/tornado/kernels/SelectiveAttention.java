package polar.tornado.kernels;

import polar.tornado.KernelContext;
import polar.tornado.Parallel;
import polar.tornado.types.FloatArray;
import polar.tornado.types.IntArray;

/**
 * Polar Sparsity's selective attention for decode: {@link Attention#paged} over only the units
 * that a router selected for each token. A unit is a KV head: a query head for MHA, a KV group
 * (all of its query heads) for GQA. {@code selected [tokens, k]} lists each token's units in any
 * order; every other unit's output (before the output projection) is zero.
 *
 * <p>Same cache layout, block tables, split-K partitions and outputs as {@link Attention}; the
 * math is the dense kernel's, step for step, so with every unit selected the results are
 * bit-identical on the same backend. The grid has one work-group per (selected slot, token,
 * partition), so a few selected units of a long context still fill the device through split-K,
 * and within a group each K/V row is loaded once for all query heads of the unit.
 */
public final class SelectiveAttention {
    private SelectiveAttention() {}

    /**
     * Selective paged attention. Launch with {@code Grid.groups(k, tokens, partitions, Attention.THREADS)};
     * the arguments are {@link Attention#paged}'s plus {@code selected} and {@code k}. Partition 0's
     * groups also write the zeros of the unselected units into {@code out}; with several partitions
     * the selected units' partials go to {@code partOut}/{@code partStats} for {@link #combine}.
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
        float[] key = new float[4];
        int slot = ctx.groupIdx;
        int t = ctx.groupIdy;
        int part = ctx.groupIdz;
        int unit = selected.get(t * k + slot);
        int width = group * headDim;
        int position = positions.get(t);
        int start = part * partitionSize;
        int end = Math.min(start + partitionSize, position + 1);
        if (part == 0) zeroUnselected(ctx, selected, out, t, slot, k, kvHeads, width);
        Attention.loadQueries(ctx, q, stats, acc, qkv, t * qStride + unit * width, width, scale, group);
        attend(ctx, q, p, stats, rows, acc, score, key, kCache, vCache, blockTable, tokenSeq.get(t) * maxBlocks, unit,
                start, end, headDim, group, kvHeads, blockSize);
        store(ctx, stats, acc, out, partOut, partStats, t, part, partitions, unit, headDim, group, kvHeads);
    }

    /**
     * Merges the selected units' split-K partials into {@code out [tokens, heads * headDim]}, as
     * {@link Attention#combine} does for all heads. Launch with {@code Grid.of(tokens, k * group * headDim)}.
     */
    public static void combine(FloatArray partOut, FloatArray partStats, IntArray positions, IntArray selected, FloatArray out,
                               int tokens, int k, int heads, int headDim, int group, int partitions, int partitionSize) {
        for (@Parallel int t = 0; t < tokens; t++) {
            for (@Parallel int e = 0; e < k * group * headDim; e++) {
                int width = group * headDim;
                int i = selected.get(t * k + e / width) * width + e % width;
                out.set(t * heads * headDim + i, Attention.combined(partOut, partStats, positions, t, i, heads, headDim, partitions, partitionSize));
            }
        }
    }

    // ---- pieces of Attention.paged, factored so that the dense kernel can share them ----

    /**
     * Online-softmax attention of the group's (pre-loaded) queries over positions {@code start..end-1}
     * of unit {@code kvHead}: tiles of {@link Attention#TILE} positions, one per work-item when
     * scoring, a warp per head for the softmax, then each work-item accumulates its share of the
     * group's outputs over the tile's V rows. Leaves unnormalised outputs in {@code acc} and max,
     * sum in {@code stats}.
     */
    static void attend(KernelContext ctx, float[] q, float[] p, float[] stats, int[] rows, float[] acc, float[] score, float[] key,
                       FloatArray kCache, FloatArray vCache, IntArray blockTable, int table, int kvHead, int start, int end,
                       int headDim, int group, int kvHeads, int blockSize) {
        int j = ctx.localIdx;
        int width = group * headDim;
        int kvDim = kvHeads * headDim;
        for (int tile = start; tile < end; tile += Attention.TILE) {
            int n = Math.min(Attention.TILE, end - tile);
            for (int h = 0; h < group; h++) score[h] = 0f;
            if (j < n) {
                int row = Attention.rowIndex(blockTable, table, tile + j, kvHead, kvDim, headDim, blockSize);
                rows[j] = row;
                for (int d = 0; d < headDim; d += 4) {
                    kCache.load4(row + d, key);
                    Attention.dot4(q, key, score, d, headDim, group);
                }
            }
            Attention.storeScores(p, score, j, j < n, group);
            ctx.localBarrier();
            Attention.softmaxTile(ctx, p, stats, n, group);
            ctx.localBarrier();
            for (int r = 0; r < Attention.PER_THREAD; r++) {
                int i = j + r * Attention.THREADS;
                if (i < width) {
                    int h = i / headDim;
                    int d = i % headDim;
                    float a = acc[r] * stats[Attention.RESCALE + h];
                    for (int c = 0; c < n; c++) a += p[h * Attention.TILE + c] * vCache.get(rows[c] + d);
                    acc[r] = a;
                }
            }
            ctx.localBarrier();
        }
    }

    /** Writes unit {@code kvHead}'s normalised output to {@code out}, or with split-K its partial and statistics. */
    static void store(KernelContext ctx, float[] stats, float[] acc, FloatArray out, FloatArray partOut, FloatArray partStats,
                      int t, int part, int partitions, int kvHead, int headDim, int group, int kvHeads) {
        int width = group * headDim;
        int heads = kvHeads * group;
        for (int r = 0; r < Attention.PER_THREAD; r++) {
            int i = ctx.localIdx + r * Attention.THREADS;
            if (i < width) {
                float o = Attention.normalised(acc[r], stats[Attention.SUM + i / headDim]);
                if (partitions == 1) out.set(t * heads * headDim + kvHead * width + i, o);
                else partOut.set((t * partitions + part) * heads * headDim + kvHead * width + i, o);
            }
        }
        Attention.writeStats(ctx, stats, partStats, ((t * partitions + part) * heads + kvHead * group) * 2, partitions, group);
    }

    /**
     * Zeros token {@code t}'s output of the units that slot {@code slot} stands in for: those
     * {@code u} with {@code u % k == slot} that are not selected. Every unselected unit has exactly one such slot.
     */
    static void zeroUnselected(KernelContext ctx, IntArray selected, FloatArray out, int t, int slot, int k, int kvHeads, int width) {
        for (int u = slot; u < kvHeads; u += k) {
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
}
