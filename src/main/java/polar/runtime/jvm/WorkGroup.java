package polar.runtime.jvm;

import java.lang.reflect.Array;
import java.util.Arrays;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import polar.tornado.KernelContext;

/**
 * The shared state of one work-group of a {@code KernelContext} kernel in the JVM: its local
 * arrays and, when the work-items run as cooperating threads, the group barrier and the warps'
 * shuffle slots. A group whose kernel has no barriers or warp operations runs its work-items one
 * after another and has neither.
 */
final class WorkGroup implements KernelContext.Group {
    private static final int WARP = KernelContext.WARP_SIZE;

    private final String kernel;
    private final int items;
    private final List<Object> localArrays = new ArrayList<>();
    private final GroupBarrier barrier;        // null when run one work-item at a time
    private final GroupBarrier[] warpBarriers;
    private final float[][] warpSlots;         // per warp: two banks of 32 lanes, used alternately
    private final int[] shuffles;              // per work-item: warp shuffles done so far (selects the bank)
    private final int[] barriers;              // per work-item: group barriers reached so far
    private final AtomicReference<Failure> failure = new AtomicReference<>();

    /** The first work-item to fail, and how. */
    record Failure(int item, Throwable error) {}

    /** A group whose work-items run one after another on the calling thread. */
    static WorkGroup sequential(String kernel, int items) {
        return new WorkGroup(kernel, items, null);
    }

    /** A group whose work-items are {@code threads} (filled in before any starts), meeting at barriers. */
    static WorkGroup cooperative(String kernel, Thread[] threads) {
        return new WorkGroup(kernel, threads.length, threads);
    }

    private WorkGroup(String kernel, int items, Thread[] threads) {
        this.kernel = kernel;
        this.items = items;
        if (threads == null) {
            barrier = null;
            warpBarriers = null;
            warpSlots = null;
            shuffles = null;
            barriers = null;
            return;
        }
        barrier = new GroupBarrier(threads, 0, items);
        int warps = (items + WARP - 1) / WARP;
        warpBarriers = new GroupBarrier[warps];
        warpSlots = new float[warps][2 * WARP];
        for (int w = 0; w < warps; w++) warpBarriers[w] = new GroupBarrier(threads, w * WARP, lanesOf(w));
        shuffles = new int[items];
        barriers = new int[items];
    }

    private int lanesOf(int warp) { return Math.min(WARP, items - warp * WARP); }

    @Override
    public void barrier(int item) {
        if (barrier == null) throw new IllegalStateException(kernel + " reached a barrier although it was analysed as barrier-free");
        barrier.await(barriers[item]++);
    }

    @Override
    public synchronized Object localArray(int index, Class<?> type, int length) {
        while (localArrays.size() <= index) localArrays.add(null);
        Object array = localArrays.get(index);
        if (array == null) {
            array = Array.newInstance(type.componentType(), length);
            localArrays.set(index, array);
        } else if (array.getClass() != type || Array.getLength(array) != length) {
            throw new IllegalStateException(kernel + ": local allocation " + index + " is " + type.getSimpleName() + "(" + length
                    + ") in one work-item but " + array.getClass().getSimpleName() + "(" + Array.getLength(array) + ") in another");
        }
        return array;
    }

    /**
     * Every lane writes its value into this exchange's bank and the warp meets; returns the bank's
     * offset in {@code warpSlots[warp]}, to read the lanes' values from. Consecutive exchanges use
     * alternate banks, so a lane that runs ahead to the next one cannot overwrite a value a slower
     * lane has yet to read (it would have to pass the next meeting first, which needs the slow lane).
     */
    private int exchange(int warp, int lane, float value) {
        if (warpBarriers == null) throw new IllegalStateException(kernel + " used a warp operation although it was analysed as free of them");
        int item = warp * WARP + lane;
        int index = shuffles[item]++;
        int bank = (index & 1) * WARP;
        warpSlots[warp][bank + lane] = value;
        warpBarriers[warp].await(index);
        return bank;
    }

    private IllegalStateException partialWarp(int warp, String what) {
        return new IllegalStateException(kernel + ": warp " + warp + " has " + lanesOf(warp) + " lanes" + what
                + " (warp operations need work-groups of whole warps of " + WARP + ")");
    }

    @Override
    public float warpShuffle(int warp, int lane, float value, int srcLane) {
        int bank = exchange(warp, lane, value);
        int src = srcLane & (WARP - 1); // CUDA takes the source lane modulo the warp width
        if (src >= lanesOf(warp)) throw partialWarp(warp, ", lane " + lane + " reads lane " + src);
        return warpSlots[warp][bank + src];
    }

    /**
     * One exchange instead of the butterfly's five: every lane folds the 32 published values in the
     * butterfly's order (halving strides: after the step of mask m, lane i < m holds
     * {@code t[i] + t[i + m]}, which is what lanes i and {@code i ^ m} of the butterfly both hold, as
     * float addition commutes), so the result is bit for bit the butterfly's, in every lane.
     */
    @Override
    public float warpReduce(int warp, int lane, float value, boolean max) {
        int bank = exchange(warp, lane, value);
        if (lanesOf(warp) != WARP) throw partialWarp(warp, "");
        float[] t = Arrays.copyOfRange(warpSlots[warp], bank, bank + WARP);
        for (int m = WARP / 2; m > 0; m >>= 1) {
            for (int i = 0; i < m; i++) t[i] = max ? Math.max(t[i], t[i + m]) : t[i] + t[i + m];
        }
        return t[0];
    }

    /** Work-item {@code item} returned: fails the group if others wait at a barrier or warp operation it skipped. */
    void finished(int item) {
        if (barrier != null && (barrier.depart(barriers[item]) | warpBarriers[item / WARP].depart(shuffles[item]))) {
            fail(item, new IllegalStateException(GroupBarrier.DIVERGED));
        }
    }

    /** Records the first failure and releases every work-item waiting at a barrier. */
    void fail(int item, Throwable error) {
        if (!failure.compareAndSet(null, new Failure(item, error))) return;
        if (barrier == null) return;
        barrier.breakBarrier();
        for (GroupBarrier w : warpBarriers) w.breakBarrier();
    }

    Failure failure() { return failure.get(); }
}
