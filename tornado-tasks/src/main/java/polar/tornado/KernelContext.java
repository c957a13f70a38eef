package polar.tornado;

import java.lang.invoke.VarHandle;

import polar.tornado.types.FloatArray;
import polar.tornado.types.IntArray;

/**
 * The work-item's view of a launch, in TornadoVM's {@code KernelContext} style: ids, sizes,
 * group-local memory, barriers, warp (subgroup) operations and atomics.
 *
 * <p>A kernel written against this class runs unchanged on every backend: the kernel compiler
 * maps each member to CUDA C / OpenCL C, and the JVM backend gives every work-item its own
 * instance whose fields hold its ids while the {@link Group} is shared by the work-group.
 *
 * <p>Rules of the subset (checked by the compiler): local arrays have a compile-time constant
 * size and are allocated in the same order by every work-item; barriers and warp operations are
 * reached by every work-item of the group (warp operations: by all {@link #WARP_SIZE} lanes).
 */
public final class KernelContext {
    /** Lanes per warp (CUDA) or emulated subgroup (OpenCL, JVM). */
    public static final int WARP_SIZE = 32;

    public int globalIdx, globalIdy, globalIdz;
    public int localIdx, localIdy, localIdz;
    public int groupIdx, groupIdy, groupIdz;
    /** Work-items per group in each dimension. */
    public int localGroupSizeX, localGroupSizeY, localGroupSizeZ;
    /** Work-items in the whole launch in each dimension. */
    public int globalGroupSizeX, globalGroupSizeY, globalGroupSizeZ;

    private final Group group;
    private int localAllocations;

    /** Shared state of one work-group when a kernel runs in the JVM. */
    public interface Group {
        /** Blocks work-item {@code item} (its linear local id) until every work-item of the group has arrived. */
        void barrier(int item);

        /** The {@code index}-th local allocation of this group, created on first request. */
        Object localArray(int index, Class<?> type, int length);

        /** Exchange among the 32 lanes of a warp: every lane publishes {@code value}, then reads lane {@code srcLane}'s. */
        float warpShuffle(int warp, int lane, float value, int srcLane);

        /**
         * Sum ({@code max == false}) or maximum of {@code value} over the warp, returned to every lane,
         * equal to the butterfly of {@link KernelContext#warpReduceSum}: a group may do it in one
         * exchange instead of five.
         */
        default float warpReduce(int warp, int lane, float value, boolean max) {
            for (int mask = WARP_SIZE / 2; mask > 0; mask >>= 1) {
                float other = warpShuffle(warp, lane, value, lane ^ mask);
                value = max ? Math.max(value, other) : value + other;
            }
            return value;
        }
    }

    public KernelContext(Group group) {
        this.group = group;
    }

    /** Barrier over the work-group with local-memory fence ({@code __syncthreads} / {@code barrier(CLK_LOCAL_MEM_FENCE)}). */
    public void localBarrier() {
        group.barrier(linearLocalId());
    }

    /** Barrier over the work-group with global-memory fence. */
    public void globalBarrier() {
        group.barrier(linearLocalId());
    }

    /**
     * Orders this work-item's global-memory accesses before and after it as seen by every
     * work-group of the launch ({@code __threadfence} / {@code mem_fence(CLK_GLOBAL_MEM_FENCE)}):
     * write partial results, fence, then count arrivals with {@link #atomicAdd}, and the group that
     * arrives last sees every other group's partials ({@code kernels.Arrivals}).
     */
    public void globalFence() {
        VarHandle.fullFence();
    }

    /** Group-local (shared) float memory; {@code length} must be a compile-time constant. */
    public float[] allocateFloatLocalArray(int length) {
        return (float[]) group.localArray(localAllocations++, float[].class, length);
    }

    /** Group-local (shared) int memory; {@code length} must be a compile-time constant. */
    public int[] allocateIntLocalArray(int length) {
        return (int[]) group.localArray(localAllocations++, int[].class, length);
    }

    /** This work-item's lane within its warp (linear local id modulo 32). */
    public int laneId() {
        return linearLocalId() % WARP_SIZE;
    }

    /** This work-item's warp within its group. */
    public int warpId() {
        return linearLocalId() / WARP_SIZE;
    }

    private int linearLocalId() {
        return localIdx + localGroupSizeX * (localIdy + localGroupSizeY * localIdz);
    }

    /** Value of {@code value} held by lane {@code srcLane} of this warp ({@code __shfl_sync}). */
    public float warpShuffle(float value, int srcLane) {
        return group.warpShuffle(warpId(), laneId(), value, srcLane);
    }

    /** Value held by lane {@code laneId() ^ laneMask} ({@code __shfl_xor_sync}). */
    public float warpShuffleXor(float value, int laneMask) {
        return group.warpShuffle(warpId(), laneId(), value, laneId() ^ laneMask);
    }

    /**
     * Sum of {@code value} over the warp, returned to every lane: the butterfly
     * {@code for (mask = 16; mask > 0; mask >>= 1) value += warpShuffleXor(value, mask)}.
     */
    public float warpReduceSum(float value) {
        return group.warpReduce(warpId(), laneId(), value, false);
    }

    /** Maximum of {@code value} over the warp, returned to every lane. */
    public float warpReduceMax(float value) {
        return group.warpReduce(warpId(), laneId(), value, true);
    }

    /** Atomically adds {@code value} to {@code array[index]}; returns the old value. */
    public int atomicAdd(IntArray array, int index, int value) {
        synchronized (array) {
            int old = array.get(index);
            array.set(index, old + value);
            return old;
        }
    }

    /**
     * Atomically adds {@code value} to element {@code index} of a local array ({@link #allocateIntLocalArray});
     * returns the old value. Counters that many work-items of a group bump at once (histograms).
     */
    public int atomicAdd(int[] local, int index, int value) {
        synchronized (local) {
            int old = local[index];
            local[index] = old + value;
            return old;
        }
    }

    /** Atomically adds {@code value} to {@code array[index]}; returns the old value. */
    public float atomicAdd(FloatArray array, int index, float value) {
        synchronized (array) {
            float old = array.get(index);
            array.set(index, old + value);
            return old;
        }
    }
}
