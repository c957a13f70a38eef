package polar.runtime.jvm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.stream.IntStream;
import polar.tornado.graph.GemmTask;
import polar.tornado.types.BFloat16Array;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/**
 * {@code C = alpha * A * B^T + beta * C} in Java for any mix of f32, f16 and bf16 storage, with
 * float accumulation. Work is split over blocks of {@link #BLOCK_N} rows of B (the weights), so
 * even one row of A (a decode step) uses every core. Each block converts its rows of B to float
 * once, transposed to [k][BLOCK_N], so the inner loop is {@code c[j] += a * b[j]} over a row of
 * the block, which the JIT vectorises.
 */
final class JvmGemm implements Runnable {
    /** Rows of B converted and kept per task: k x 64 floats stay in the L2 cache for k up to ~2048. */
    static final int BLOCK_N = 64;
    /** Below this many rows of A, converting and transposing a block of B costs more than it saves. */
    static final int FEW_ROWS = 4;

    private final GemmTask task;
    private final DeviceArray a, b, c;

    JvmGemm(GemmTask task, DeviceArray a, DeviceArray b, DeviceArray c) {
        this.task = task;
        this.a = floatStorage(a, "A", task);
        this.b = floatStorage(b, "B", task);
        this.c = floatStorage(c, "C", task);
    }

    private static DeviceArray floatStorage(DeviceArray array, String which, GemmTask task) {
        if (array instanceof FloatArray || array instanceof HalfArray || array instanceof BFloat16Array) return array;
        throw new IllegalArgumentException("gemm " + which + " must hold f32, f16 or bf16, not " + array.elementType() + ": " + task);
    }

    @Override
    public void run() {
        int m = task.m(), k = task.k();
        float[] aRows = new float[m * k];
        for (int i = 0; i < m; i++) readRow(a, task.aOffset() + (long) i * task.lda(), aRows, i * k, k);
        int blocks = (task.n() + BLOCK_N - 1) / BLOCK_N;
        IntStream.range(0, blocks).parallel().forEach(block -> {
            if (m < FEW_ROWS) multiplyBlockByDots(block, aRows);
            else multiplyBlock(block, aRows);
        });
    }

    /** Few rows of A (decode): each row of B is converted once and meets every row of A in a dot product. */
    private void multiplyBlockByDots(int block, float[] aRows) {
        int m = task.m(), k = task.k();
        int j0 = block * BLOCK_N;
        int nb = Math.min(BLOCK_N, task.n() - j0);
        float[] row = new float[k];
        float[][] acc = new float[m][nb];
        for (int jj = 0; jj < nb; jj++) {
            readRow(b, task.bOffset() + (long) (j0 + jj) * task.ldb(), row, 0, k);
            for (int i = 0; i < m; i++) acc[i][jj] = dot(aRows, i * k, row, k);
        }
        for (int i = 0; i < m; i++) writeRow(i, j0, acc[i], nb);
    }

    /** Four independent partial sums keep the floating-point adders busy. */
    private static float dot(float[] a, int from, float[] b, int k) {
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        int p = 0;
        for (; p + 4 <= k; p += 4) {
            s0 += a[from + p] * b[p];
            s1 += a[from + p + 1] * b[p + 1];
            s2 += a[from + p + 2] * b[p + 2];
            s3 += a[from + p + 3] * b[p + 3];
        }
        for (; p < k; p++) s0 += a[from + p] * b[p];
        return (s0 + s1) + (s2 + s3);
    }

    /**
     * Many rows of A: the block of B is converted once into rows {@code bt[p]} of BLOCK_N floats
     * (B transposed), and four rows of A at a time accumulate {@code c[j] += a[p] * bt[p][j]}.
     * Accumulators and {@code bt[p]} are indexed alike, so the JIT can vectorise without proving
     * that the arrays do not overlap.
     */
    private void multiplyBlock(int block, float[] aRows) {
        int m = task.m(), k = task.k();
        int j0 = block * BLOCK_N;
        int nb = Math.min(BLOCK_N, task.n() - j0);
        float[][] bt = new float[k][BLOCK_N]; // zero beyond nb
        float[][] rows = new float[8][k];      // eight rows of B at a time, so each bt[p] is written 8 floats at once
        for (int jj = 0; jj < nb; jj += 8) {
            int count = Math.min(8, nb - jj);
            for (int q = 0; q < count; q++) readRow(b, task.bOffset() + (long) (j0 + jj + q) * task.ldb(), rows[q], 0, k);
            for (int p = 0; p < k; p++) {
                float[] t = bt[p];
                for (int q = 0; q < count; q++) t[jj + q] = rows[q][p];
            }
        }
        float[] c0 = new float[BLOCK_N], c1 = new float[BLOCK_N], c2 = new float[BLOCK_N], c3 = new float[BLOCK_N];
        int i = 0;
        for (; i + 4 <= m; i += 4) {
            Arrays.fill(c0, 0f);
            Arrays.fill(c1, 0f);
            Arrays.fill(c2, 0f);
            Arrays.fill(c3, 0f);
            int r0 = i * k, r1 = r0 + k, r2 = r1 + k, r3 = r2 + k;
            for (int p = 0; p < k; p++) {
                accumulate4(c0, c1, c2, c3, aRows[r0 + p], aRows[r1 + p], aRows[r2 + p], aRows[r3 + p], bt[p]);
            }
            writeRow(i, j0, c0, nb);
            writeRow(i + 1, j0, c1, nb);
            writeRow(i + 2, j0, c2, nb);
            writeRow(i + 3, j0, c3, nb);
        }
        for (; i < m; i++) {
            Arrays.fill(c0, 0f);
            for (int p = 0; p < k; p++) accumulate(c0, aRows[i * k + p], bt[p]);
            writeRow(i, j0, c0, nb);
        }
    }

    private static void accumulate4(float[] c0, float[] c1, float[] c2, float[] c3, float a0, float a1, float a2, float a3, float[] b) {
        for (int j = 0; j < BLOCK_N; j++) {
            float v = b[j];
            c0[j] += a0 * v;
            c1[j] += a1 * v;
            c2[j] += a2 * v;
            c3[j] += a3 * v;
        }
    }

    private static void accumulate(float[] c, float a, float[] b) {
        for (int j = 0; j < BLOCK_N; j++) c[j] += a * b[j];
    }

    /** C[i][j0 .. j0+count) = alpha * acc + beta * C (C is not read when beta is 0, so NaN there does not leak in). */
    private void writeRow(int i, int j0, float[] acc, int count) {
        long at = task.cOffset() + (long) i * task.ldc() + j0;
        float alpha = task.alpha(), beta = task.beta();
        float[] out = new float[count];
        if (beta != 0f) readRow(c, at, out, 0, count);
        for (int j = 0; j < count; j++) out[j] = alpha * acc[j] + (beta != 0f ? beta * out[j] : 0f);
        writeRow(c, at, out, count);
    }

    /** Elements {@code [offset, offset + count)} of a float-valued array, as float32, into {@code dst[dstIndex..]}. */
    static void readRow(DeviceArray src, long offset, float[] dst, int dstIndex, int count) {
        MemorySegment s = src.segment();
        switch (src) {
            case FloatArray f -> MemorySegment.copy(s, ValueLayout.JAVA_FLOAT_UNALIGNED, offset * 4, dst, dstIndex, count);
            case HalfArray h -> {
                short[] bits = new short[count];
                MemorySegment.copy(s, ValueLayout.JAVA_SHORT_UNALIGNED, offset * 2, bits, 0, count);
                for (int j = 0; j < count; j++) dst[dstIndex + j] = Float.float16ToFloat(bits[j]);
            }
            case BFloat16Array bf -> {
                short[] bits = new short[count];
                MemorySegment.copy(s, ValueLayout.JAVA_SHORT_UNALIGNED, offset * 2, bits, 0, count);
                for (int j = 0; j < count; j++) dst[dstIndex + j] = Float.intBitsToFloat(bits[j] << 16);
            }
            default -> throw new IllegalArgumentException("not a float-valued array: " + src.elementType());
        }
    }

    /** {@code values[0..count)} into elements {@code [offset, offset + count)}, rounded to the array's storage. */
    static void writeRow(DeviceArray dst, long offset, float[] values, int count) {
        MemorySegment s = dst.segment();
        switch (dst) {
            case FloatArray f -> MemorySegment.copy(values, 0, s, ValueLayout.JAVA_FLOAT_UNALIGNED, offset * 4, count);
            case HalfArray h -> {
                short[] bits = new short[count];
                for (int j = 0; j < count; j++) bits[j] = Float.floatToFloat16(values[j]);
                MemorySegment.copy(bits, 0, s, ValueLayout.JAVA_SHORT_UNALIGNED, offset * 2, count);
            }
            case BFloat16Array bf -> {
                short[] bits = new short[count];
                for (int j = 0; j < count; j++) bits[j] = BFloat16Array.toBits(values[j]);
                MemorySegment.copy(bits, 0, s, ValueLayout.JAVA_SHORT_UNALIGNED, offset * 2, count);
            }
            default -> throw new IllegalArgumentException("not a float-valued array: " + dst.elementType());
        }
    }

    @Override
    public String toString() { return "gemm " + task.m() + "x" + task.n() + "x" + task.k(); }
}
