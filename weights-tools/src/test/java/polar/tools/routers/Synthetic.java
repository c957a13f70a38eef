package polar.tools.routers;

import java.util.Random;

/** Synthetic router data with planted rules, for tests. */
final class Synthetic {
    private Synthetic() {}

    static float[] gaussian(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian();
        return a;
    }

    /** {@code a[m,k] b[n,k]^T}, plainly. */
    static float[] mulTransposed(float[] a, int m, int k, float[] b, int n) {
        float[] c = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double) a[i * k + p] * b[j * k + p];
                c[i * n + j] = (float) s;
            }
        }
        return c;
    }

    /**
     * Attention data: unit output norms are {@code exp(x W^T + noise)}, so the true top-k units follow
     * a linear rule of the input that a linear router can learn.
     */
    static float[] unitNorms(float[] x, int rows, int hidden, float[] w, int units, double noise, Random rnd) {
        float[] z = mulTransposed(x, rows, hidden, w, units);
        for (int i = 0; i < z.length; i++) z[i] = (float) Math.exp(0.5 * z[i] + noise * rnd.nextGaussian());
        return z;
    }

    /** MLP data: neuron {@code j} fires when {@code (x A^T B^T)_j > threshold}, a rank-{@code rank} rule. */
    static BitRows active(float[] x, int rows, int hidden, float[] a, int rank, float[] b, int ffn, float threshold) {
        float[] h = mulTransposed(x, rows, hidden, a, rank);
        float[] pre = mulTransposed(h, rows, rank, b, ffn);
        BitRows out = new BitRows(rows, ffn);
        for (int i = 0; i < rows; i++) for (int j = 0; j < ffn; j++) if (pre[i * ffn + j] > threshold) out.set(i, j);
        return out;
    }
}
