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
        IntStream.range(0, blocks).parallel().forEach(block -> multiplyBlock(block, aRows));
    }

    private void multiplyBlock(int block, float[] aRows) {
        int m = task.m(), k = task.k();
        int j0 = block * BLOCK_N;
        int nb = Math.min(BLOCK_N, task.n() - j0);
        float[] bt = new float[k * BLOCK_N]; // bt[p * BLOCK_N + jj] = B[j0 + jj][p]; zero beyond nb
        float[] row = new float[k];
        for (int jj = 0; jj < nb; jj++) {
            readRow(b, task.bOffset() + (long) (j0 + jj) * task.ldb(), row, 0, k);
            for (int p = 0; p < k; p++) bt[p * BLOCK_N + jj] = row[p];
        }
        float[] c0 = new float[BLOCK_N], c1 = new float[BLOCK_N], c2 = new float[BLOCK_N], c3 = new float[BLOCK_N];
        int i = 0;
        for (; i + 4 <= m; i += 4) { // four rows of A share each loaded row of the block
            Arrays.fill(c0, 0f);
            Arrays.fill(c1, 0f);
            Arrays.fill(c2, 0f);
            Arrays.fill(c3, 0f);
            int r0 = i * k, r1 = r0 + k, r2 = r1 + k, r3 = r2 + k;
            for (int p = 0; p < k; p++) {
                float a0 = aRows[r0 + p], a1 = aRows[r1 + p], a2 = aRows[r2 + p], a3 = aRows[r3 + p];
                int o = p * BLOCK_N;
                for (int jj = 0; jj < BLOCK_N; jj++) {
                    float bv = bt[o + jj];
                    c0[jj] += a0 * bv;
                    c1[jj] += a1 * bv;
                    c2[jj] += a2 * bv;
                    c3[jj] += a3 * bv;
                }
            }
            writeRow(i, j0, c0, nb);
            writeRow(i + 1, j0, c1, nb);
            writeRow(i + 2, j0, c2, nb);
            writeRow(i + 3, j0, c3, nb);
        }
        for (; i < m; i++) {
            Arrays.fill(c0, 0f);
            int r0 = i * k;
            for (int p = 0; p < k; p++) {
                float a0 = aRows[r0 + p];
                int o = p * BLOCK_N;
                for (int jj = 0; jj < BLOCK_N; jj++) c0[jj] += a0 * bt[o + jj];
            }
            writeRow(i, j0, c0, nb);
        }
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
