package polar.runtime.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.GemmTask;
import polar.tornado.graph.TaskGraph;
import polar.tornado.types.BFloat16Array;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * GemmTask on OpenCL (the Java {@code Gemm} kernels) against float64 on fresh random inputs:
 * float32 and 16-bit storage for A, B and C, shapes that are not multiples of the tile,
 * offsets and padded leading dimensions, beta = 0 over a NaN-poisoned C and beta != 0.
 */
class OpenClGemmTest extends OpenClTestBase {

    @Test
    void f32TimesF32() { check(ElementType.F32, ElementType.F32, ElementType.F32, 1e-5); }

    @Test
    void f32TimesF16() { check(ElementType.F32, ElementType.F16, ElementType.F32, 1e-5); }

    @Test
    void f32TimesBf16() { check(ElementType.F32, ElementType.BF16, ElementType.F32, 1e-5); }

    /** A and C in float16 go through float32 copies (widen, GEMM, narrow). */
    @Test
    void f16TimesF16IntoF16() { check(ElementType.F16, ElementType.F16, ElementType.F16, 1e-3); }

    @Test
    void bf16TimesF32IntoBf16() { check(ElementType.BF16, ElementType.F32, ElementType.BF16, 1e-2); }

    /**
     * Runs C = alpha A B^T + beta C twice (beta = 0 over NaN, then beta != 0) and compares with
     * float64 over the stored inputs. The tolerance covers C's storage rounding (inputs are exact).
     */
    private static void check(ElementType<?> aType, ElementType<?> bType, ElementType<?> cType, double tolerance) {
        Random random = new Random();
        int m = 1 + random.nextInt(90), n = 65 + random.nextInt(100), k = 17 + random.nextInt(80);
        int lda = k + random.nextInt(5), ldb = k + random.nextInt(5), ldc = n + random.nextInt(5);
        int aOffset = random.nextInt(9), bOffset = random.nextInt(9), cOffset = random.nextInt(9);
        DeviceArray a = randomArray(aType, aOffset + (long) m * lda, random);
        DeviceArray b = randomArray(bType, bOffset + (long) n * ldb, random);
        DeviceArray c = randomArray(cType, cOffset + (long) m * ldc, random);
        fill(c, Float.NaN); // beta = 0 must not read C
        Buffer<?> ab = backend.upload(a, "A"), bb = backend.upload(b, "B"), cb = backend.upload(c, "C");
        String shape = aType + " x " + bType + " -> " + cType + " m=" + m + " n=" + n + " k=" + k;

        float alpha = 0.5f + random.nextFloat();
        TaskGraph g = new TaskGraph("gemm");
        g.add(new GemmTask(ab, aOffset, lda, bb, bOffset, ldb, cb, cOffset, ldc, m, n, k, alpha, 0f));
        backend.compile(g).run();
        DeviceArray first = backend.read(cb);
        assertClose(reference(a, aOffset, lda, b, bOffset, ldb, c, cOffset, ldc, m, n, k, alpha, 0f), first, cOffset, ldc, m, n, tolerance, shape + " beta=0");
        for (int i = 0; i < first.getSize(); i++) {
            if (i < cOffset || (i - cOffset) % ldc >= n) assertTrue(Double.isNaN(get(first, i)), "element " + i + " outside C was written");
        }

        // beta != 0 reads C: start from finite values.
        c = randomArray(cType, c.getSize(), random);
        backend.write(cb, c);
        float beta = 0.25f + random.nextFloat();
        TaskGraph h = new TaskGraph("gemm-beta");
        h.add(new GemmTask(ab, aOffset, lda, bb, bOffset, ldb, cb, cOffset, ldc, m, n, k, alpha, beta));
        backend.compile(h).run();
        assertClose(reference(a, aOffset, lda, b, bOffset, ldb, c, cOffset, ldc, m, n, k, alpha, beta), backend.read(cb), cOffset, ldc, m, n, tolerance, shape + " beta=" + beta);
        backend.free(ab);
        backend.free(bb);
        backend.free(cb);
    }

    @Test
    void rejectsUnsupportedTypes() {
        Buffer<FloatArray> a = backend.allocate(ElementType.F32, 4, "A");
        Buffer<IntArray> c = backend.allocate(ElementType.I32, 4, "intC");
        TaskGraph g = new TaskGraph("gemm");
        g.gemm(a, 0, a, 0, c, 0, 2, 2, 2, 1f, 0f);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> backend.compile(g));
        assertTrue(e.getMessage().contains("intC"), e.getMessage());
        backend.free(a);
        backend.free(c);
    }

    private static DeviceArray randomArray(ElementType<?> type, long length, Random random) {
        DeviceArray array = type.wrap(Arena.ofAuto().allocate(length * type.bytes(), 64));
        for (int i = 0; i < length; i++) set(array, i, random.nextFloat() * 2 - 1);
        return array;
    }

    private static void fill(DeviceArray array, float value) {
        for (int i = 0; i < array.getSize(); i++) set(array, i, value);
    }

    private static void set(DeviceArray array, int i, float v) {
        switch (array) {
            case FloatArray f -> f.set(i, v);
            case HalfArray h -> h.set(i, v);
            case BFloat16Array h -> h.set(i, v);
            default -> throw new IllegalArgumentException(array.elementType().toString());
        }
    }

    private static double get(DeviceArray array, long i) {
        return switch (array) {
            case FloatArray f -> f.get((int) i);
            case HalfArray h -> h.get((int) i);
            case BFloat16Array h -> h.get((int) i);
            default -> throw new IllegalArgumentException(array.elementType().toString());
        };
    }

    /** C = alpha A B^T + beta C in float64 over the stored (rounded) inputs. */
    private static double[] reference(DeviceArray a, int aOffset, int lda, DeviceArray b, int bOffset, int ldb, DeviceArray c, int cOffset, int ldc,
                                      int m, int n, int k, float alpha, float beta) {
        double[] r = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0;
                for (int p = 0; p < k; p++) sum += get(a, aOffset + (long) i * lda + p) * get(b, bOffset + (long) j * ldb + p);
                r[i * n + j] = alpha * sum + (beta == 0 ? 0 : beta * get(c, cOffset + (long) i * ldc + j));
            }
        }
        return r;
    }

    private static void assertClose(double[] expected, DeviceArray actual, int cOffset, int ldc, int m, int n, double tolerance, String what) {
        double err = 0, norm = 0;
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double v = get(actual, cOffset + (long) i * ldc + j);
                assertTrue(Double.isFinite(v), what + ": C[" + i + "][" + j + "] = " + v);
                double d = v - expected[i * n + j];
                err += d * d;
                norm += expected[i * n + j] * expected[i * n + j];
            }
        }
        double relative = Math.sqrt(err / norm);
        assertTrue(relative <= tolerance, what + ": relative error " + relative + " > " + tolerance);
        assertEquals(m * n, expected.length);
    }
}
