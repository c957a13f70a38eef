package polar.tornado.graph;

import java.util.Arrays;

/**
 * Launch geometry: global work-items per dimension and, for {@code KernelContext} kernels, the
 * work-group (block) size. For {@code @Parallel} kernels a zero local size lets the backend choose.
 */
public record Grid(int[] global, int[] local) {
    public Grid {
        if (global.length < 1 || global.length > 3 || local.length != global.length) {
            throw new IllegalArgumentException("a grid has 1 to 3 dimensions with a local size for each: " + Arrays.toString(global) + " / " + Arrays.toString(local));
        }
        for (int d = 0; d < global.length; d++) {
            if (global[d] < 1) throw new IllegalArgumentException("grid dimension " + d + " has " + global[d] + " work-items");
            if (local[d] < 0 || (local[d] > 0 && global[d] % local[d] != 0)) {
                throw new IllegalArgumentException("global size " + global[d] + " is not a multiple of local size " + local[d] + " in dimension " + d);
            }
        }
    }

    /** {@code n} work-items in one dimension, local size chosen by the backend. */
    public static Grid of(int n) { return new Grid(new int[] {n}, new int[] {0}); }

    public static Grid of(int nx, int ny) { return new Grid(new int[] {nx, ny}, new int[] {0, 0}); }

    public static Grid of(int nx, int ny, int nz) { return new Grid(new int[] {nx, ny, nz}, new int[] {0, 0, 0}); }

    /**
     * An element-wise grid over a row-major {@code [rows, cols]} matrix, for kernels whose outer
     * {@code @Parallel} loop walks the columns and whose inner loop walks the rows: {@code Grid.of(cols, rows)}.
     * The columns are dimension x, so neighbouring work-items of a warp touch neighbouring elements.
     */
    public static Grid rows(int rows, int cols) { return of(cols, rows); }

    /** {@code groups} work-groups of {@code localSize} work-items in dimension x. */
    public static Grid groups(int groups, int localSize) {
        return new Grid(new int[] {groups * localSize}, new int[] {localSize});
    }

    /** {@code gx * gy} work-groups of {@code localSize} work-items along x. */
    public static Grid groups(int gx, int gy, int localSize) {
        return new Grid(new int[] {gx * localSize, gy}, new int[] {localSize, 1});
    }

    /** {@code gx * gy * gz} work-groups of {@code localSize} work-items along x. */
    public static Grid groups(int gx, int gy, int gz, int localSize) {
        return new Grid(new int[] {gx * localSize, gy, gz}, new int[] {localSize, 1, 1});
    }

    public int dimensions() { return global.length; }

    public int global(int d) { return d < global.length ? global[d] : 1; }

    /** Local size in dimension d (1 beyond the grid's dimensions, 0 where the backend chooses). */
    public int local(int d) { return d < local.length ? local[d] : 1; }

    public boolean hasLocalSize() { return local[0] > 0; }

    /** Number of work-groups in dimension d (requires a local size). */
    public int groups(int d) { return global(d) / Math.max(1, local(d)); }

    @Override
    public String toString() { return Arrays.toString(global) + (hasLocalSize() ? "/" + Arrays.toString(local) : ""); }
}
