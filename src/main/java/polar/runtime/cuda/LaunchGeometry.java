package polar.runtime.cuda;

import polar.tornado.graph.Grid;

/**
 * Blocks per grid and threads per block of one kernel launch.
 *
 * <p>A {@code KernelContext} kernel gets exactly the work-groups its {@link Grid} asks for. A
 * {@code @Parallel} kernel's generated loops are grid-stride, so any launch covers its range:
 * 256 threads per block unless the grid gives a local size, given first to dimension x (the
 * outermost loop; as in CUDA, a kernel makes x the dimension of contiguous elements so that a
 * warp's accesses coalesce), and the grid is capped at one full wave of the device
 * ({@code SMs * 2048 / threads per block} blocks), trimming dimensions z, then y, then x.
 */
public record LaunchGeometry(int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ) {
    /** Threads per block chosen for {@code @Parallel} kernels. */
    public static final int PARALLEL_BLOCK_THREADS = 256;
    private static final int MAX_THREADS_PER_SM = 2048;
    private static final int MAX_GRID_YZ = 65535;
    private static final int MAX_BLOCK_THREADS = 1024;

    public static LaunchGeometry of(Grid grid, boolean exactGroups, int multiprocessors) {
        int dims = grid.dimensions();
        int[] block = {1, 1, 1};
        int[] blocks = {1, 1, 1};
        if (grid.hasLocalSize()) {
            for (int d = 0; d < dims; d++) block[d] = grid.local(d);
        } else {
            int budget = PARALLEL_BLOCK_THREADS;
            for (int d = 0; d < dims; d++) {
                block[d] = (int) Math.min(budget, nextPowerOfTwo(grid.global(d)));
                budget /= block[d];
            }
        }
        int threads = block[0] * block[1] * block[2];
        if (threads > MAX_BLOCK_THREADS) throw new IllegalArgumentException("grid " + grid + ": " + threads + " threads per block exceed " + MAX_BLOCK_THREADS);
        for (int d = 0; d < dims; d++) blocks[d] = (int) ((grid.global(d) + (long) block[d] - 1) / block[d]);

        if (exactGroups) {
            if (blocks[1] > MAX_GRID_YZ || blocks[2] > MAX_GRID_YZ) {
                throw new IllegalArgumentException("grid " + grid + ": more than " + MAX_GRID_YZ + " work-groups in dimension y or z");
            }
        } else {
            long cap = (long) Math.max(1, multiprocessors) * Math.max(1, MAX_THREADS_PER_SM / threads);
            blocks[0] = (int) Math.min(blocks[0], cap);
            blocks[1] = (int) Math.min(blocks[1], Math.min(Math.max(1, cap / blocks[0]), MAX_GRID_YZ));
            blocks[2] = (int) Math.min(blocks[2], Math.min(Math.max(1, cap / ((long) blocks[0] * blocks[1])), MAX_GRID_YZ));
        }
        return new LaunchGeometry(blocks[0], blocks[1], blocks[2], block[0], block[1], block[2]);
    }

    private static long nextPowerOfTwo(int n) {
        return n <= 1 ? 1 : Long.highestOneBit(n - 1L) << 1;
    }

    public long threads() { return (long) gridX * gridY * gridZ * blockX * blockY * blockZ; }

    @Override
    public String toString() { return "grid " + gridX + "x" + gridY + "x" + gridZ + " block " + blockX + "x" + blockY + "x" + blockZ; }
}
