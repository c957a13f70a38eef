package polar.tornado.compiler;

import polar.tornado.KernelContext;
import polar.tornado.Parallel;
import polar.tornado.types.FloatArray;

/**
 * Kernels outside the supported subset. The line the compiler must name carries the comment
 * {@code // error: <kernel>}; the tests read this file to find it.
 */
public final class UnsupportedKernels {
    static int counter;
    static final int[] TABLE = {1, 2, 3};

    private UnsupportedKernels() {}

    public static void objectAllocation(FloatArray a, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            a.set(i, new java.util.Random(i).nextFloat()); // error: objectAllocation
        }
    }

    public static void arrayOfVariableSize(FloatArray a, int n) {
        float[] tmp = new float[n]; // error: arrayOfVariableSize
        a.set(0, tmp[0]);
    }

    public static void recursion(FloatArray a, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            a.set(i, factorial(i));
        }
    }

    static int factorial(int n) {
        return n <= 1 ? 1 : n * factorial(n - 1); // error: recursion
    }

    public static void mutualRecursion(FloatArray a, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            a.set(i, isEven(i) ? 1f : 0f);
        }
    }

    static boolean isEven(int n) {
        return n == 0 || isOdd(n - 1);
    }

    static boolean isOdd(int n) {
        return n != 0 && isEven(n - 1); // error: mutualRecursion
    }

    public static void throwing(FloatArray a, int n) {
        if (n > a.getSize()) {
            throw new IllegalArgumentException("n too large"); // error: throwing
        }
    }

    public static void catching(FloatArray a, int n) {
        try { // error: catching
            a.set(n, 1f);
        } catch (RuntimeException e) {
            a.set(0, 0f);
        }
    }

    public static void virtualCall(FloatArray a, int n) {
        float[] regs = new float[4];
        a.set(0, regs.hashCode()); // error: virtualCall
    }

    public static void bufferMethod(FloatArray a, int n) {
        a.fill(0f); // error: bufferMethod
    }

    public static void localMemoryOfVariableSize(KernelContext ctx, FloatArray a, int n) {
        float[] shared = ctx.allocateFloatLocalArray(n); // error: localMemoryOfVariableSize
        shared[ctx.localIdx] = a.get(ctx.globalIdx);
    }

    public static void localMemoryInLoop(KernelContext ctx, FloatArray a, int n) {
        for (int i = 0; i < n; i++) {
            float[] shared = ctx.allocateFloatLocalArray(64); // error: localMemoryInLoop
            shared[0] = 1f;
        }
    }

    public static void localMemoryInHelper(KernelContext ctx, FloatArray a) {
        a.set(0, sharedSum(ctx));
    }

    static float sharedSum(KernelContext ctx) {
        float[] shared = ctx.allocateFloatLocalArray(64); // error: localMemoryInHelper
        return shared[0];
    }

    public static void strings(FloatArray a, int n) {
        int len = "abc".length(); // error: strings
    }

    public static void lambdas(FloatArray a, int n) {
        Runnable r = () -> a.set(0, 1f); // error: lambdas
    }

    public static void fieldWrite(FloatArray a, int n) {
        counter = n; // error: fieldWrite
    }

    public static void fieldRead(FloatArray a, int n) {
        a.set(0, counter); // error: fieldRead
    }

    public static void arrayConstant(FloatArray a, int n) {
        a.set(0, TABLE[0]); // error: arrayConstant
    }

    public static void returnInParallelLoop(FloatArray a, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            if (i == 3) return; // error: returnInParallelLoop
            a.set(i, 1f);
        }
    }

    public static void breakInParallelLoop(FloatArray a, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            if (i == 3) break; // error: breakInParallelLoop
            a.set(i, 1f);
        }
    }

    public static void parallelStep(FloatArray a, int n) {
        for (@Parallel int i = 0; i < n; i += 2) { // error: parallelStep
            a.set(i, 1f);
        }
    }

    public static void fourParallelLoops(FloatArray a, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            for (@Parallel int j = 0; j < n; j++) {
                for (@Parallel int k = 0; k < n; k++) {
                    for (@Parallel int l = 0; l < n; l++) { // error: fourParallelLoops
                        a.set(i + j + k + l, 1f);
                    }
                }
            }
        }
    }

    public static void unknownMethod(FloatArray a, int n) {
        a.set(0, (float) Math.ulp(1f)); // error: unknownMethod
    }

    public static void libraryCall(FloatArray a, int n) {
        a.set(0, java.util.Objects.hash(n)); // error: libraryCall
    }

    public static void objectVariable(FloatArray a, int n) {
        Object o = a; // error: objectVariable
    }

    public static void synchronizedBlock(FloatArray a, int n) {
        synchronized (UnsupportedKernels.class) { // error: synchronizedBlock
            a.set(0, 1f);
        }
    }

    public static void objectParameter(FloatArray a, Object o) { // error: objectParameter
    }

    public static void barrierAfterEarlyReturn(KernelContext ctx, FloatArray a, int n) {
        float[] shared = ctx.allocateFloatLocalArray(64);
        if (ctx.globalIdx >= n) {
            return;
        }
        shared[ctx.localIdx] = a.get(ctx.globalIdx);
        ctx.localBarrier(); // error: barrierAfterEarlyReturn
    }

    public static void barrierInBranch(KernelContext ctx, FloatArray a, int n) {
        int lid = ctx.localIdx;
        int half = lid / 2;
        if (half < 8) {
            ctx.localBarrier(); // error: barrierInBranch
        }
    }

    public static void barrierInDivergentLoop(KernelContext ctx, FloatArray a, int n) {
        for (int i = ctx.localIdx; i < n; i += ctx.localGroupSizeX) {
            a.set(i, 0f);
            ctx.globalBarrier(); // error: barrierInDivergentLoop
        }
    }

    public static void barrierAfterDivergentContinue(KernelContext ctx, FloatArray a, int n) {
        for (int i = 0; i < n; i++) {
            if (ctx.localIdx == i) continue;
            ctx.localBarrier(); // error: barrierAfterDivergentContinue
        }
    }

    public static void helperBarrierInBranch(KernelContext ctx, FloatArray a, int n) {
        if (ctx.localIdx < 32 && n > 0) {
            sync(ctx); // error: helperBarrierInBranch
        }
    }

    static void sync(KernelContext ctx) {
        ctx.localBarrier();
    }

    public static void warpOpInLaneBranch(KernelContext ctx, FloatArray a, int n) {
        float v = a.get(ctx.globalIdx);
        if (ctx.laneId() < 16) {
            v = ctx.warpReduceSum(v); // error: warpOpInLaneBranch
        }
        a.set(ctx.globalIdx, v);
    }

    public static void warpOpInTernary(KernelContext ctx, FloatArray a, int n) {
        float v = a.get(ctx.globalIdx);
        float s = v > 0 ? ctx.warpShuffleXor(v, 1) : 0f; // error: warpOpInTernary
        a.set(ctx.globalIdx, s);
    }

    /** Fine on CUDA (the whole warp takes the branch); OpenCL's emulation needs the whole group. */
    public static void warpOpInWarpBranch(KernelContext ctx, FloatArray a, int n) {
        float v = a.get(ctx.globalIdx);
        if (ctx.warpId() == 0) {
            v = ctx.warpReduceMax(v); // error: warpOpInWarpBranch
        }
        a.set(ctx.globalIdx, v);
    }

    /** Uniform conditions (group ids, sizes, parameters, reduced values) may hold barriers. */
    public static void uniformConditions(KernelContext ctx, FloatArray a, int n) {
        float[] shared = ctx.allocateFloatLocalArray(64);
        int lid = ctx.localIdx;
        shared[lid] = a.get(ctx.globalIdx);
        ctx.localBarrier();
        float total = ctx.warpReduceSum(shared[lid]);
        for (int stride = ctx.localGroupSizeX / 2; stride > 0 && n > 0; stride /= 2) {
            if (lid < stride) {
                shared[lid] += shared[lid + stride];
            }
            ctx.localBarrier();
        }
        if (ctx.groupIdx % 2 == 0 && shared[0] > 0f) {
            ctx.localBarrier();
        }
        a.set(ctx.globalIdx, total + shared[0]);
    }
}
