package polar.runtime.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;
import polar.runtime.Accuracy;
import polar.runtime.KernelSuiteTest;
import polar.tornado.graph.Arg;
import polar.tornado.graph.Buffer;
import polar.tornado.compiler.KernelInfo;
import polar.tornado.graph.Grid;
import polar.tornado.graph.KernelRef;
import polar.tornado.graph.TaskGraph;
import polar.tornado.runtime.Executable;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/** What is particular to running kernels in the JVM: failures inside groups, warps, ids, buffer life, a larger GEMM. */
class JvmBackendTest {
    private final JvmBackend backend = new JvmBackend();

    @Test
    void aWorkItemThatThrowsDoesNotDeadlockItsGroup() {
        Buffer<FloatArray> out = backend.allocate(ElementType.F32, 4 * 64, "out");
        TaskGraph g = new TaskGraph("fail");
        g.kernel(JvmTestKernels::failBeforeBarrier, Grid.groups(4, 64), out, Arg.i32(133));
        Executable run = backend.compile(g);
        var e = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertThrows(KernelFailedException.class, run::run));
        assertTrue(e.getMessage().contains("JvmTestKernels.failBeforeBarrier failed in work-group [2,0,0] at work-item [5,0,0]"), e.getMessage());
        assertTrue(e.getMessage().contains("fails on purpose"), e.getMessage());
    }

    @Test
    void aLaneThatThrowsDoesNotDeadlockItsWarp() {
        Buffer<FloatArray> out = backend.allocate(ElementType.F32, 128, "out");
        TaskGraph g = new TaskGraph("fail");
        g.kernel(JvmTestKernels::failBeforeShuffle, Grid.groups(2, 64), out, Arg.i32(70));
        Executable run = backend.compile(g);
        var e = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertThrows(KernelFailedException.class, run::run));
        assertTrue(e.getMessage().contains("failBeforeShuffle failed in work-group [1,0,0] at work-item [6,0,0]"), e.getMessage());
    }

    @Test
    void aBarrierSkippedByAnEarlyReturnFailsInsteadOfHanging() {
        Buffer<FloatArray> out = backend.allocate(ElementType.F32, 64, "out");
        TaskGraph g = new TaskGraph("diverge");
        g.kernel(JvmTestKernels::returnBeforeBarrier, Grid.groups(2, 32), out, Arg.i32(20));
        Executable run = backend.compile(g);
        var e = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertThrows(KernelFailedException.class, run::run));
        assertTrue(e.getMessage().contains("returnBeforeBarrier failed") && e.getMessage().contains("every work-item must reach every barrier"), e.getMessage());
    }

    /** Regression: fast work-items leaving while slow ones were still released from the last barrier was taken for divergence. */
    @Test
    void manyGroupsMeetingAtBarriersAndWarpsNeverLookDivergent() {
        int rows = 24, cols = 300;
        Random random = new Random(Accuracy.seed());
        FloatArray x = Accuracy.randomFloats(random, rows * cols);
        Buffer<FloatArray> in = backend.upload(x, "x");
        Buffer<FloatArray> out = backend.allocate(ElementType.F32, rows, "out");
        TaskGraph g = new TaskGraph("warp sums");
        g.kernel(polar.tornado.kernels.Basics::rowSumWarp, Grid.groups(rows, polar.tornado.kernels.Basics.GROUP_SIZE), in, out, Arg.i32(cols));
        Executable run = backend.compile(g);
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            for (int launch = 0; launch < 40; launch++) run.run();
        });
        FloatArray sums = backend.read(out);
        for (int r = 0; r < rows; r++) {
            double ref = 0;
            for (int c = 0; c < cols; c++) ref += x.get(r * cols + c);
            assertEquals(ref, sums.get(r), 1e-3, "row " + r);
        }
    }

    @Test
    void aParallelKernelThatThrowsIsNamed() {
        Buffer<FloatArray> in = backend.allocate(ElementType.F32, 8, "in");
        Buffer<FloatArray> out = backend.allocate(ElementType.F32, 16, "out");
        TaskGraph g = new TaskGraph("overrun");
        g.parallel(JvmTestKernels::overrun, Grid.of(16), in, out, Arg.i32(16));
        var e = assertThrows(KernelFailedException.class, backend.compile(g)::run);
        assertTrue(e.getMessage().startsWith("JvmTestKernels.overrun failed"), e.getMessage());
    }

    @Test
    void warpShuffleReadsTheSourceLaneModulo32() {
        int n = 96;
        FloatArray in = Accuracy.randomFloats(new Random(Accuracy.seed()), n);
        Buffer<FloatArray> out = backend.allocate(ElementType.F32, n, "out");
        TaskGraph g = new TaskGraph("rotate");
        g.kernel(JvmTestKernels::rotateWarps, Grid.groups(1, n), backend.upload(in, "in"), out, Arg.i32(5));
        backend.compile(g).run();
        FloatArray r = backend.read(out);
        for (int i = 0; i < n; i++) assertEquals(in.get(i / 32 * 32 + (i % 32 + 5) % 32), r.get(i), "lane " + i);
    }

    @Test
    void workItemsAreNumberedAsOnAGpu() {
        int nx = 96, ny = 3;
        Buffer<FloatArray> out = backend.allocate(ElementType.F32, 3 * nx * ny, "ids");
        TaskGraph g = new TaskGraph("ids");
        g.kernel(JvmTestKernels::ids, new Grid(new int[] {nx, ny}, new int[] {32, 1}), out);
        backend.compile(g).run();
        FloatArray r = backend.read(out);
        for (int y = 0; y < ny; y++) {
            for (int x = 0; x < nx; x++) {
                int i = y * nx + x;
                assertEquals(x, r.get(3 * i), "x of " + x + "," + y);
                assertEquals(y, r.get(3 * i + 1), "y of " + x + "," + y);
                assertEquals(x % 32, r.get(3 * i + 2), "linear local id of " + x + "," + y);
            }
        }
    }

    /** What the compiler reports of a kernel without barriers or warp operations, with and without local memory. */
    private static final KernelInfo NO_BARRIERS = new KernelInfo(0, false, false, 0);
    private static final KernelInfo NO_BARRIERS_LOCAL = new KernelInfo(0, false, false, 256);

    @Test
    void aBarrierFreeKernelRunsItsWorkItemsOneAfterAnother() {
        int nx = 96, ny = 3;
        FloatArray ids = new FloatArray(3 * nx * ny);
        var launch = new KernelLaunch(KernelRef.of(JvmTestKernels.class, "ids"), new Grid(new int[] {nx, ny}, new int[] {32, 1}), new Object[] {ids}, NO_BARRIERS);
        assertFalse(launch.cooperative());
        launch.run();
        for (int i = 0; i < nx * ny; i++) assertEquals(i % nx, ids.get(3 * i), "x of work-item " + i);

        FloatArray doubled = new FloatArray(3 * 64);
        launch = new KernelLaunch(KernelRef.of(JvmTestKernels.class, "doubleIndexThroughLocalMemory"), Grid.groups(3, 64), new Object[] {doubled}, NO_BARRIERS_LOCAL);
        launch.run();
        for (int i = 0; i < doubled.getSize(); i++) assertEquals(2 * i, doubled.get(i), "work-item " + i);
    }

    /** The one-exchange warp reductions give, bit for bit, what the butterfly of shuffles gives (sums of mixed magnitudes round differently in any other order). */
    @Test
    void warpReductionsEqualTheButterflyBitForBit() {
        Random random = new Random();
        int n = 4 * 32;
        FloatArray in = new FloatArray(n);
        for (int i = 0; i < n; i++) in.set(i, (float) (random.nextGaussian() * Math.pow(10, random.nextInt(8) - 4)));
        in.set(7, Float.NaN); // a NaN poisons its warp's sum and max alike
        FloatArray out = new FloatArray(4 * n);
        new KernelLaunch(KernelRef.of(JvmTestKernels.class, "warpReductions"), Grid.groups(2, 64), new Object[] {in, out, n}).run();
        for (int i = 0; i < 2 * n; i++) {
            assertEquals(Float.floatToIntBits(out.get(2 * n + i)), Float.floatToIntBits(out.get(i)), "element " + i);
        }
        assertTrue(Float.isNaN(out.get(0)) && !Float.isNaN(out.get(2 * 32)), "NaN stays in its warp");
    }

    /**
     * A large {@code @Parallel} launch is split over the cores, every iteration running exactly
     * once: with grids equal to, smaller and larger than the loop's range, and a non-zero start.
     */
    @Test
    void aLargeParallelLoopIsSplitAndRunsEachIterationOnce() {
        int n = KernelLaunch.SERIAL_BELOW + 1234, cols = 3, start = 17;
        for (int gridX : new int[] {n, n / 3, 2 * n}) {
            FloatArray out = new FloatArray(n), cells = new FloatArray(n * cols);
            var launch = new KernelLaunch(KernelRef.of(JvmTestKernels.class, "countIterations"), Grid.of(gridX, cols),
                    new Object[] {out, cells, start, n, cols});
            assertEquals(Runtime.getRuntime().availableProcessors() > 1, launch.split(), "split on more than one core");
            launch.run();
            for (int i = 0; i < n; i++) {
                assertEquals(i < start ? 0f : 1f, out.get(i), "iteration " + i + " with a grid of " + gridX);
                for (int j = 0; j < cols; j++) assertEquals(i < start ? 0f : 1f, cells.get(i * cols + j), "cell " + i + "," + j);
            }
        }
        var small = new KernelLaunch(KernelRef.of(JvmTestKernels.class, "countIterations"), Grid.of(100, 1),
                new Object[] {new FloatArray(100), new FloatArray(100), 0, 100, 1});
        assertEquals(KernelLaunch.SERIAL_BELOW > 100 ? false : Runtime.getRuntime().availableProcessors() > 1, small.split(), "a small grid runs serially");
    }

    @Test
    void aBarrierInAKernelAnalysedAsBarrierFreeIsAnError() {
        var launch = new KernelLaunch(KernelRef.of(JvmTestKernels.class, "returnBeforeBarrier"), Grid.groups(1, 32), new Object[] {new FloatArray(32), 32}, NO_BARRIERS);
        var e = assertThrows(KernelFailedException.class, launch::run);
        assertTrue(e.getMessage().contains("reached a barrier although it was analysed as barrier-free"), e.getMessage());
    }

    @Test
    void aFreedBufferFailsClearly() {
        Buffer<FloatArray> a = backend.allocate(ElementType.F32, 4, "scratch");
        Buffer<FloatArray> b = backend.allocate(ElementType.F32, 4, "other");
        TaskGraph g = new TaskGraph("copy");
        g.copy(a, 0, b, 0, 4);
        Executable run = backend.compile(g);
        backend.free(a);
        var e = assertThrows(IllegalStateException.class, run::run);
        assertTrue(e.getMessage().contains("scratch") && e.getMessage().contains("freed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> backend.read(a));
    }

    @Test
    void uploadCopiesAndReadWriteRespectOffsets() {
        FloatArray host = FloatArray.of(1, 2, 3, 4, 5);
        Buffer<FloatArray> b = backend.upload(host, "b");
        host.set(0, 99);
        assertEquals(1f, backend.read(b).get(0), "upload copies");
        backend.write(b, 3, FloatArray.of(7, 8).segment(), 2);
        FloatArray part = new FloatArray(3);
        backend.read(b, 2, part.segment(), 3);
        assertEquals(3f, part.get(0));
        assertEquals(7f, part.get(1));
        assertEquals(8f, part.get(2));
        var e = assertThrows(IllegalArgumentException.class, () -> backend.write(b, 4, FloatArray.of(7, 8).segment(), 2));
        assertTrue(e.getMessage().contains("outside b"), e.getMessage());
    }

    /** A decode-sized and a prefill-sized product with float16 weights, against float64. */
    @Test
    void largerGemmWithHalfWeights() {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        int n = 700, k = 256;
        HalfArray w = Accuracy.randomHalfs(random, n * k);
        Buffer<HalfArray> weights = backend.upload(w, "w");
        for (int m : new int[] {1, 2, 150}) {
            FloatArray x = Accuracy.randomFloats(random, m * k);
            Buffer<FloatArray> y = backend.allocate(ElementType.F32, m * n, "y");
            backend.write(y, Accuracy.poison(ElementType.F32, m * n));
            TaskGraph g = new TaskGraph("linear");
            g.gemm(backend.upload(x, "x"), 0, weights, 0, y, 0, m, n, k, 1f, 0f);
            backend.compile(g).run();
            double[] ref = KernelSuiteTest.matmulReference(x, 0, k, w, 0, k, m, n, k);
            Accuracy.assertClose(ref, Accuracy.values(backend.read(y)), Accuracy.F32, "gemm m=" + m + " seed=" + seed);
        }
    }

    @Test
    void aClosedBackendRefusesWork() {
        JvmBackend closed = new JvmBackend();
        closed.close();
        assertThrows(IllegalStateException.class, () -> closed.allocate(ElementType.F32, 1, "x"));
    }
}
