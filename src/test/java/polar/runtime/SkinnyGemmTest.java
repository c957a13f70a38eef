package polar.runtime;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.GemmTask;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.SkinnyGemm;
import polar.tornado.runtime.Backend;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/**
 * {@link SkinnyGemm} on every backend usable here against float64 and against the backend's own
 * GEMM path, on fresh random inputs: m in {1, 2, 3, 7, 16}, A in float16 and float32, k an odd
 * multiple of 8 (one or several steps of the group), n a multiple of 8 or not, offsets and padded
 * leading dimensions, {@code beta = 0} over a NaN-poisoned C and {@code beta != 0} (the residual
 * accumulate). Replay a failure with {@code -Dpolar.seed=S}.
 */
class SkinnyGemmTest {
    private static final int[] ROWS_OF_A = {1, 2, 3, 7, 16};

    static List<String> backends() {
        return Backends.available();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void matchesFloat64AndTheGemmPath(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        try (Backend backend = Backends.open(name)) {
            for (int m : ROWS_OF_A) {
                for (ElementType<?> aType : List.of(ElementType.F16, ElementType.F32)) {
                    int k = 8 * (2 * random.nextInt(m == 16 ? 40 : 170) + 1);         // up to 2712: several steps of 1024
                    int n = 8 * (2 * random.nextInt(12) + 1) + (random.nextBoolean() ? 0 : 1 + random.nextInt(7));
                    check(backend, random, m, n, k, aType, name + " m=" + m + " n=" + n + " k=" + k + " A " + aType + " seed=" + seed);
                }
            }
        }
    }

    /** A and C in float16 (a router's low-rank layer): the float32 sums rounded once, so within float16 rounding of float64. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void halfOutputMatchesFloat64(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        try (Backend backend = Backends.open(name)) {
            for (int m : ROWS_OF_A) {
                int k = 8 * (2 * random.nextInt(m == 16 ? 40 : 170) + 1);
                int n = 8 * (2 * random.nextInt(12) + 1) + (random.nextBoolean() ? 0 : 1 + random.nextInt(7));
                int lda = k + 8 * random.nextInt(3), ldc = n + random.nextInt(5), cOffset = random.nextInt(9);
                HalfArray a = Accuracy.randomHalfs(random, m * lda);
                HalfArray w = Accuracy.randomHalfs(random, n * k);
                HalfArray c = Accuracy.randomHalfs(random, cOffset + m * ldc);
                Buffer<HalfArray> ab = backend.upload(a, "A"), wb = backend.upload(w, "W"), cb = backend.upload(c, "C");
                float alpha = 0.5f + random.nextFloat(), beta = m % 2 == 0 ? 0f : 0.25f + 0.5f * random.nextFloat();
                if (beta == 0f) backend.write(cb, Accuracy.poison(ElementType.F16, cOffset + m * ldc)); // not read
                TaskGraph g = new TaskGraph("skinny-half");
                g.add(SkinnyGemm.launch(new GemmTask(ab, 0, lda, wb, 0, k, cb, cOffset, ldc, m, n, k, alpha, beta)));
                backend.compile(g).run();
                backend.synchronize();
                double[] expected = reference(a, 0, lda, w, 0, k, beta == 0f ? null : toFloats(c), cOffset, ldc, m, n, k, alpha, beta);
                Accuracy.assertClose(expected, block(Accuracy.values(backend.read(cb)), cOffset, ldc, m, n), Accuracy.F16,
                        name + " float16 C m=" + m + " n=" + n + " k=" + k + " beta=" + beta + " seed=" + seed);
                for (Buffer<?> b : List.of(ab, wb, cb)) backend.free(b);
            }
        }
    }

    private static FloatArray toFloats(HalfArray h) {
        FloatArray f = new FloatArray(h.getSize());
        for (int i = 0; i < h.getSize(); i++) f.set(i, h.get(i));
        return f;
    }

    private static void check(Backend backend, Random random, int m, int n, int k, ElementType<?> aType, String what) {
        int lda = k + 8 * random.nextInt(3), ldw = k + 8 * random.nextInt(3), ldc = n + random.nextInt(5);
        int aOffset = 8 * random.nextInt(3), wOffset = 8 * random.nextInt(3), cOffset = random.nextInt(9);
        DeviceArray a = aType == ElementType.F16 ? Accuracy.randomHalfs(random, aOffset + m * lda) : Accuracy.randomFloats(random, aOffset + m * lda);
        HalfArray w = Accuracy.randomHalfs(random, wOffset + n * ldw);
        int cLength = cOffset + m * ldc;
        Buffer<?> ab = backend.upload(a, "A");
        Buffer<HalfArray> wb = backend.upload(w, "W");
        Buffer<FloatArray> skinny = backend.allocate(ElementType.F32, cLength, "C skinny");
        Buffer<FloatArray> library = backend.allocate(ElementType.F32, cLength, "C gemm");
        try {
            // beta = 0 over NaN: C must not be read, and nothing outside the m x n block written.
            backend.write(skinny, Accuracy.poison(ElementType.F32, cLength));
            backend.write(library, Accuracy.poison(ElementType.F32, cLength));
            float alpha = 0.5f + random.nextFloat();
            run(backend, ab, aOffset, lda, wb, wOffset, ldw, skinny, library, cOffset, ldc, m, n, k, alpha, 0f);
            double[] expected = reference(a, aOffset, lda, w, wOffset, ldw, null, cOffset, ldc, m, n, k, alpha, 0f);
            double[] out = Accuracy.values(backend.read(skinny));
            Accuracy.assertClose(expected, block(out, cOffset, ldc, m, n), Accuracy.F32, what + " beta=0 vs float64");
            if (gemmPathTakes(backend, aType)) {
                Accuracy.assertClose(block(Accuracy.values(backend.read(library)), cOffset, ldc, m, n), block(out, cOffset, ldc, m, n), Accuracy.F32,
                        what + " beta=0 vs the backend's gemm");
            }
            for (int i = 0; i < cLength; i++) {
                if (i < cOffset || (i - cOffset) % ldc >= n) assertTrue(Double.isNaN(out[i]), what + ": element " + i + " outside C was written");
            }

            // beta != 0 adds into C (the residual stream).
            FloatArray c = Accuracy.randomFloats(random, cLength);
            backend.write(skinny, c);
            backend.write(library, c);
            float beta = 0.25f + 0.5f * random.nextFloat(); // away from 1, so C scaled by 1 instead of beta fails
            run(backend, ab, aOffset, lda, wb, wOffset, ldw, skinny, library, cOffset, ldc, m, n, k, alpha, beta);
            expected = reference(a, aOffset, lda, w, wOffset, ldw, c, cOffset, ldc, m, n, k, alpha, beta);
            out = block(Accuracy.values(backend.read(skinny)), cOffset, ldc, m, n);
            Accuracy.assertClose(expected, out, Accuracy.F32, what + " beta=" + beta + " vs float64");
            if (gemmPathTakes(backend, aType)) {
                Accuracy.assertClose(block(Accuracy.values(backend.read(library)), cOffset, ldc, m, n), out, Accuracy.F32, what + " beta=" + beta + " vs the backend's gemm");
            }
        } finally {
            for (Buffer<?> b : List.of(ab, wb, skinny, library)) backend.free(b);
        }
    }

    /**
     * Whether the backend's own GemmTask lowering takes this product: cuBLAS needs A and W of one
     * type, so on CUDA a float32 A times float16 W is SkinnyGemm's alone (checked against float64 only).
     */
    private static boolean gemmPathTakes(Backend backend, ElementType<?> aType) {
        return !backend.name().equals("cuda") || aType == ElementType.F16;
    }

    /** The same product through {@link SkinnyGemm} into {@code skinny} and, where it takes it, through the backend's GemmTask lowering into {@code library}. */
    private static void run(Backend backend, Buffer<?> a, int aOffset, int lda, Buffer<HalfArray> w, int wOffset, int ldw,
                            Buffer<FloatArray> skinny, Buffer<FloatArray> library, int cOffset, int ldc, int m, int n, int k, float alpha, float beta) {
        GemmTask viaKernel = new GemmTask(a, aOffset, lda, w, wOffset, ldw, skinny, cOffset, ldc, m, n, k, alpha, beta);
        assertTrue(SkinnyGemm.supports(viaKernel, SkinnyGemm.MAX_M), viaKernel.toString());
        TaskGraph g = new TaskGraph("skinny");
        g.add(SkinnyGemm.launch(viaKernel));
        if (gemmPathTakes(backend, a.type())) g.add(new GemmTask(a, aOffset, lda, w, wOffset, ldw, library, cOffset, ldc, m, n, k, alpha, beta));
        backend.compile(g).run();
        backend.synchronize();
    }

    /** The m x n block of C at {@code offset} with row stride {@code ld}, row-major. */
    private static double[] block(double[] c, int offset, int ld, int m, int n) {
        double[] r = new double[m * n];
        for (int i = 0; i < m; i++) System.arraycopy(c, offset + i * ld, r, i * n, n);
        return r;
    }

    /** alpha A W^T + beta C in float64 over the stored inputs. */
    private static double[] reference(DeviceArray a, int aOffset, int lda, HalfArray w, int wOffset, int ldw, FloatArray c, int cOffset, int ldc,
                                      int m, int n, int k, float alpha, float beta) {
        double[] av = Accuracy.values(a);
        double[] r = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0;
                for (int p = 0; p < k; p++) sum += av[aOffset + i * lda + p] * w.get(wOffset + j * ldw + p);
                r[i * n + j] = alpha * sum + (beta == 0 ? 0 : beta * (double) c.get(cOffset + i * ldc + j));
            }
        }
        return r;
    }

    @Test
    void refusesWhatItCannotLoadWide() {
        try (Backend backend = Backends.open("jvm")) {
            Buffer<HalfArray> a = backend.allocate(ElementType.F16, 4096, "A"), w = backend.allocate(ElementType.F16, 4096, "W");
            Buffer<FloatArray> c = backend.allocate(ElementType.F32, 4096, "C");
            assertTrue(SkinnyGemm.supports(new GemmTask(a, 8, 64, w, 0, 64, c, 3, 64, 16, 64, 64, 1f, 0f), 16));
            assertFalse(SkinnyGemm.supports(new GemmTask(a, 8, 64, w, 0, 64, c, 3, 64, 17, 64, 64, 1f, 0f), 32), "m above MAX_M");
            assertFalse(SkinnyGemm.supports(new GemmTask(a, 0, 64, w, 0, 64, c, 0, 64, 8, 64, 64, 1f, 0f), 4), "m above the threshold");
            assertFalse(SkinnyGemm.supports(new GemmTask(a, 0, 60, w, 0, 60, c, 0, 64, 4, 64, 60, 1f, 0f), 16), "k not a multiple of 8");
            assertFalse(SkinnyGemm.supports(new GemmTask(a, 4, 64, w, 0, 64, c, 0, 64, 4, 64, 64, 1f, 0f), 16), "A offset not a multiple of 8");
            assertFalse(SkinnyGemm.supports(new GemmTask(a, 0, 64, w, 0, 72 - 4, c, 0, 64, 4, 50, 64, 1f, 0f), 16), "W rows not 16-byte aligned");
            Buffer<HalfArray> c16 = backend.allocate(ElementType.F16, 4096, "C16");
            Buffer<FloatArray> a32 = backend.allocate(ElementType.F32, 4096, "A32");
            assertTrue(SkinnyGemm.supports(new GemmTask(a, 0, 64, w, 0, 64, c16, 0, 64, 4, 64, 64, 1f, 0f), 16), "A and C in float16");
            GemmTask halfOut = new GemmTask(a32, 0, 64, w, 0, 64, c16, 0, 64, 4, 64, 64, 1f, 0f);
            assertFalse(SkinnyGemm.supports(halfOut, 16), "C in float16 with A in float32");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SkinnyGemm.launch(halfOut));
            assertTrue(e.getMessage().contains("C16"), e.getMessage());
        }
    }
}
