package polar.runtime.opencl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import polar.tornado.compiler.Dialect;
import polar.tornado.compiler.KernelCompiler;
import polar.tornado.compiler.KernelSource;
import polar.tornado.graph.Arg;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.KernelRef;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.Basics;
import polar.tornado.runtime.Executable;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/** The OpenCL backend's host side: devices, buffers, hand-written OpenCL C, copies, errors. Skips without an OpenCL device. */
class OpenClBackendTest extends OpenClTestBase {

    @Test
    void discoversDevicesWithTheirProperties() {
        List<OpenClDevice> devices = OpenClDevice.all("");
        assertFalse(devices.isEmpty());
        for (OpenClDevice d : devices) {
            assertFalse(d.name().isEmpty(), d.toString());
            assertFalse(d.platformName().isEmpty(), d.toString());
            assertTrue(d.version().startsWith("OpenCL "), d.version());
            assertTrue(d.maxWorkGroup() >= 1 && d.globalMemoryBytes() > 0 && d.computeUnits() >= 1, d.toString());
        }
        for (int i = 1; i < devices.size(); i++) {
            assertTrue(devices.get(i - 1).kind().compareTo(devices.get(i).kind()) <= 0, "GPUs come first: " + devices);
        }
        try (OpenClBackend first = new OpenClBackend("", 0)) {
            assertEquals(devices.getFirst().name(), first.device().name());
        }
        assertTrue(OpenClDevice.all("no such platform").isEmpty());
        IllegalStateException none = assertThrows(IllegalStateException.class, () -> new OpenClBackend("no such platform", 0));
        assertTrue(none.getMessage().contains("no such platform"), none.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new OpenClBackend("", devices.size()));
    }

    @Test
    void buffersRoundTrip() {
        Random random = new Random();
        int n = 1000 + random.nextInt(1000);
        FloatArray host = new FloatArray(n);
        for (int i = 0; i < n; i++) host.set(i, random.nextFloat() - 0.5f);
        Buffer<FloatArray> buffer = backend.upload(host, "roundtrip");
        assertArrayEquals(host.toArray(), backend.read(buffer).toArray());

        // A partial write and read at element offsets.
        FloatArray patch = FloatArray.of(1f, 2f, 3f);
        backend.write(buffer, 7, patch.segment(), 3);
        FloatArray back = new FloatArray(5);
        back.fill(Float.NaN);
        backend.read(buffer, 6, back.segment(), 5);
        assertArrayEquals(new float[] {host.get(6), 1f, 2f, 3f, host.get(10)}, back.toArray());

        // Heap segments work too (staged through native memory).
        float[] heap = new float[n];
        backend.read(buffer, 0, java.lang.foreign.MemorySegment.ofArray(heap), n);
        assertEquals(2f, heap[8]);

        Buffer<IntArray> zeros = backend.allocate(ElementType.I32, 37, "zeros");
        assertArrayEquals(new int[37], backend.read(zeros).toArray());
        backend.free(zeros);
        assertThrows(IllegalStateException.class, () -> backend.read(zeros));
        assertThrows(IllegalArgumentException.class, () -> backend.read(buffer, n - 2, back.segment(), 3));
        backend.free(buffer);
    }

    /** y[i] = a * x[i] in float16 storage: the launch ABI (buffer, length, scalar) on a hand-written kernel. */
    private static final KernelSource SCALE_F16 = new KernelSource("scale_f16", Dialect.OPENCL, """
            __kernel void scale_f16(__global const half *x, int x_size, __global half *y, int y_size, float a) {
                for (int i = get_global_id(0); i < y_size; i += get_global_size(0)) {
                    vstore_half(a * vload_half(i, x), i, y);
                }
            }
            """);

    @Test
    void launchesHandWrittenOpenClC() {
        Random random = new Random();
        int n = 3000 + random.nextInt(500);
        float a = 0.5f + random.nextFloat();
        HalfArray x = new HalfArray(n);
        for (int i = 0; i < n; i++) x.set(i, random.nextFloat() * 4 - 2);
        Buffer<HalfArray> xb = backend.upload(x, "x");
        Buffer<HalfArray> yb = backend.allocate(ElementType.F16, n, "y");
        HalfArray poison = new HalfArray(n);
        poison.fill(Float.NaN);
        backend.write(yb, poison);

        // No local size: the backend picks one and rounds the global size up (the loop is grid-stride).
        backend.compile(SCALE_F16, "scale_f16", Grid.of(n), List.of(xb, yb, Arg.f32(a))).run();
        HalfArray y = backend.read(yb);
        double err = 0, ref = 0;
        for (int i = 0; i < n; i++) {
            double expected = (double) a * x.get(i);
            assertFalse(Float.isNaN(y.get(i)), "y[" + i + "] is NaN");
            err += (y.get(i) - expected) * (y.get(i) - expected);
            ref += expected * expected;
        }
        assertTrue(Math.sqrt(err / ref) < 1e-3, "relative error " + Math.sqrt(err / ref));
        backend.free(xb);
        backend.free(yb);
    }

    @Test
    void copiesBetweenBuffersAtOffsets() {
        Buffer<FloatArray> src = backend.upload(FloatArray.of(0, 1, 2, 3, 4, 5, 6, 7), "src");
        Buffer<FloatArray> dst = backend.upload(FloatArray.of(-1, -1, -1, -1, -1, -1), "dst");
        TaskGraph g = new TaskGraph("copy");
        g.copy(src, 3, dst, 1, 4);
        Executable e = backend.compile(g);
        e.run();
        assertArrayEquals(new float[] {-1, 3, 4, 5, 6, -1}, backend.read(dst).toArray());
        backend.free(src);
        backend.free(dst);
    }

    /** A translated kernel with a specialised constant ({@code cols} compiled in) agrees with the plain launch. */
    @Test
    void translatedKernelWithASpecialisedConstant() {
        Random random = new Random();
        int rows = 3 + random.nextInt(5), cols = 100 + random.nextInt(300);
        FloatArray x = new FloatArray(rows * cols);
        double[] ref = new double[rows];
        for (int i = 0; i < x.getSize(); i++) {
            x.set(i, random.nextFloat() - 0.5f);
            ref[i / cols] += x.get(i);
        }
        Buffer<FloatArray> xb = backend.upload(x, "x");
        Buffer<FloatArray> plain = backend.allocate(ElementType.F32, rows, "plain");
        Buffer<FloatArray> constant = backend.allocate(ElementType.F32, rows, "constant");
        FloatArray nan = new FloatArray(rows);
        nan.fill(Float.NaN);
        backend.write(plain, nan);
        backend.write(constant, nan);
        TaskGraph g = new TaskGraph("rowSums");
        g.kernel(Basics::rowSum, Grid.groups(rows, Basics.GROUP_SIZE), xb, plain, Arg.i32(cols));
        g.kernel(Basics::rowSum, Grid.groups(rows, Basics.GROUP_SIZE), xb, constant, Arg.constant(cols));
        backend.compile(g).run();
        float[] p = backend.read(plain).toArray(), c = backend.read(constant).toArray();
        for (int r = 0; r < rows; r++) {
            assertEquals(ref[r], p[r], 1e-4, "row " + r);
            assertEquals(ref[r], c[r], 1e-4, "row " + r + " (constant)");
        }
        backend.free(xb);
        backend.free(plain);
        backend.free(constant);
    }

    @Test
    void aFreedBufferIsNotLaunched() {
        Buffer<HalfArray> x = backend.allocate(ElementType.F16, 8, "x");
        Buffer<HalfArray> y = backend.allocate(ElementType.F16, 8, "freedY");
        Executable e = backend.compile(SCALE_F16, "scale_f16", Grid.of(8), List.of(x, y, Arg.f32(2f)));
        backend.free(y);
        IllegalStateException freed = assertThrows(IllegalStateException.class, e::run);
        assertTrue(freed.getMessage().contains("freedY"), freed.getMessage());
        backend.free(x);
    }

    /**
     * Executables dropped while their launches may still be queued are released by the backend
     * itself after the queue drained (never by the Cleaner's thread), and close releases the rest.
     */
    @Test
    void droppedExecutablesAreReleasedAfterTheQueueDrains() throws InterruptedException {
        try (OpenClBackend own = new OpenClBackend()) {
            int n = 256;
            Buffer<FloatArray> a = own.upload(FloatArray.of(new float[n]), "a");
            Buffer<HalfArray> h = own.allocate(ElementType.F16, 4 * n, "h");
            for (int i = 0; i < 8; i++) { // each with a kernel, and (f16 C of a gemm) scratch buffers
                TaskGraph g = new TaskGraph("dropped" + i);
                g.parallel(Basics::scaleHalf, Grid.of(n), h, h, Arg.f32(1f), Arg.i32(n));
                g.gemm(a, 0, a, 0, h, 0, 16, 16, 16, 1f, 1f);
                own.compile(g).run(); // unreachable at once, launches possibly still queued
            }
            TaskGraph keptGraph = new TaskGraph("kept");
            keptGraph.parallel(Basics::scaleHalf, Grid.of(n), h, h, Arg.f32(1f), Arg.i32(n));
            Executable kept = own.compile(keptGraph);
            assertEquals(9, own.heldExecutables());
            for (int tries = 0; tries < 200 && own.heldExecutables() > 1; tries++) {
                System.gc();
                Thread.sleep(10);
                own.synchronize(); // releases what the Cleaner found unreachable
            }
            assertEquals(1, own.heldExecutables(), "the dropped executables are released, the kept one is not");
            kept.run();
            own.synchronize();
            own.close();
            assertEquals(0, own.heldExecutables());
            assertThrows(IllegalStateException.class, kept::run);
        }
    }

    /**
     * The bounds-checking translation names an access outside its buffer and reads element 0
     * instead. (The device's one message goes to the process's stdout, which surefire reports as a
     * "corrupted channel" warning: expected.)
     */
    @Test
    void boundsCheckingModeContainsAnOutOfRangeAccess() {
        System.setProperty(KernelCompiler.CHECK_BOUNDS_PROPERTY, "true");
        try (OpenClBackend own = new OpenClBackend()) {
            String code = KernelCompiler.translate(KernelRef.of(Basics.class, "gatherRows"), Dialect.OPENCL, Map.of()).code();
            assertTrue(code.contains("out of bounds at Basics.java:") && code.contains("table.get"), code);
            int rows = 4, cols = 1;
            FloatArray table = new FloatArray(rows * cols);
            for (int i = 0; i < table.getSize(); i++) table.set(i, i + 1);
            int[] index = {1, rows, 0}; // row 4 is past the table's end
            Buffer<FloatArray> out = own.allocate(ElementType.F32, index.length * cols, "out");
            TaskGraph g = new TaskGraph("gather");
            g.parallel(Basics::gatherRows, Grid.of(cols, index.length), own.upload(table, "table"), own.upload(IntArray.of(index), "index"), out,
                    Arg.i32(index.length), Arg.i32(cols));
            own.compile(g).run();
            float[] got = own.read(out).toArray();
            for (int c = 0; c < cols; c++) {
                assertEquals(table.get(cols + c), got[c]);
                assertEquals(table.get(0), got[cols + c], "the out-of-range row reads element 0");
                assertEquals(table.get(c), got[2 * cols + c]);
            }
        } finally {
            System.clearProperty(KernelCompiler.CHECK_BOUNDS_PROPERTY);
        }
    }

    @Test
    void failedBuildCarriesTheBuildLog() {
        KernelSource broken = new KernelSource("broken", Dialect.OPENCL, """
                __kernel void broken(__global float *x, int x_size) {
                    x[0] = undeclared_variable;
                }
                """);
        Buffer<FloatArray> x = backend.allocate(ElementType.F32, 4, "x");
        OpenClException e = assertThrows(OpenClException.class, () -> backend.compile(broken, "Broken.kernel", Grid.of(1), List.of(x)));
        assertEquals("clBuildProgram", e.call());
        assertTrue(e.getMessage().contains("CL_BUILD_PROGRAM_FAILURE"), e.getMessage());
        assertTrue(e.getMessage().contains("Broken.kernel"), e.getMessage());
        assertTrue(e.getMessage().contains("undeclared_variable"), "the build log names the culprit: " + e.getMessage());
        backend.free(x);
    }

    @Test
    void clErrorsNameTheCallAndTheError() {
        KernelSource one = new KernelSource("one", Dialect.OPENCL, """
                __kernel void one(__global float *x, int x_size) { x[get_global_id(0)] = 1.0f; }
                """);
        Buffer<FloatArray> x = backend.allocate(ElementType.F32, 4, "x");
        // Wrong entry name: clCreateKernel fails with CL_INVALID_KERNEL_NAME.
        OpenClException e = assertThrows(OpenClException.class,
                () -> backend.compile(new KernelSource("two", Dialect.OPENCL, one.code()), "One.two", Grid.of(1), List.of(x)));
        assertEquals("clCreateKernel", e.call());
        assertTrue(e.getMessage().startsWith("clCreateKernel: CL_INVALID_KERNEL_NAME (-46)"), e.getMessage());
        // A work-group larger than the device allows.
        long tooBig = Long.highestOneBit(backend.device().maxWorkGroup()) * 2;
        IllegalArgumentException big = assertThrows(IllegalArgumentException.class,
                () -> backend.compile(one, "One.one", Grid.groups(1, (int) tooBig), List.of(x)));
        assertTrue(big.getMessage().contains("exceeds"), big.getMessage());
        assertEquals("CL_INVALID_WORK_GROUP_SIZE", OpenCl.errorName(-54));
        assertEquals("CL_OUT_OF_RESOURCES", OpenCl.errorName(-5));
        backend.free(x);
    }
}
