package polar.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static polar.runtime.Accuracy.assertClose;
import static polar.runtime.Accuracy.values;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import polar.runtime.Accuracy;
import polar.tornado.graph.Arg;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.Basics;
import polar.tornado.runtime.Executable;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/**
 * Java kernels translated by the kernel compiler, compiled by NVRTC and run on the device,
 * against float64 (the whole {@code Basics} suite runs on every backend in {@code KernelSuiteTest};
 * here: what is particular to CUDA). Skipped where there is no CUDA device.
 */
class TranslatedKernelsTest {
    private static CudaBackend cuda;
    private final long seed = Accuracy.seed();
    private final Random random = new Random(seed);

    @BeforeAll
    static void open() {
        assumeTrue(CudaBackend.isAvailable(), () -> "no CUDA device: " + CudaDriver.unavailableReason());
        cuda = new CudaBackend(0);
    }

    @AfterAll
    static void close() {
        if (cuda != null) cuda.close();
    }

    private <T extends polar.tornado.types.DeviceArray> Buffer<T> poisoned(ElementType<T> type, int n, String label) {
        return cuda.upload(type, Accuracy.poison(type, n).segment(), label);
    }

    /**
     * A chain of kernels that each read and rewrite what the one before wrote, with a cuBLAS GEMM
     * and a copy in the middle, run plainly and as a captured graph: a launch that overlapped its
     * predecessor would lose an increment or read a stale row.
     */
    @Test
    void dependentLaunchesSeeTheirPredecessorsWrites() {
        int rows = 64, cols = 65536, steps = 40; // 4M elements: several waves of blocks per launch
        Buffer<FloatArray> x = cuda.upload(new FloatArray(rows * cols), "x");
        FloatArray ones = new FloatArray(cols);
        ones.fill(1f);
        Buffer<FloatArray> bias = cuda.upload(ones, "bias");
        Buffer<FloatArray> w = cuda.upload(ones, "w");
        Buffer<FloatArray> sums = cuda.allocate(ElementType.F32, rows, "sums");
        Buffer<FloatArray> firstRow = cuda.allocate(ElementType.F32, cols, "firstRow");
        TaskGraph g = new TaskGraph("chain");
        for (int i = 0; i < steps; i++) g.parallel(polar.tornado.kernels.Activations::addBias, Grid.rows(rows, cols), x, bias, Arg.i32(rows), Arg.i32(cols));
        g.gemm(x, 0, w, 0, sums, 0, rows, 1, cols, 1f, 0f);                 // sums[r] = steps * cols
        g.copy(x, 0, firstRow, 0, cols);
        for (int i = 0; i < steps; i++) g.parallel(polar.tornado.kernels.Activations::addBias, Grid.rows(rows, cols), x, bias, Arg.i32(rows), Arg.i32(cols));
        Executable direct = cuda.compile(g);
        for (Executable run : new Executable[] {direct, cuda.capture(direct)}) {
            cuda.write(x, new FloatArray(rows * cols));
            run.run();
            float[] after = cuda.read(x).toArray();
            for (int i = 0; i < after.length; i++) {
                if (after[i] != 2 * steps) throw new AssertionError("element " + i + " is " + after[i] + ", expected " + 2 * steps);
            }
            float[] s = cuda.read(sums).toArray();
            for (int r = 0; r < rows; r++) org.junit.jupiter.api.Assertions.assertEquals((float) steps * cols, s[r], "GEMM over the first chain's result, row " + r);
            float[] first = cuda.read(firstRow).toArray();
            for (int c = 0; c < cols; c++) org.junit.jupiter.api.Assertions.assertEquals((float) steps, first[c], "copy between the chains, column " + c);
        }
        for (Buffer<?> b : new Buffer<?>[] {x, bias, w, sums, firstRow}) cuda.free(b);
    }

    @Test
    void wideScaledCopyOverManyGridStrides() {
        int n = 3_000_005; // more vectors than one wave of blocks, and a partial last vector
        HalfArray in = Accuracy.randomHalfs(random, n);
        float alpha = 0.5f + random.nextFloat();
        double[] ref = new double[n];
        for (int i = 0; i < n; i++) ref[i] = alpha * (double) in.get(i);
        Buffer<HalfArray> din = cuda.upload(in, "in");
        Buffer<HalfArray> out = poisoned(ElementType.F16, n, "out");
        TaskGraph g = new TaskGraph("scale");
        g.parallel(Basics::scaleHalf8, Grid.of((n + 7) / 8), din, out, Arg.f32(alpha), Arg.i32(n));
        cuda.compile(g).run();
        assertClose(ref, values(cuda.read(out)), Accuracy.F16, "scaleHalf8 n=" + n + " seed=" + seed);
        cuda.free(din);
        cuda.free(out);
    }

    @Test
    void specialisedConstantGivesTheSameSums() {
        int rows = 41, cols = 1000;
        FloatArray x = Accuracy.randomFloats(random, rows * cols);
        double[] ref = new double[rows];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) ref[r] += x.get(r * cols + c);
        Buffer<FloatArray> dx = cuda.upload(x, "x");
        Buffer<FloatArray> passed = poisoned(ElementType.F32, rows, "passed");
        Buffer<FloatArray> compiledIn = poisoned(ElementType.F32, rows, "compiledIn");
        TaskGraph g = new TaskGraph("rowSum");
        g.kernel(Basics::rowSum, Grid.groups(rows, Basics.GROUP_SIZE), dx, passed, Arg.i32(cols));
        g.kernel(Basics::rowSum, Grid.groups(rows, Basics.GROUP_SIZE), dx, compiledIn, Arg.constant(cols));
        cuda.compile(g).run();
        assertClose(ref, values(cuda.read(passed)), Accuracy.F32, "rowSum cols passed, seed=" + seed);
        assertClose(ref, values(cuda.read(compiledIn)), Accuracy.F32, "rowSum cols constant, seed=" + seed);
        for (Buffer<?> b : new Buffer<?>[] {dx, passed, compiledIn}) cuda.free(b);
    }

    @Test
    void translatedKernelsReplayInACudaGraph() {
        int rows = 64, cols = 777;
        FloatArray x = Accuracy.randomFloats(random, rows * cols);
        Buffer<FloatArray> dx = cuda.upload(x, "x");
        Buffer<FloatArray> probabilities = poisoned(ElementType.F32, rows * cols, "probabilities");
        Buffer<FloatArray> sums = poisoned(ElementType.F32, rows, "sums");
        TaskGraph g = new TaskGraph("softmax then sums");
        g.kernel(Basics::softmaxRows, Grid.groups(rows, Basics.GROUP_SIZE), dx, probabilities, Arg.i32(cols));
        g.kernel(Basics::rowSumWarp, Grid.groups(rows, Basics.GROUP_SIZE), probabilities, sums, Arg.i32(cols));
        Executable direct = cuda.compile(g);
        direct.run();
        float[] directProbabilities = cuda.read(probabilities).toArray();
        double[] ones = new double[rows];
        java.util.Arrays.fill(ones, 1.0);
        assertClose(ones, values(cuda.read(sums)), Accuracy.F32, "softmax rows sum to one, seed=" + seed);

        cuda.write(probabilities, Accuracy.poison(ElementType.F32, rows * cols));
        Executable replay = cuda.capture(direct);
        replay.run();
        assertArrayEquals(directProbabilities, cuda.read(probabilities).toArray(), "graph replay of translated kernels");
        for (Buffer<?> b : new Buffer<?>[] {dx, probabilities, sums}) cuda.free(b);
    }
}
