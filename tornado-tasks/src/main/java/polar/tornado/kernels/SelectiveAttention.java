package polar.tornado.kernels;

import polar.tornado.KernelContext;
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
 * the same kernel body ({@code Attention.attend} with the selected unit as its KV head), so with
 * every unit selected the results are bit-identical on the same backend. The grid is compact: one
 * work-group per (selected slot, token, partition), so the device only schedules work that reads
 * the cache, and a few selected units of a long context still fill it through split-K. Within a
 * group each K/V row is loaded once for all query heads of the unit.
 *
 * <p>Variants as in {@link Attention}: {@link #paged} (float32 cache and output) and
 * {@link #pagedHalf} (float16 cache and output); with split-K the last partition of a selected
 * unit to finish merges its partials, as in {@link Attention}.
 */
public final class SelectiveAttention {
    private SelectiveAttention() {}

    /**
     * Selective paged attention. Launch with {@code Grid.groups(k, tokens, partitions, Attention.THREADS)};
     * the arguments are {@link Attention#paged}'s plus {@code selected} and {@code k} (selected units
     * per token, at least 1). Partition 0's groups also write the zeros of the unselected units into
     * {@code out}; with several partitions the selected units' partials go to {@code partOut} and
     * {@code partStats} (laid out as for {@link Attention#paged}) and are merged into {@code out} by
     * the unit's last partition to finish, counted in {@code arrivals [tokens, kvHeads]} (zeros).
     */
    public static void paged(KernelContext ctx, FloatArray qkv, FloatArray kCache, FloatArray vCache,
                             IntArray blockTable, IntArray tokenSeq, IntArray positions, IntArray selected,
                             FloatArray out, FloatArray partOut, FloatArray partStats, IntArray arrivals,
                             int qStride, int maxBlocks, int partitionSize, int partitions, float scale, int k,
                             int headDim, int group, int kvHeads, int blockSize) {
        float[] merged = ctx.allocateFloatLocalArray(Attention.WARPS * group * headDim);
        float[] mergedStats = ctx.allocateFloatLocalArray(Attention.WARPS * 2 * group);
        int[] flag = ctx.allocateIntLocalArray(1);
        if (ctx.groupIdz == 0) zeroUnselected(ctx, selected, out, ctx.groupIdy, k, kvHeads, group * headDim);
        int unit = selected.get(ctx.groupIdy * k + ctx.groupIdx);
        Attention.attend(ctx, qkv, kCache, vCache, blockTable, tokenSeq, positions, out, partOut, partStats, merged, mergedStats,
                unit, qStride, maxBlocks, partitionSize, partitions, scale, headDim, group, kvHeads, blockSize);
        if (partitions > 1) Attention.mergeIfLast(ctx, partOut, partStats, positions, arrivals, flag, out, unit, partitions, partitionSize, headDim, group, kvHeads);
    }

    /** {@link #paged} over a float16 cache, writing float16 output (as {@link Attention#pagedHalf}). */
    public static void pagedHalf(KernelContext ctx, FloatArray qkv, HalfArray kCache, HalfArray vCache,
                                 IntArray blockTable, IntArray tokenSeq, IntArray positions, IntArray selected,
                                 HalfArray out, FloatArray partOut, FloatArray partStats, IntArray arrivals,
                                 int qStride, int maxBlocks, int partitionSize, int partitions, float scale, int k,
                                 int headDim, int group, int kvHeads, int blockSize) {
        float[] merged = ctx.allocateFloatLocalArray(Attention.WARPS * group * headDim);
        float[] mergedStats = ctx.allocateFloatLocalArray(Attention.WARPS * 2 * group);
        int[] flag = ctx.allocateIntLocalArray(1);
        if (ctx.groupIdz == 0) zeroUnselected(ctx, selected, out, ctx.groupIdy, k, kvHeads, group * headDim);
        int unit = selected.get(ctx.groupIdy * k + ctx.groupIdx);
        Attention.attend(ctx, qkv, kCache, vCache, blockTable, tokenSeq, positions, out, partOut, partStats, merged, mergedStats,
                unit, qStride, maxBlocks, partitionSize, partitions, scale, headDim, group, kvHeads, blockSize);
        if (partitions > 1) Attention.mergeIfLast(ctx, partOut, partStats, positions, arrivals, flag, out, unit, partitions, partitionSize, headDim, group, kvHeads);
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
}
