package polar.tornado.compiler;

/**
 * What the compiler learned about a kernel's body, for backends: the JVM backend runs a
 * {@code KernelContext} kernel without barriers or warp operations one work-item after another
 * instead of as cooperating threads.
 *
 * @param parallelLoops number of {@code @Parallel} loop dimensions (0 for KernelContext kernels)
 * @param usesBarriers  calls {@code localBarrier}/{@code globalBarrier}
 * @param usesWarpOps   calls a warp shuffle or reduction
 * @param localMemoryBytes  bytes of group-local arrays
 */
public record KernelInfo(int parallelLoops, boolean usesBarriers, boolean usesWarpOps, int localMemoryBytes) {}
