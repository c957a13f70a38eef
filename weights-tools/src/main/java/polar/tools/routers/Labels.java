package polar.tools.routers;

/** Router training labels derived from recorded activations. */
final class Labels {
    private Labels() {}

    /** Bits of each row's {@code k} largest values of {@code values[rows, cols]} (ties: the lower index). */
    static BitRows topK(float[] values, int rows, int cols, int k) {
        BitRows out = new BitRows(rows, cols);
        int[] order = new int[cols];
        for (int i = 0; i < rows; i++) {
            topK(values, i * cols, cols, k, order);
            for (int r = 0; r < k; r++) out.set(i, order[r]);
        }
        return out;
    }

    /**
     * Puts the indices of the {@code k} largest of {@code values[off .. off+n)} into {@code order[0..k)}
     * (largest first; ties: lower index first), by partial selection sort, since n is small here (heads).
     */
    static void topK(float[] values, int off, int n, int k, int[] order) {
        for (int j = 0; j < n; j++) order[j] = j;
        for (int r = 0; r < k; r++) {
            int best = r;
            for (int j = r + 1; j < n; j++) {
                float a = values[off + order[j]], b = values[off + order[best]];
                if (a > b || (a == b && order[j] < order[best])) best = j;
            }
            int t = order[r];
            order[r] = order[best];
            order[best] = t;
        }
    }
}
