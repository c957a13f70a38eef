package polar.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static polar.runtime.Accuracy.assertClose;
import static polar.runtime.Accuracy.values;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import polar.tornado.graph.Arg;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.KernelRef;
import polar.tornado.graph.KernelTask;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.Basics;
import polar.tornado.runtime.Backend;
import polar.tornado.types.BFloat16Array;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * The kernel suite ({@link Basics}), GEMM and copy tasks on every backend usable here, each
 * checked against float64 references on fresh random inputs with NaN-poisoned outputs.
 * Replay a failure with {@code -Dpolar.seed=S} (the seed is in every message).
 */
public class KernelSuiteTest {

    static List<String> backends() {
        return Backends.available();
    }

    /** A buffer of {@code n} elements filled with NaN (or -1), so a kernel that skips an element is caught. */
    @SuppressWarnings("unchecked")
    private static <T extends DeviceArray> Buffer<T> poisoned(Backend backend, ElementType<T> type, int n, String label) {
        Buffer<T> b = backend.allocate(type, n, label);
        backend.write(b, Accuracy.poison(type, n));
        return b;
    }

    private static void run(Backend backend, TaskGraph graph) {
        backend.compile(graph).run();
        backend.synchronize();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void scaledCopyInFloat16(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        try (Backend backend = Backends.open(name)) {
            for (int n : new int[] {1, 13, 1003, 8192}) {
                HalfArray in = Accuracy.randomHalfs(random, n);
                float alpha = 0.5f + random.nextFloat();
                double[] ref = new double[n];
                for (int i = 0; i < n; i++) ref[i] = alpha * (double) in.get(i);

                Buffer<HalfArray> inBuffer = backend.upload(in, "in");
                Buffer<HalfArray> plain = poisoned(backend, ElementType.F16, n, "plain");
                Buffer<HalfArray> wide = poisoned(backend, ElementType.F16, n, "wide");
                TaskGraph g = new TaskGraph("scale");
                g.parallel(Basics::scaleHalf, Grid.of(n), inBuffer, plain, Arg.f32(alpha), Arg.i32(n));
                g.parallel(Basics::scaleHalf8, Grid.of((n + 7) / 8), inBuffer, wide, Arg.f32(alpha), Arg.i32(n));
                run(backend, g);

                String what = name + " n=" + n + " seed=" + seed;
                assertClose(ref, values(backend.read(plain)), Accuracy.F16, "scaleHalf " + what);
                assertClose(ref, values(backend.read(wide)), Accuracy.F16, "scaleHalf8 " + what);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void barriersOrderLocalMemory(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        try (Backend backend = Backends.open(name)) {
            int groups = 5, n = groups * Basics.GROUP_SIZE;
            FloatArray in = Accuracy.randomFloats(random, n);
            double[] ref = new double[n];
            for (int i = 0; i < n; i++) {
                int g = i / Basics.GROUP_SIZE, t = i % Basics.GROUP_SIZE;
                ref[i] = in.get(g * Basics.GROUP_SIZE + Basics.GROUP_SIZE - 1 - t);
            }
            Buffer<FloatArray> out = poisoned(backend, ElementType.F32, n, "out");
            TaskGraph g = new TaskGraph("reverse");
            g.kernel(Basics::reverseBlocks, Grid.groups(groups, Basics.GROUP_SIZE), backend.upload(in, "in"), out);
            run(backend, g);
            assertClose(ref, values(backend.read(out)), 0, "reverseBlocks " + name + " seed=" + seed);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void rowSums(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        try (Backend backend = Backends.open(name)) {
            int rows = 11;
            for (int cols : new int[] {5, 256, 1000}) {
                FloatArray x = Accuracy.randomFloats(random, rows * cols);
                double[] ref = new double[rows];
                for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) ref[r] += x.get(r * cols + c);

                Buffer<FloatArray> xBuffer = backend.upload(x, "x");
                Buffer<FloatArray> shared = poisoned(backend, ElementType.F32, rows, "sums");
                Buffer<FloatArray> warps = poisoned(backend, ElementType.F32, rows, "warpSums");
                TaskGraph g = new TaskGraph("rowSums");
                g.kernel(Basics::rowSum, Grid.groups(rows, Basics.GROUP_SIZE), xBuffer, shared, Arg.i32(cols));
                g.kernel(Basics::rowSumWarp, Grid.groups(rows, Basics.GROUP_SIZE), xBuffer, warps, Arg.i32(cols));
                run(backend, g);

                String what = name + " " + rows + "x" + cols + " seed=" + seed;
                assertClose(ref, values(backend.read(shared)), Accuracy.F32, "rowSum " + what);
                assertClose(ref, values(backend.read(warps)), Accuracy.F32, "rowSumWarp " + what);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void softmax(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        try (Backend backend = Backends.open(name)) {
            int rows = 7;
            for (int cols : new int[] {3, 300, 1027}) {
                FloatArray x = new FloatArray(rows * cols);
                for (int r = 0; r < rows; r++) {
                    float offset = r % 3 == 0 ? 200f : 0f; // exp(200) overflows float: only a stable softmax survives
                    for (int c = 0; c < cols; c++) x.set(r * cols + c, offset + 4 * (float) random.nextGaussian());
                }
                double[] ref = new double[rows * cols];
                for (int r = 0; r < rows; r++) {
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int c = 0; c < cols; c++) max = Math.max(max, x.get(r * cols + c));
                    for (int c = 0; c < cols; c++) sum += Math.exp(x.get(r * cols + c) - max);
                    for (int c = 0; c < cols; c++) ref[r * cols + c] = Math.exp(x.get(r * cols + c) - max) / sum;
                }
                Buffer<FloatArray> out = poisoned(backend, ElementType.F32, rows * cols, "probabilities");
                TaskGraph g = new TaskGraph("softmax");
                g.kernel(Basics::softmaxRows, Grid.groups(rows, Basics.GROUP_SIZE), backend.upload(x, "logits"), out, Arg.i32(cols));
                run(backend, g);
                assertClose(ref, values(backend.read(out)), Accuracy.F32, "softmaxRows " + name + " " + rows + "x" + cols + " seed=" + seed);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void tiledMatmul(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        try (Backend backend = Backends.open(name)) {
            for (int[] shape : new int[][] {{32, 48, 64}, {37, 45, 70}, {1, 17, 5}}) {
                int m = shape[0], n = shape[1], k = shape[2];
                FloatArray a = Accuracy.randomFloats(random, m * k), b = Accuracy.randomFloats(random, n * k);
                double[] ref = matmulReference(a, 0, k, b, 0, k, m, n, k);
                Buffer<FloatArray> c = poisoned(backend, ElementType.F32, m * n, "c");
                Grid grid = new Grid(new int[] {roundUp(n, Basics.TILE), roundUp(m, Basics.TILE)}, new int[] {Basics.TILE, Basics.TILE});
                TaskGraph g = new TaskGraph("matmul");
                g.kernel(Basics::matmulTiled, grid, backend.upload(a, "a"), backend.upload(b, "b"), c, Arg.i32(m), Arg.i32(n), Arg.i32(k));
                run(backend, g);
                assertClose(ref, values(backend.read(c)), Accuracy.F32, "matmulTiled " + name + " " + m + "x" + n + "x" + k + " seed=" + seed);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void gather(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        try (Backend backend = Backends.open(name)) {
            int vocabulary = 50, rows = 29, cols = 77;
            FloatArray table = Accuracy.randomFloats(random, vocabulary * cols);
            IntArray index = new IntArray(rows);
            for (int r = 0; r < rows; r++) index.set(r, random.nextInt(vocabulary));
            double[] ref = new double[rows * cols];
            for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) ref[r * cols + c] = table.get(index.get(r) * cols + c);

            Buffer<FloatArray> out = poisoned(backend, ElementType.F32, rows * cols, "out");
            TaskGraph g = new TaskGraph("gather");
            g.parallel(Basics::gatherRows, Grid.of(cols, rows), backend.upload(table, "table"), backend.upload(index, "index"), out,
                    Arg.i32(rows), Arg.i32(cols));
            run(backend, g);
            assertClose(ref, values(backend.read(out)), 0, "gatherRows " + name + " seed=" + seed);
        }
    }

    /** GEMM in the storage mixes the engine uses, on sub-matrices (offsets, leading dimensions) of larger buffers. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void gemm(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        try (Backend backend = Backends.open(name)) {
            ElementType<?>[][] mixes = {
                {ElementType.F32, ElementType.F16, ElementType.F32}, // activations x float16 weights: the common case
                {ElementType.F32, ElementType.F32, ElementType.F32},
                {ElementType.BF16, ElementType.BF16, ElementType.F32},
                {ElementType.F16, ElementType.F16, ElementType.F16},
            };
            for (ElementType<?>[] mix : mixes) {
                for (int[] shape : new int[][] {{1, 130, 70}, {37, 70, 33}}) {
                    int m = shape[0], n = shape[1], k = shape[2];
                    int lda = k + 3, ldb = k + 5, ldc = n + 2;
                    long aOffset = 7, bOffset = 11, cOffset = 5;
                    DeviceArray a = randomArray(mix[0], random, (int) aOffset + m * lda);
                    DeviceArray b = randomArray(mix[1], random, (int) bOffset + n * ldb);
                    DeviceArray c = randomArray(mix[2], random, (int) cOffset + m * ldc + 4);
                    float alpha = 0.75f, beta = 0.5f;
                    double[] before = values(c);
                    double[] ref = before.clone(); // elements outside the sub-matrix must stay as they were
                    double[] product = matmulReference(a, aOffset, lda, b, bOffset, ldb, m, n, k);
                    for (int i = 0; i < m; i++) {
                        for (int j = 0; j < n; j++) {
                            int at = (int) cOffset + i * ldc + j;
                            ref[at] = alpha * product[i * n + j] + beta * before[at];
                        }
                    }
                    Buffer<?> cBuffer = backend.upload(c, "c");
                    TaskGraph g = new TaskGraph("gemm");
                    g.add(new polar.tornado.graph.GemmTask(backend.upload(a, "a"), aOffset, lda, backend.upload(b, "b"), bOffset, ldb,
                            cBuffer, cOffset, ldc, m, n, k, alpha, beta));
                    if (mix[0] != mix[1] && !mixedGemmInputs(name)) {
                        // cuBLAS multiplies equal input types only: the backend must say so, not guess a conversion.
                        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> run(backend, g));
                        assertTrue(e.getMessage().contains(mix[0].name()) && e.getMessage().contains(mix[1].name()), e.getMessage());
                        continue;
                    }
                    run(backend, g);
                    double tolerance = mix[2] == ElementType.F32 ? Accuracy.F32 : Accuracy.F16;
                    assertClose(ref, values(backend.read(cBuffer)), tolerance,
                            "gemm " + mix[0] + "x" + mix[1] + "->" + mix[2] + " " + m + "x" + n + "x" + k + " " + name + " seed=" + seed);
                }
            }
        }
    }

    /** With beta = 0 the old C is not read (BLAS semantics), so NaN there must not leak into the result. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void gemmWithZeroBetaIgnoresOldValues(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        try (Backend backend = Backends.open(name)) {
            int m = 5, n = 67, k = 40;
            DeviceArray a = mixedGemmInputs(name) ? Accuracy.randomFloats(random, m * k) : Accuracy.randomHalfs(random, m * k);
            HalfArray w = Accuracy.randomHalfs(random, n * k);
            Buffer<FloatArray> c = poisoned(backend, ElementType.F32, m * n, "c");
            TaskGraph g = new TaskGraph("gemm");
            g.gemm(backend.upload(a, "a"), 0, backend.upload(w, "w"), 0, c, 0, m, n, k, 1f, 0f);
            run(backend, g);
            assertClose(matmulReference(a, 0, k, w, 0, k, m, n, k), values(backend.read(c)), Accuracy.F32, "gemm beta=0 " + name + " seed=" + seed);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void copySegments(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        try (Backend backend = Backends.open(name)) {
            HalfArray src = Accuracy.randomHalfs(random, 100);
            HalfArray dst = Accuracy.randomHalfs(random, 80);
            double[] ref = values(dst);
            for (int i = 0; i < 30; i++) ref[45 + i] = src.get(60 + i);
            Buffer<HalfArray> srcBuffer = backend.upload(src, "src"), dstBuffer = backend.upload(dst, "dst");
            TaskGraph g = new TaskGraph("copy");
            g.copy(srcBuffer, 60, dstBuffer, 45, 30);
            g.copy(srcBuffer, 0, srcBuffer, 1, 0); // an empty copy is allowed
            run(backend, g);
            assertClose(ref, values(backend.read(dstBuffer)), 0, "copy " + name + " seed=" + seed);
            assertClose(values(src), values(backend.read(srcBuffer)), 0, "copy source untouched " + name);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void wrongArgumentTypeIsRejected(String name) {
        try (Backend backend = Backends.open(name)) {
            Buffer<HalfArray> halves = backend.allocate(ElementType.F16, 256, "halves");
            Buffer<FloatArray> sums = backend.allocate(ElementType.F32, 1, "sums");
            var e = assertThrows(IllegalArgumentException.class, () -> new KernelTask(KernelRef.of(Basics.class, "rowSum"),
                    Grid.groups(1, Basics.GROUP_SIZE), List.of(halves, sums, Arg.i32(256))));
            assertTrue(e.getMessage().contains("Basics.rowSum argument 0 must be FloatArray"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> new KernelTask(KernelRef.of(Basics.class, "rowSum"),
                    Grid.groups(1, Basics.GROUP_SIZE), List.of(sums, sums, Arg.f32(256f))));
            assertTrue(e.getMessage().contains("argument 2 must be int"), e.getMessage());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void bufferOfAnotherBackendIsRejected(String name) {
        try (Backend backend = Backends.open(name); Backend other = Backends.open(Backends.available().getLast())) {
            Buffer<FloatArray> foreign = other.allocate(ElementType.F32, 4, "foreignBuffer");
            Buffer<FloatArray> own = backend.allocate(ElementType.F32, 4, "ownBuffer");
            TaskGraph g = new TaskGraph("foreign");
            g.copy(foreign, 0, own, 0, 4);
            var e = assertThrows(IllegalArgumentException.class, () -> backend.compile(g));
            assertTrue(e.getMessage().contains("foreignBuffer"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> backend.read(foreign));
            assertTrue(e.getMessage().contains("foreignBuffer"), e.getMessage());
            assertEquals(4, backend.read(own).getSize());
        }
    }

    static int roundUp(int value, int multiple) {
        return (value + multiple - 1) / multiple * multiple;
    }

    /** {@code A [m, k] * B [n, k]^T} in float64 from the stored values, row-major with offsets and leading dimensions. */
    public static double[] matmulReference(DeviceArray a, long aOffset, int lda, DeviceArray b, long bOffset, int ldb, int m, int n, int k) {
        double[] av = values(a), bv = values(b), r = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += av[(int) aOffset + i * lda + p] * bv[(int) bOffset + j * ldb + p];
                r[i * n + j] = s;
            }
        }
        return r;
    }

    static DeviceArray randomArray(ElementType<?> type, Random random, int n) {
        DeviceArray a = Accuracy.poison(type, n);
        for (int i = 0; i < n; i++) {
            float v = random.nextFloat() * 2 - 1;
            switch (a) {
                case FloatArray f -> f.set(i, v);
                case HalfArray h -> h.set(i, v);
                case BFloat16Array bf -> bf.set(i, v);
                default -> throw new IllegalArgumentException(type.name());
            }
        }
        return a;
    }

    /** Whether the backend's GEMM takes A and B of different element types (cuBLAS needs equal ones). */
    private static boolean mixedGemmInputs(String backend) {
        return !backend.equals("cuda");
    }
}
