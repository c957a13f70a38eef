package polar.tornado.graph;

import java.util.List;

/**
 * Dense matrix multiply as a library call (cuBLAS on CUDA, a Java kernel elsewhere), in the
 * layout of a linear layer: {@code C[i][j] = alpha * sum_p A[i][p] * B[j][p] + beta * C[i][j]}
 * for {@code i < m, j < n, p < k}, all row-major ({@code B} is {@code [n, k]}, like PyTorch's
 * weight {@code [out, in]}). Offsets and leading dimensions are in elements.
 */
public record GemmTask(Buffer<?> a, long aOffset, int lda,
                       Buffer<?> b, long bOffset, int ldb,
                       Buffer<?> c, long cOffset, int ldc,
                       int m, int n, int k, float alpha, float beta) implements Task {
    public GemmTask {
        if (m < 1 || n < 1 || k < 1) throw new IllegalArgumentException("gemm shape " + m + "x" + n + "x" + k);
        check(a, aOffset, lda, m, k, "A");
        check(b, bOffset, ldb, n, k, "B");
        check(c, cOffset, ldc, m, n, "C");
    }

    private static void check(Buffer<?> buf, long offset, int ld, int rows, int cols, String which) {
        if (ld < cols) throw new IllegalArgumentException("gemm " + which + " (" + buf + "): leading dimension " + ld + " < " + cols);
        long last = offset + (long) (rows - 1) * ld + cols;
        if (offset < 0 || last > buf.length()) {
            throw new IllegalArgumentException("gemm " + which + " (" + buf + "): " + rows + "x" + cols + " at offset " + offset + " with ld " + ld + " overruns " + buf.length() + " elements");
        }
    }

    @Override
    public List<Buffer<?>> buffers() { return List.of(a, b, c); }
}
