package polar.tornado.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static polar.tornado.graph.Arg.i32;
import static polar.tornado.kernels.KernelTesting.poisoned;
import static polar.tornado.kernels.KernelTesting.run;

import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import polar.runtime.Accuracy;
import polar.runtime.Backends;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.TaskGraph;
import polar.tornado.runtime.Backend;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * A tensor-parallel rank's share of a selection: random selections of k of 8 units per token, seen by
 * each of 2 and 4 ranks, against the rule written out on the host (the rank's units in order, then the
 * first of them repeated, or unit 0 where it has none); zeroing the output of tokens with none.
 */
class RankKernelsTest {
    static final int UNITS = 8, TOKENS = 37, WIDTH = 24;

    static java.util.List<String> backends() { return KernelTesting.backends(); }

    /** Each token's k selected units of {@code units}, ascending (as TopK writes them), k in 1..units. */
    static int[] selections(Random random, int k) {
        int[] selected = new int[TOKENS * k];
        for (int t = 0; t < TOKENS; t++) {
            java.util.List<Integer> all = new java.util.ArrayList<>(IntStream.range(0, UNITS).boxed().toList());
            java.util.Collections.shuffle(all, random);
            int[] chosen = all.stream().limit(k).mapToInt(Integer::intValue).sorted().toArray();
            System.arraycopy(chosen, 0, selected, t * k, k);
        }
        return selected;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void eachRankGetsItsShareOfTheSelection(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        try (Backend backend = Backends.open(name)) {
            for (int ranks : new int[] {2, 4}) {
                int units = UNITS / ranks;
                for (int k : new int[] {1, 3, UNITS}) {
                    int[] selected = selections(random, k);
                    int kLocal = Math.min(k, units);
                    Buffer<IntArray> all = backend.upload(IntArray.of(selected), "selected");
                    boolean someTokenHasNone = false;
                    for (int rank = 0; rank < ranks; rank++) {
                        int first = rank * units;
                        int[] expected = new int[TOKENS * kLocal];
                        float[] out = new float[TOKENS * units * WIDTH], zeroed = new float[out.length];
                        for (int i = 0; i < out.length; i++) zeroed[i] = out[i] = random.nextFloat() + 1;
                        for (int t = 0; t < TOKENS; t++) {
                            int n = 0;
                            for (int i = 0; i < k; i++) {
                                int u = selected[t * k + i] - first;
                                if (u >= 0 && u < units) expected[t * kLocal + n++] = u;
                            }
                            for (int i = n; i < kLocal; i++) expected[t * kLocal + i] = n == 0 ? 0 : expected[t * kLocal];
                            if (n == 0) {
                                someTokenHasNone = true;
                                for (int e = 0; e < WIDTH; e++) zeroed[t * units * WIDTH + e] = 0;
                            }
                        }
                        Buffer<IntArray> local = poisoned(backend, ElementType.I32, TOKENS * kLocal, "local");
                        Buffer<FloatArray> f32 = backend.upload(FloatArray.of(out), "out");
                        Buffer<HalfArray> f16 = backend.upload(half(out), "outHalf");
                        TaskGraph g = new TaskGraph("rank share");
                        g.parallel(RankKernels::localize, Grid.of(TOKENS), all, local, i32(TOKENS), i32(k), i32(kLocal), i32(first), i32(units));
                        g.parallel(RankKernels::zeroUnrouted, Grid.rows(TOKENS, WIDTH), all, f32, i32(TOKENS), i32(k), i32(first), i32(units), i32(WIDTH));
                        g.parallel(RankKernels::zeroUnroutedHalf, Grid.rows(TOKENS, WIDTH), all, f16, i32(TOKENS), i32(k), i32(first), i32(units), i32(WIDTH));
                        run(backend, g);
                        String what = name + " rank " + rank + " of " + ranks + ", k " + k + ", seed " + seed;
                        assertArrayEquals(expected, backend.read(local).toArray(), "localize " + what);
                        assertArrayEquals(zeroed, backend.read(f32).toArray(), "zeroUnrouted " + what);
                        assertArrayEquals(floats(half(zeroed)), floats(backend.read(f16)), "zeroUnroutedHalf " + what);
                    }
                    if (k == 1) assertTrue(someTokenHasNone, "k = 1 leaves some rank without a unit for some token");
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void clearZerosTheFirstValuesOnly(String name) {
        try (Backend backend = Backends.open(name)) {
            Buffer<FloatArray> x = backend.upload(FloatArray.of(1, 2, 3, 4, 5, 6, 7), "x");
            TaskGraph g = new TaskGraph("clear");
            g.parallel(RankKernels::clear, Grid.of(5), x, i32(5));
            run(backend, g);
            assertArrayEquals(new float[] {0, 0, 0, 0, 0, 6, 7}, backend.read(x).toArray());
            assertEquals(7, x.length());
        }
    }

    private static float[] floats(HalfArray h) {
        float[] r = new float[h.getSize()];
        for (int i = 0; i < r.length; i++) r[i] = h.get(i);
        return r;
    }

    private static HalfArray half(float[] values) {
        HalfArray h = new HalfArray(values.length);
        for (int i = 0; i < values.length; i++) h.set(i, values[i]);
        return h;
    }
}
