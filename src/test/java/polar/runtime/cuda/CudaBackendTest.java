package polar.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import polar.runtime.Accuracy;
import polar.tornado.graph.Arg;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.GemmTask;
import polar.tornado.graph.Grid;
import polar.tornado.graph.KernelRef;
import polar.tornado.graph.TaskGraph;
import polar.tornado.runtime.Executable;
import polar.tornado.types.BFloat16Array;
import polar.tornado.types.ByteArray;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * The CUDA backend on a real device: buffers, launches through the launch ABI, cuBLAS GEMM,
 * copies, CUDA graphs, and the errors. Skipped where there is no CUDA driver or device.
 * Kernels here are hand-written CUDA C ({@link HandWrittenKernels}); translated Java kernels are
 * checked by {@code TranslatedKernelsTest}.
 */
class CudaBackendTest {
    private static CudaBackend cuda;
    private final long seed = Accuracy.seed();
    private final Random random = new Random(seed);

    @BeforeAll
    static void open() {
        assumeTrue(CudaBackend.isAvailable(), () -> "no CUDA device: " + CudaDriver.unavailableReason());
        cuda = new CudaBackend(0);
        cuda.defineKernel(KernelRef.of(HandWrittenKernels.class, "saxpy"), HandWrittenKernels.SAXPY);
        cuda.defineKernel(KernelRef.of(HandWrittenKernels.class, "scaleHalf"), HandWrittenKernels.SCALE_HALF);
        cuda.defineKernel(KernelRef.of(HandWrittenKernels.class, "addBias"), HandWrittenKernels.ADD_BIAS);
        cuda.defineKernel(KernelRef.of(HandWrittenKernels.class, "rowSums"), HandWrittenKernels.ROW_SUMS);
        cuda.defineKernel(KernelRef.of(HandWrittenKernels.class, "addStep"), HandWrittenKernels.ADD_STEP);
        cuda.defineKernel(KernelRef.of(HandWrittenKernels.class, "halfHeader"), HandWrittenKernels.HALF_HEADER);
        cuda.defineKernel(KernelRef.of(HandWrittenKernels.class, "broken"), HandWrittenKernels.BROKEN);
    }

    @AfterAll
    static void close() {
        if (cuda != null) cuda.close();
    }

    // ---- buffers

    @Test
    void deviceNameNamesTheArchitecture() {
        assertTrue(cuda.deviceName().matches(".+ \\(sm_\\d+, \\d+ SMs\\)"), cuda.deviceName());
        long[] memory = cuda.memoryInfo();
        assertTrue(memory[1] > 0 && memory[0] > 0 && memory[0] <= memory[1], memory[0] + " free of " + memory[1]);
    }

    @Test
    void everyElementTypeRoundTrips() {
        FloatArray f = randomFloats(1001);
        HalfArray h = new HalfArray(1001);
        BFloat16Array bf = new BFloat16Array(1001);
        IntArray i = new IntArray(1001);
        ByteArray b = new ByteArray(1001);
        for (int k = 0; k < 1001; k++) {
            h.set(k, f.get(k));
            bf.set(k, f.get(k));
            i.set(k, random.nextInt());
            b.set(k, (byte) random.nextInt());
        }
        for (DeviceArray host : new DeviceArray[] {f, h, bf, i, b}) {
            Buffer<?> buffer = cuda.upload(host, "round-trip " + host.elementType());
            assertBytesEqual(host.segment(), cuda.read(buffer).segment(), host.elementType().toString());
            cuda.free(buffer);
        }
    }

    @Test
    void largeAndPartialTransfersLandWhereTheyShould() {
        int n = 5_000_000; // 20 MB: past the small-write ring and several read chunks
        FloatArray host = randomFloats(n);
        Buffer<FloatArray> buffer = cuda.upload(host, "large");
        assertBytesEqual(host.segment(), cuda.read(buffer).segment(), "large upload");

        FloatArray patch = randomFloats(777);
        cuda.write(buffer, 123_456, patch.segment(), patch.getSize());
        FloatArray back = new FloatArray(777);
        cuda.read(buffer, 123_456, back.segment(), 777);
        assertBytesEqual(patch.segment(), back.segment(), "patch");
        FloatArray before = new FloatArray(1);
        cuda.read(buffer, 123_455, before.segment(), 1);
        assertEquals(host.get(123_455), before.get(0), "element before the patch");

        float[] heap = {1.5f, -2.25f, 3f};
        cuda.write(buffer, 0, MemorySegment.ofArray(heap), 3);
        FloatArray first = new FloatArray(3);
        cuda.read(buffer, 0, first.segment(), 3);
        assertArrayEquals(heap, first.toArray(), "write from a heap segment");
        cuda.free(buffer);
    }

    @Test
    void newBuffersAreZeroFilled() {
        Buffer<IntArray> zeros = cuda.allocate(ElementType.I32, 100_000, "zeros");
        int[] values = cuda.read(zeros).toArray();
        for (int k = 0; k < values.length; k++) assertEquals(0, values[k], "element " + k);
        cuda.free(zeros);
    }

    @Test
    void freedOrForeignBuffersAreRefused() {
        Buffer<FloatArray> buffer = cuda.allocate(ElementType.F32, 16, "soon freed");
        cuda.free(buffer);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cuda.read(buffer));
        assertTrue(e.getMessage().contains("soon freed") && e.getMessage().contains("freed"), e.getMessage());
        Buffer<FloatArray> outOfRange = cuda.allocate(ElementType.F32, 16, "small");
        e = assertThrows(IllegalArgumentException.class, () -> cuda.write(outOfRange, 10, new FloatArray(16).segment(), 16));
        assertTrue(e.getMessage().contains("small"), e.getMessage());
        cuda.free(outOfRange);
    }

    // ---- kernels

    @Test
    void handWrittenKernelMatchesFloat64() {
        int n = 1_000_003;
        FloatArray x = randomFloats(n), y = randomFloats(n);
        float a = random.nextFloat() * 4 - 2;
        double[] expected = new double[n];
        for (int k = 0; k < n; k++) expected[k] = (double) a * x.get(k) + y.get(k);
        Buffer<FloatArray> dx = cuda.upload(x, "x"), dy = cuda.upload(y, "y");
        TaskGraph g = new TaskGraph("saxpy");
        g.parallel(HandWrittenKernels::saxpy, Grid.of(n), dx, dy, Arg.f32(a), Arg.i32(n));
        cuda.compile(g).run();
        Accuracy.assertClose(expected, Accuracy.values(cuda.read(dy)), 1e-6, "saxpy seed=" + seed);
        cuda.free(dx);
        cuda.free(dy);
    }

    @Test
    void specialisedConstantIsLeftOutOfTheLaunchArguments() {
        int n = 50_000;
        HalfArray in = new HalfArray(n);
        for (int k = 0; k < n; k++) in.set(k, random.nextFloat() * 20 - 10);
        float scale = 0.37f;
        Buffer<HalfArray> din = cuda.upload(in, "in");
        Buffer<HalfArray> dout = poisoned(ElementType.F16, n, "out");
        TaskGraph g = new TaskGraph("scale");
        g.parallel(HandWrittenKernels::scaleHalf, Grid.of(n), din, Arg.constant(99), dout, Arg.f32(scale), Arg.i32(n));
        cuda.compile(g).run();
        HalfArray out = cuda.read(dout);
        for (int k = 0; k < n; k++) {
            // float32 product rounded to nearest-even float16, exactly as HalfArray.set does
            assertEquals(Float.floatToFloat16(scale * in.get(k)), out.getBits(k), "element " + k);
        }
        cuda.free(din);
        cuda.free(dout);
    }

    @Test
    void twoDimensionalParallelKernelCoversEveryElement() {
        int rows = 1037, cols = 1000; // more blocks than one wave: the grid-stride loops cover the rest
        FloatArray in = randomFloats(rows * cols), bias = randomFloats(cols);
        Buffer<FloatArray> din = cuda.upload(in, "in"), dbias = cuda.upload(bias, "bias");
        Buffer<FloatArray> dout = poisoned(ElementType.F32, rows * cols, "out");
        TaskGraph g = new TaskGraph("bias");
        g.parallel(HandWrittenKernels::addBias, Grid.of(cols, rows), din, dbias, dout, Arg.i32(rows), Arg.i32(cols));
        cuda.compile(g).run();
        float[] out = cuda.read(dout).toArray();
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) assertEquals(in.get(r * cols + c) + bias.get(c), out[r * cols + c], "element " + r + "," + c);
        }
        for (Buffer<?> b : new Buffer<?>[] {din, dbias, dout}) cuda.free(b);
    }

    @Test
    void kernelContextKernelWithLocalMemoryAndBarriers() {
        int rows = 513;
        FloatArray in = randomFloats(rows * 256);
        double[] expected = new double[rows];
        for (int r = 0; r < rows; r++) for (int c = 0; c < 256; c++) expected[r] += in.get(r * 256 + c);
        Buffer<FloatArray> din = cuda.upload(in, "in");
        Buffer<FloatArray> sums = poisoned(ElementType.F32, rows, "sums");
        TaskGraph g = new TaskGraph("row sums");
        g.kernel(HandWrittenKernels::rowSums, Grid.groups(rows, 256), din, sums);
        cuda.compile(g).run();
        Accuracy.assertClose(expected, Accuracy.values(cuda.read(sums)), Accuracy.F32, "row sums seed=" + seed);
        cuda.free(din);
        cuda.free(sums);
    }

    @Test
    void nvrtcFindsTheCudaHalfHeader() {
        int n = 4099;
        HalfArray in = new HalfArray(n);
        for (int k = 0; k < n; k++) in.set(k, random.nextFloat() - 0.5f);
        Buffer<HalfArray> din = cuda.upload(in, "in");
        Buffer<HalfArray> dout = poisoned(ElementType.F16, n, "out");
        TaskGraph g = new TaskGraph("cuda_fp16.h");
        g.parallel(HandWrittenKernels::halfHeader, Grid.of(n), din, dout);
        cuda.compile(g).run();
        HalfArray out = cuda.read(dout);
        for (int k = 0; k < n; k++) assertEquals(in.get(k) * 2f, out.get(k), "element " + k);
        cuda.free(din);
        cuda.free(dout);
    }

    // ---- library tasks

    /**
     * fp16/bf16 inputs accumulate in float32: against float64 over the same rounded inputs, the error is the output's rounding.
     * Through cublasGemmEx, through the tuned choice (which times candidates at compile without touching C), and
     * through cuBLASLt's fastest candidate.
     */
    @ParameterizedTest(name = "{0} x {0} -> {1}, {3}")
    @CsvSource({"f32, f32, 1e-5, TUNED", "f16, f32, 1e-4, TUNED", "f16, f16, 1e-3, TUNED", "bf16, f32, 1e-4, TUNED", "bf16, bf16, 1e-2, TUNED",
            "f32, f32, 1e-5, GEMMEX", "f16, f32, 1e-4, GEMMEX", "f16, f32, 1e-4, LT", "f16, f16, 1e-3, LT", "bf16, f32, 1e-4, LT"})
    void gemmMatchesFloat64(String inputName, String outputName, double tolerance, CudaBackend.GemmMode mode) {
        cuda.gemmMode(mode);
        try {
            gemmCase(inputName, outputName, tolerance, mode);
        } finally {
            cuda.gemmMode(CudaBackend.GemmMode.TUNED);
        }
    }

    private void gemmCase(String inputName, String outputName, double tolerance, CudaBackend.GemmMode mode) {
        ElementType<?> inType = type(inputName), outType = type(outputName);
        int m = 67, n = 129, k = 96, lda = k + 8, ldb = k + 16, ldc = n + 3;
        long aOff = 5, bOff = 7, cOff = 11;
        float alpha = 0.75f, beta = 0.5f;
        DeviceArray a = randomArray(inType, (int) (aOff + (long) m * lda));
        DeviceArray b = randomArray(inType, (int) (bOff + (long) n * ldb));
        DeviceArray c = randomArray(outType, (int) (cOff + (long) m * ldc));
        double[] expected = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0;
                for (int p = 0; p < k; p++) sum += value(a, aOff + (long) i * lda + p) * value(b, bOff + (long) j * ldb + p);
                expected[i * n + j] = alpha * sum + beta * value(c, cOff + (long) i * ldc + j);
            }
        }
        Buffer<?> da = cuda.upload(a, "A"), db = cuda.upload(b, "B"), dc = cuda.upload(c, "C");
        TaskGraph g = new TaskGraph("gemm");
        g.add(new GemmTask(da, aOff, lda, db, bOff, ldb, dc, cOff, ldc, m, n, k, alpha, beta));
        cuda.compile(g).run();
        DeviceArray out = cuda.read(dc);
        double[] actual = new double[m * n];
        for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) actual[i * n + j] = value(out, cOff + (long) i * ldc + j);
        Accuracy.assertClose(expected, actual, tolerance, "gemm " + inputName + " -> " + outputName + " " + mode + " seed=" + seed);
        // C's padding (columns n..ldc) and the offset before it are not written
        for (long e = 0; e < out.getSize(); e++) {
            long col = (e - cOff) % ldc;
            if (e < cOff || col >= n) assertEquals(value(c, e), value(out, e), "C element " + e + " outside the m x n block");
        }
        for (Buffer<?> buffer : new Buffer<?>[] {da, db, dc}) cuda.free(buffer);
    }

    /** A decode-shaped, aligned GEMM accumulating into C: compiling (which times the candidates) leaves C as it was; running adds A B^T once. */
    @Test
    void tunedGemmCompilesWithoutTouchingCAndAccumulatesOnce() {
        int m = 16, n = 256, k = 512;
        HalfArray a = (HalfArray) randomArray(ElementType.F16, m * k), b = (HalfArray) randomArray(ElementType.F16, n * k);
        FloatArray c = (FloatArray) randomArray(ElementType.F32, m * n);
        for (CudaBackend.GemmMode mode : CudaBackend.GemmMode.values()) {
            cuda.gemmMode(mode);
            try {
                Buffer<HalfArray> da = cuda.upload(a, "A"), db = cuda.upload(b, "B");
                Buffer<FloatArray> dc = cuda.upload(c, "C");
                TaskGraph g = new TaskGraph("gemm");
                g.gemm(da, 0, db, 0, dc, 0, m, n, k, 1f, 1f);
                Executable e = cuda.compile(g);
                assertArrayEquals(c.toArray(), cuda.read(dc).toArray(), mode + ": compiling changed C");
                if (mode == CudaBackend.GemmMode.LT) {
                    assertTrue(cuda.gemmChoices().stream().anyMatch(line -> line.contains("cublasLt")), mode + ": " + cuda.gemmChoices());
                }
                e.run();
                double[] expected = new double[m * n];
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double sum = c.get(i * n + j);
                        for (int p = 0; p < k; p++) sum += (double) a.get(i * k + p) * b.get(j * k + p);
                        expected[i * n + j] = sum;
                    }
                }
                Accuracy.assertClose(expected, Accuracy.values(cuda.read(dc)), 1e-5, "gemm 16x256x512 +C " + mode + " seed=" + seed);
                for (Buffer<?> buffer : new Buffer<?>[] {da, db, dc}) cuda.free(buffer);
            } finally {
                cuda.gemmMode(CudaBackend.GemmMode.TUNED);
            }
        }
    }

    @Test
    void gemmRefusesInputsOfDifferentTypes() {
        Buffer<HalfArray> a = cuda.allocate(ElementType.F16, 64, "activations");
        Buffer<FloatArray> b = cuda.allocate(ElementType.F32, 64, "weights");
        Buffer<FloatArray> c = cuda.allocate(ElementType.F32, 64, "out");
        TaskGraph g = new TaskGraph("mixed");
        g.gemm(a, 0, b, 0, c, 0, 8, 8, 8, 1f, 0f);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cuda.compile(g));
        assertTrue(e.getMessage().contains("one element type") && e.getMessage().contains("activations"), e.getMessage());
        for (Buffer<?> buffer : new Buffer<?>[] {a, b, c}) cuda.free(buffer);
    }

    @Test
    void copyTaskMovesTheRangeAndNothingElse() {
        FloatArray src = randomFloats(10_000), dst = randomFloats(10_000);
        Buffer<FloatArray> dsrc = cuda.upload(src, "src"), ddst = cuda.upload(dst, "dst");
        TaskGraph g = new TaskGraph("copy");
        g.copy(dsrc, 100, ddst, 3000, 5000);
        cuda.compile(g).run();
        float[] out = cuda.read(ddst).toArray();
        for (int k = 0; k < 10_000; k++) {
            float want = k >= 3000 && k < 8000 ? src.get(k - 3000 + 100) : dst.get(k);
            assertEquals(want, out[k], "element " + k);
        }
        cuda.free(dsrc);
        cuda.free(ddst);
    }

    // ---- graphs

    @Test
    void capturedGraphReplaysTheSameWorkAndReadsPerStepValues() {
        int n = 4096, m = 16;
        FloatArray x0 = randomFloats(n), y0 = randomFloats(n), w = randomFloats(m * n);
        Buffer<FloatArray> x = cuda.upload(x0, "x"), y = cuda.upload(y0, "y"), dw = cuda.upload(w, "w");
        Buffer<FloatArray> step = cuda.upload(FloatArray.of(0.25f), "step");
        Buffer<FloatArray> logits = cuda.allocate(ElementType.F32, m, "logits");
        Buffer<FloatArray> history = cuda.allocate(ElementType.F32, 2L * m, "history");
        TaskGraph g = new TaskGraph("step");
        g.parallel(HandWrittenKernels::saxpy, Grid.of(n), x, y, Arg.f32(0.5f), Arg.i32(n));
        g.parallel(HandWrittenKernels::addStep, Grid.of(n), y, step, Arg.i32(n));
        g.gemm(y, 0, dw, 0, logits, 0, 1, m, n, 1f, 0f);
        g.copy(logits, 0, history, m, m);
        Executable direct = cuda.compile(g);

        direct.run();
        float[] directLogits = cuda.read(logits).toArray();
        float[] directHistory = cuda.read(history).toArray();

        cuda.write(y, y0);
        cuda.write(history, new FloatArray(2 * m));
        Executable replay = cuda.capture(direct);
        assertArrayEquals(new float[2 * m], cuda.read(history).toArray(), "capturing must not run the work");
        replay.run();
        assertArrayEquals(directLogits, cuda.read(logits).toArray(), "replayed logits");
        assertArrayEquals(directHistory, cuda.read(history).toArray(), "replayed copy");

        // a new per-step value in a device buffer is seen by the next replay
        cuda.write(y, y0);
        cuda.write(step, FloatArray.of(-3f));
        replay.run();
        float[] yAfter = cuda.read(y).toArray();
        for (int k = 0; k < n; k++) assertEquals(0.5f * x0.get(k) + y0.get(k) + -3f, yAfter[k], 1e-6f, "y element " + k);
        assertTrue(cuda.time(replay::run) > 0, "events time the replay");
        for (Buffer<?> b : new Buffer<?>[] {x, y, dw, step, logits, history}) cuda.free(b);
    }

    // ---- errors

    @Test
    void compileErrorShowsTheNvrtcLogAndTheKernel() {
        Buffer<FloatArray> x = cuda.allocate(ElementType.F32, 8, "x");
        TaskGraph g = new TaskGraph("broken");
        g.parallel(HandWrittenKernels::broken, Grid.of(8), x);
        CudaException e = assertThrows(CudaException.class, () -> cuda.compile(g));
        String message = e.getMessage();
        assertTrue(message.contains("nvrtcCompileProgram(HandWrittenKernels_broken"), message);
        assertTrue(message.contains("NVRTC_ERROR_COMPILATION"), message);
        assertTrue(message.contains("undefined_variable_polar") && message.contains("undefined"), message);
        cuda.free(x);
    }

    @Test
    void cudaErrorNamesTheCallAndTheError() {
        CudaException e = assertThrows(CudaException.class, () -> cuda.allocate(ElementType.I8, 1L << 50, "too big"));
        assertEquals("cuMemAlloc_v2(1125899906842624 bytes)", e.call());
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.errorName());
        assertTrue(e.getMessage().startsWith("cuMemAlloc_v2(1125899906842624 bytes): CUDA_ERROR_OUT_OF_MEMORY (2)"), e.getMessage());
    }

    // ---- helpers

    private FloatArray randomFloats(int n) {
        return Accuracy.randomFloats(random, n);
    }

    private DeviceArray randomArray(ElementType<?> type, int n) {
        DeviceArray a = type.wrap(Arena.ofAuto().allocate((long) n * type.bytes(), 64));
        for (int k = 0; k < n; k++) {
            float v = random.nextFloat() * 2 - 1;
            switch (a) {
                case FloatArray f -> f.set(k, v);
                case HalfArray h -> h.set(k, v);
                case BFloat16Array b -> b.set(k, v);
                default -> throw new IllegalArgumentException(type.toString());
            }
        }
        return a;
    }

    private static double value(DeviceArray a, long index) {
        int i = Math.toIntExact(index);
        return switch (a) {
            case FloatArray f -> f.get(i);
            case HalfArray h -> h.get(i);
            case BFloat16Array b -> b.get(i);
            default -> throw new IllegalArgumentException(a.elementType().toString());
        };
    }

    private static ElementType<?> type(String name) {
        return switch (name) {
            case "f32" -> ElementType.F32;
            case "f16" -> ElementType.F16;
            case "bf16" -> ElementType.BF16;
            default -> throw new IllegalArgumentException(name);
        };
    }

    /** A device buffer filled with NaN so that unwritten elements show. */
    private static <T extends DeviceArray> Buffer<T> poisoned(ElementType<T> type, int n, String label) {
        return cuda.upload(type, Accuracy.poison(type, n).segment(), label);
    }

    private void assertBytesEqual(MemorySegment expected, MemorySegment actual, String what) {
        long mismatch = expected.mismatch(actual);
        assertEquals(-1, mismatch, what + ": first differing byte (seed " + seed + ")");
    }

}
