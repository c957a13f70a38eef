package polar.tools.routers;

/**
 * Dense float32 matrix products for router training, row-major, written as row updates
 * ({@code c[i,:] += a * b[p,:]}) that the JIT vectorises, and blocked so a row of the right-hand
 * matrix is reused from cache for several output rows.
 */
final class Mat {
    private Mat() {}

    private static final int BLOCK = 8;

    /** {@code c[m,n] = a[m,k] b[k,n]}, split over rows of {@code c}. */
    static void mul(Workers w, float[] a, int m, int k, float[] b, int n, float[] c) {
        w.forRange(m, BLOCK, (from, to) -> {
            java.util.Arrays.fill(c, from * n, to * n, 0f);
            for (int i0 = from; i0 < to; i0 += BLOCK) {
                int i1 = Math.min(to, i0 + BLOCK);
                for (int p = 0; p < k; p++) {
                    int bRow = p * n;
                    for (int i = i0; i < i1; i++) {
                        float aip = a[i * k + p];
                        if (aip == 0f) continue;
                        int cRow = i * n;
                        for (int j = 0; j < n; j++) c[cRow + j] += aip * b[bRow + j];
                    }
                }
            }
        });
    }

    /** {@code d[k,n] = a[m,k]^T g[m,n]}, split over rows of {@code d}. */
    static void mulTransposedLeft(Workers w, float[] a, int m, int k, float[] g, int n, float[] d) {
        w.forRange(k, BLOCK, (from, to) -> {
            java.util.Arrays.fill(d, from * n, to * n, 0f);
            for (int p0 = from; p0 < to; p0 += BLOCK) {
                int p1 = Math.min(to, p0 + BLOCK);
                for (int i = 0; i < m; i++) {
                    int gRow = i * n;
                    for (int p = p0; p < p1; p++) {
                        float aip = a[i * k + p];
                        if (aip == 0f) continue;
                        int dRow = p * n;
                        for (int j = 0; j < n; j++) d[dRow + j] += aip * g[gRow + j];
                    }
                }
            }
        });
    }

    /** The transpose of {@code a[rows, cols]}, into {@code out[cols, rows]}. */
    static void transpose(float[] a, int rows, int cols, float[] out) {
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j];
    }

    static float[] transpose(float[] a, int rows, int cols) {
        float[] out = new float[a.length];
        transpose(a, rows, cols, out);
        return out;
    }
}
