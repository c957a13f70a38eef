package polar.tornado.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import polar.tornado.graph.KernelRef;
import polar.tornado.types.BFloat16Array;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * The translation computes what the Java computes: each kernel of {@link SemanticsKernels} runs
 * in this JVM and, translated to OpenCL C, on the OpenCL device (PoCL in CI), on the same fresh
 * random inputs (edge cases included), and the outputs are compared element by element: exactly
 * where IEEE arithmetic is exact, within a few ulps for library functions.
 */
class SemanticsTest {
    private static final String[] KERNELS = {"integerOps", "floatOps", "storage", "warps"};
    private static OpenClRunner cl;
    private static final Random RANDOM = new Random();

    @BeforeAll
    static void build() throws Throwable {
        if (!OpenClRunner.available()) return;
        cl = new OpenClRunner();
        List<polar.tornado.graph.KernelTask> tasks = java.util.Arrays.stream(KERNELS)
                .map(k -> TestTasks.task(KernelRef.of(SemanticsKernels.class, k), Map.of())).toList();
        String code = KernelCompiler.translate(tasks, Dialect.OPENCL).getFirst().code();
        Optional<String> log = cl.build(code);
        if (log.isPresent()) fail(log.get() + "\n" + code);
    }

    @AfterAll
    static void close() throws Exception {
        if (cl != null) cl.close();
    }

    private static String entry(String kernel) {
        return KernelCompiler.entryName(KernelRef.of(SemanticsKernels.class, kernel), Map.of());
    }

    @Test
    void integerOperations() throws Throwable {
        assumeTrue(cl != null, "no OpenCL platform");
        int n = 4096;
        int[] edge = {0, 1, -1, Integer.MIN_VALUE, Integer.MAX_VALUE, 31, 32, 65535, -65536, 7};
        IntArray in = new IntArray(2 * n);
        for (int i = 0; i < 2 * n; i++) in.set(i, i < edge.length * edge.length * 2 ? edge[(i / 2 / (i % 2 == 0 ? 1 : edge.length)) % edge.length] : RANDOM.nextInt());
        IntArray expected = poisoned(n * SemanticsKernels.RESULTS), actual = poisoned(n * SemanticsKernels.RESULTS);
        KernelRef.of(SemanticsKernels.class, "integerOps").invoke(in, expected, n);
        cl.run(entry("integerOps"), new long[] {n}, null, List.of(in, actual, n));
        for (int i = 0; i < expected.getSize(); i++) {
            int item = i / SemanticsKernels.RESULTS;
            assertEquals(expected.get(i), actual.get(i), "result " + i % SemanticsKernels.RESULTS + " for a=" + in.get(2 * item) + " b=" + in.get(2 * item + 1));
        }
    }

    @Test
    void floatOperations() throws Throwable {
        assumeTrue(cl != null, "no OpenCL platform");
        int n = 4096;
        float[] edge = {0f, -0f, 1f, -1f, 0.5f, -2.5f, 3.5f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
                Float.MAX_VALUE, Float.MIN_VALUE, 3e9f, -3e9f, 1e-40f, 65504f, 70000f, 1e20f};
        FloatArray in = new FloatArray(2 * n);
        for (int i = 0; i < 2 * n; i++) {
            in.set(i, i < 2 * edge.length * edge.length ? edge[(i % 2 == 0 ? i / 2 : i / 2 / edge.length) % edge.length]
                    : (float) (RANDOM.nextGaussian() * Math.pow(10, RANDOM.nextInt(7) - 3)));
        }
        int size = n * SemanticsKernels.RESULTS;
        FloatArray exact = poisoned(new FloatArray(size)), approx = poisoned(new FloatArray(size));
        FloatArray exactCl = poisoned(new FloatArray(size)), approxCl = poisoned(new FloatArray(size));
        IntArray ints = poisoned(size), intsCl = poisoned(size);
        KernelRef.of(SemanticsKernels.class, "floatOps").invoke(in, exact, ints, approx, n);
        cl.run(entry("floatOps"), new long[] {n}, null, List.of(in, exactCl, intsCl, approxCl, n));
        for (int i = 0; i < size; i++) {
            int item = i / SemanticsKernels.RESULTS, k = i % SemanticsKernels.RESULTS;
            String where = "result " + k + " for f=" + in.get(2 * item) + " g=" + in.get(2 * item + 1);
            assertEquals(Float.floatToIntBits(exact.get(i)), Float.floatToIntBits(exactCl.get(i)), where + ": " + exact.get(i) + " vs " + exactCl.get(i));
            assertEquals(ints.get(i), intsCl.get(i), "int " + where);
            float e = approx.get(i), a = approxCl.get(i);
            if (Float.isNaN(e) || Float.isInfinite(e)) {
                assertEquals(Float.floatToIntBits(e), Float.floatToIntBits(a), "approx " + where);
            } else {
                // a few ulps of the result, or of 1 where a sum cancels (sin + cos)
                assertTrue(Math.abs(e - a) <= 1e-6f * Math.max(1f, Math.abs(e)), "approx " + where + ": " + e + " vs " + a);
            }
        }
    }

    @Test
    void halfAndBFloat16Storage() throws Throwable {
        assumeTrue(cl != null, "no OpenCL platform");
        int n = 8 * 1024;
        float[] edge = {0f, -0f, 1f, 65504f, 65520f, 70000f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 6e-8f, 3e-8f, 1e-5f,
                1.0009765625f, 1.00048828125f, 1.00146484375f, 3.0078125f, 1.00390625f, 1.01171875f, Float.MIN_VALUE, 1e30f, -2.5e-6f};
        FloatArray src = new FloatArray(n), srcCl = new FloatArray(n);
        for (int i = 0; i < n; i++) {
            float v = i < edge.length ? edge[i] : i % 3 == 0 ? Float.intBitsToFloat(RANDOM.nextInt() & 0x7fffffff | (RANDOM.nextBoolean() ? 0x80000000 : 0))
                    : (float) RANDOM.nextGaussian() * 100f;
            if (Float.isNaN(v)) v = 1f; // float16 NaN payloads are not specified
            src.set(i, v);
            srcCl.set(i, v);
        }
        HalfArray h = poisonedHalf(n), hCl = poisonedHalf(n), wide = poisonedHalf(n), wideCl = poisonedHalf(n);
        BFloat16Array b = new BFloat16Array(n), bCl = new BFloat16Array(n);
        FloatArray out = poisoned(new FloatArray(4 * n)), outCl = poisoned(new FloatArray(4 * n));
        IntArray bits = poisoned(n), bitsCl = poisoned(n);
        KernelRef.of(SemanticsKernels.class, "storage").invoke(src, h, b, wide, out, bits, n);
        cl.run(entry("storage"), new long[] {n / 8}, null, List.of(srcCl, hCl, bCl, wideCl, outCl, bitsCl, n));
        for (int i = 0; i < n; i++) {
            String where = "element " + i + " = " + srcCl.get(i);
            assertEquals(h.getBits(i), hCl.getBits(i), "half " + where);
            assertEquals(b.segment().getAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, i),
                    bCl.segment().getAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, i), "bfloat16 " + where);
            assertEquals(wide.getBits(i), wideCl.getBits(i), "store8 " + where);
            assertEquals(Float.floatToIntBits(src.get(i)), Float.floatToIntBits(srcCl.get(i)), "store4 " + where);
            assertEquals(bits.get(i), bitsCl.get(i), "bits " + where);
        }
        for (int i = 0; i < 4 * n; i++) {
            assertEquals(Float.floatToIntBits(out.get(i)), Float.floatToIntBits(outCl.get(i)), "out " + i + ": " + out.get(i) + " vs " + outCl.get(i));
        }
    }

    @Test
    void warpsBarriersLocalMemoryAndAtomics() throws Throwable {
        assumeTrue(cl != null, "no OpenCL platform");
        int groups = 3, local = 64, n = groups * local;
        FloatArray in = new FloatArray(n);
        for (int i = 0; i < n; i++) in.set(i, RANDOM.nextInt(2001) - 1000); // integers: sums are exact in any order
        int size = n * SemanticsKernels.WARP_RESULTS;
        FloatArray out = poisoned(new FloatArray(size)), outCl = poisoned(new FloatArray(size));
        IntArray counts = new IntArray(4), countsCl = new IntArray(4);
        FloatArray sums = new FloatArray(groups), sumsCl = new FloatArray(groups);
        JvmGroups.run(KernelRef.of(SemanticsKernels.class, "warps"), groups, local, in, out, counts, sums);
        cl.run(entry("warps"), new long[] {n}, new long[] {local}, List.of(in, outCl, countsCl, sumsCl));
        for (int i = 0; i < size; i++) {
            assertEquals(out.get(i), outCl.get(i), "work-item " + i / SemanticsKernels.WARP_RESULTS + " result " + i % SemanticsKernels.WARP_RESULTS);
        }
        for (int i = 0; i < n; i++) assertEquals(0f, outCl.get(i * SemanticsKernels.WARP_RESULTS + 12), "local histogram, work-item " + i);
        for (int i = 0; i < 4; i++) assertEquals(n / 4, countsCl.get(i));
        for (int g = 0; g < groups; g++) assertEquals(sums.get(g), sumsCl.get(g));
    }

    private static IntArray poisoned(int size) {
        IntArray a = new IntArray(size);
        a.fill(0xDEADBEEF);
        return a;
    }

    private static FloatArray poisoned(FloatArray a) {
        a.fill(Float.NaN);
        return a;
    }

    private static HalfArray poisonedHalf(int size) {
        HalfArray a = new HalfArray(size);
        a.fill(Float.NaN);
        return a;
    }
}
