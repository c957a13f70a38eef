package polar.runtime.jvm;

import polar.tornado.KernelContext;
import polar.tornado.Parallel;
import polar.tornado.types.FloatArray;

/** Kernels for the JVM backend's own tests; some deliberately fail. */
final class JvmTestKernels {
    private JvmTestKernels() {}

    /** Work-item {@code failing} throws before the barrier the others wait at. */
    static void failBeforeBarrier(KernelContext ctx, FloatArray out, int failing) {
        if (ctx.globalIdx == failing) throw new IllegalStateException("work-item " + failing + " fails on purpose");
        ctx.localBarrier();
        out.set(ctx.globalIdx, 1f);
    }

    /** Lane {@code failing} throws before the warp shuffle the other lanes of its warp wait in. */
    static void failBeforeShuffle(KernelContext ctx, FloatArray out, int failing) {
        if (ctx.globalIdx == failing) throw new IllegalStateException("lane " + failing + " fails on purpose");
        out.set(ctx.globalIdx, ctx.warpReduceSum(1f));
    }

    /** {@code out[i] = in[i] / i} with an out-of-range read when {@code n} exceeds the input. */
    static void overrun(FloatArray in, FloatArray out, int n) {
        for (@Parallel int i = 0; i < n; i++) out.set(i, in.get(i));
    }

    /** {@code out[i] += 1} for {@code i} in {@code [start, n)}, and {@code cells[i][j] += 1} below: each iteration must run once, however the loops are split. */
    static void countIterations(FloatArray out, FloatArray cells, int start, int n, int cols) {
        for (@Parallel int i = start; i < n; i++) {
            out.set(i, out.get(i) + 1f);
            for (@Parallel int j = 0; j < cols; j++) cells.set(i * cols + j, cells.get(i * cols + j) + 1f);
        }
    }

    /** Every lane reads the value of lane {@code (lane + shift) % 32}: a rotation within each warp. */
    static void rotateWarps(KernelContext ctx, FloatArray in, FloatArray out, int shift) {
        float v = in.get(ctx.globalIdx);
        out.set(ctx.globalIdx, ctx.warpShuffle(v, ctx.laneId() + shift));
    }

    /** {@code out[2i]} = the warp's sum and {@code out[2i+1]} = its max by the reductions; {@code out[2i+2n]..} the same by explicit butterflies of shuffles. */
    static void warpReductions(KernelContext ctx, FloatArray in, FloatArray out, int n) {
        float v = in.get(ctx.globalIdx);
        out.set(2 * ctx.globalIdx, ctx.warpReduceSum(v));
        out.set(2 * ctx.globalIdx + 1, ctx.warpReduceMax(v));
        float sum = v, max = v;
        for (int mask = 16; mask > 0; mask >>= 1) {
            sum += ctx.warpShuffleXor(sum, mask);
            max = Math.max(max, ctx.warpShuffleXor(max, mask));
        }
        out.set(2 * n + 2 * ctx.globalIdx, sum);
        out.set(2 * n + 2 * ctx.globalIdx + 1, max);
    }

    /** Writes each work-item's ids, to check the JVM numbers them as a GPU does. */
    static void ids(KernelContext ctx, FloatArray out) {
        int i = ctx.globalIdy * ctx.globalGroupSizeX + ctx.globalIdx;
        out.set(3 * i, ctx.groupIdx * ctx.localGroupSizeX + ctx.localIdx);
        out.set(3 * i + 1, ctx.groupIdy * ctx.localGroupSizeY + ctx.localIdy);
        out.set(3 * i + 2, ctx.warpId() * KernelContext.WARP_SIZE + ctx.laneId());
    }

    /** Work-items past {@code limit} return early, skipping the barrier the others wait at. */
    static void returnBeforeBarrier(KernelContext ctx, FloatArray out, int limit) {
        if (ctx.localIdx >= limit) return;
        ctx.localBarrier();
        out.set(ctx.globalIdx, 1f);
    }

    /** Barrier-free, with local memory private to each work-item's slot: {@code out[i] = 2 * i}. */
    static void doubleIndexThroughLocalMemory(KernelContext ctx, FloatArray out) {
        float[] slots = ctx.allocateFloatLocalArray(64);
        slots[ctx.localIdx] = 2 * ctx.globalIdx;
        out.set(ctx.globalIdx, slots[ctx.localIdx]);
    }
}
