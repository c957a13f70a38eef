package polar.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static polar.runtime.SparseTesting.poisoned;
import static polar.tornado.graph.Arg.constant;
import static polar.tornado.graph.Arg.i32;

import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.TopK;
import polar.tornado.runtime.Backend;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.IntArray;

/**
 * Top-k per row against a Java sort (descending score, ties to the lower index, NaN last), on
 * rows with many ties, signed zeros and NaN. Replay a failure with {@code -Dpolar.seed=S}.
 */
class TopKTest {

    static List<String> backends() {
        return Backends.available();
    }

    /** Router scores over heads: rows of up to {@link TopK#SMALL_MAX}. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void smallRows(String name) {
        for (int n : new int[] {8, 32, 100, TopK.SMALL_MAX}) {
            for (int k : new int[] {1, n / 3 + 1, n}) {
                check(name, n, k, 5, Grid.groups(5, TopK.smallThreads(n)), false);
            }
        }
    }

    /** Batch-summed MLP router scores: long rows, many ties (at zero, after the ReLU). */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void largeRows(String name) {
        check(name, 1000, 1, 2, Grid.groups(2, TopK.LARGE_THREADS), true);
        check(name, 1000, 389, 2, Grid.groups(2, TopK.LARGE_THREADS), true);
        check(name, 4099, 4099, 1, Grid.groups(1, TopK.LARGE_THREADS), true);
        check(name, TopK.LARGE_MAX, 3 * 1024, 1, Grid.groups(1, TopK.LARGE_THREADS), true);
    }

    /** OPT-6.7B's MLP (ffn 16384) at density 0.1 and 0.25, every row kind, and k = 1 and k = n. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void largeRowsAtOptSize(String name) {
        for (int k : new int[] {1, 1638, 4096, 16384}) check(name, 16384, k, 4, Grid.groups(4, TopK.LARGE_THREADS), true);
    }

    /** Rows shorter than a group, not a multiple of 32; all equal (ties only); all negative. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void largeRowsOfOddShapes(String name) {
        for (int n : new int[] {1, 33, 1025}) {
            for (int k : new int[] {1, (n + 1) / 2, n}) check(name, n, k, 2, Grid.groups(2, TopK.LARGE_THREADS), true);
        }
        check(name, 16383, 1638, 1, Grid.groups(1, TopK.LARGE_THREADS), true);
        checkRow(name, new float[5000], 1234);                  // all +0: the first 1234 indices
        float[] negative = new float[3000];
        Random random = new Random(Accuracy.seed());
        for (int i = 0; i < negative.length; i++) negative[i] = -1f - random.nextInt(50) / 8f;
        checkRow(name, negative, 700);
        // neighbouring floats (keys that differ only in their last digits) force every round of the digit search
        float[] close = new float[4096];
        for (int i = 0; i < close.length; i++) close[i] = Math.nextUp(1f) + (float) Math.ulp(1f) * ((i * 37) % 1024);
        checkRow(name, close, 1500);
    }

    static void checkRow(String name, float[] row, int k) {
        FloatArray scores = new FloatArray(row.length);
        for (int i = 0; i < row.length; i++) scores.set(i, row[i]);
        try (Backend backend = Backends.open(name)) {
            Buffer<IntArray> out = poisoned(backend, ElementType.I32, k, "topk");
            TaskGraph g = new TaskGraph("topk");
            g.kernel(TopK::large, Grid.groups(1, TopK.LARGE_THREADS), backend.upload(scores, "scores"), out, constant(row.length), i32(k));
            SparseTesting.run(backend, g);
            assertArrayEquals(reference(scores, 0, row.length, k), backend.read(out).toArray(), "large top-" + k + " of " + row.length + " " + name);
        }
    }

    static void check(String name, int n, int k, int rows, Grid grid, boolean large) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        FloatArray scores = new FloatArray(rows * n);
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < n; i++) scores.set(r * n + i, score(random, r + n)); // row kinds vary with n too
        }
        int[] expected = new int[rows * k];
        for (int r = 0; r < rows; r++) System.arraycopy(reference(scores, r, n, k), 0, expected, r * k, k);

        try (Backend backend = Backends.open(name)) {
            Buffer<IntArray> out = poisoned(backend, ElementType.I32, rows * k, "topk");
            TaskGraph g = new TaskGraph("topk");
            if (large) g.kernel(TopK::large, grid, backend.upload(scores, "scores"), out, constant(n), i32(k));
            else g.kernel(TopK::small, grid, backend.upload(scores, "scores"), out, i32(n), i32(k));
            SparseTesting.run(backend, g);
            assertArrayEquals(expected, backend.read(out).toArray(),
                    (large ? "large" : "small") + " top-" + k + " of " + n + " " + name + " seed=" + seed);
        }
    }

    /**
     * Row kinds by {@code kind % 4}: few distinct values (ties everywhere, signed zeros), ReLU'd
     * sums (mostly exact zeros), Gaussian, Gaussian with a sprinkling of NaN and infinities.
     */
    static float score(Random random, int kind) {
        return switch (kind % 4) {
            case 0 -> new float[] {-1f, -0f, 0f, 0.5f, 2f}[random.nextInt(5)];
            case 1 -> random.nextInt(4) == 0 ? random.nextInt(8) / 4f : 0f;
            case 2 -> (float) random.nextGaussian();
            default -> switch (random.nextInt(40)) {
                case 0 -> Float.NaN;
                case 1 -> Float.POSITIVE_INFINITY;
                case 2 -> Float.NEGATIVE_INFINITY;
                default -> (float) random.nextGaussian();
            };
        };
    }

    /** Indices of row {@code r}'s k largest scores (ties to the lower index, NaN lowest), in ascending order. */
    static int[] reference(FloatArray scores, int r, int n, int k) {
        Comparator<Integer> byScore = (a, b) -> {
            float x = scores.get(r * n + a), y = scores.get(r * n + b);
            if (Float.isNaN(x) || Float.isNaN(y)) return Boolean.compare(Float.isNaN(x), Float.isNaN(y));
            return Float.compare(y, x); // descending; -0 below +0
        };
        Integer[] order = IntStream.range(0, n).boxed().toArray(Integer[]::new);
        Arrays.sort(order, byScore.thenComparing(Comparator.naturalOrder()));
        int[] top = new int[k];
        for (int i = 0; i < k; i++) top[i] = order[i];
        Arrays.sort(top);
        return top;
    }
}
