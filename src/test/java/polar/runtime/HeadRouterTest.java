package polar.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static polar.runtime.SparseTesting.poisoned;
import static polar.tornado.graph.Arg.i32;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.HeadRouter;
import polar.tornado.runtime.Backend;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * The fused attention router: scores against a float64 dot product of the same (float16-rounded)
 * inputs, and the selection against {@link TopKTest#reference} over the scores the kernel wrote
 * (so near-ties between units cannot make the check flaky, while a wrong selection still fails).
 */
class HeadRouterTest {

    static List<String> backends() {
        return Backends.available();
    }

    /** LLaMA-2-7B (32 heads), LLaMA-3-8B (8 KV groups), a two-layer router's second layer (dim 128), odd unit counts, the largest, long inputs. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void scoresAndSelectsTopUnits(String name) {
        int[][] cases = { // tokens, dim, units, k
                {16, 4096, 32, 16}, {5, 4096, 8, 5}, {3, 128, 40, 7}, {2, 64, 1, 1}, {2, 256, 13, 13}, {1, 64, HeadRouter.MAX_UNITS, 100},
                {1, 4096, 32, 16}, {2, 9216, 72, 36}, {1, 40960, 20, 3}}; // batch 1; OPT-66B (5 slices, 5 blocks); more than MAX_SLICES steps
        try (Backend backend = Backends.open(name)) {
            for (int[] c : cases) {
                check(backend, name, c[0], c[1], c[2], c[3], true);
                check(backend, name, c[0], c[1], c[2], c[3], false);
            }
        }
    }

    static void check(Backend backend, String name, int tokens, int dim, int units, int k, boolean half) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        DeviceArray in = half ? Accuracy.randomHalfs(random, tokens * dim) : Accuracy.randomFloats(random, tokens * dim);
        DeviceArray w = half ? Accuracy.randomHalfs(random, units * dim) : Accuracy.randomFloats(random, units * dim);
        FloatArray bias = Accuracy.randomFloats(random, units);
        double[] x = Accuracy.values(in), wv = Accuracy.values(w);
        double[] ref = new double[tokens * units];
        for (int t = 0; t < tokens; t++) {
            for (int u = 0; u < units; u++) {
                double s = bias.get(u);
                for (int p = 0; p < dim; p++) s += x[t * dim + p] * wv[u * dim + p];
                ref[t * units + u] = s;
            }
        }
        Buffer<FloatArray> scores = poisoned(backend, ElementType.F32, tokens * units, "scores");
        Buffer<IntArray> selected = poisoned(backend, ElementType.I32, tokens * k, "selected");
        TaskGraph g = new TaskGraph("router");
        // at 4096 inputs and 32 units a token's work is 2 slices x 2 blocks of units: 4 work-groups, the last one selects
        Grid grid = Grid.groups(tokens, HeadRouter.slices(dim), HeadRouter.blocks(units), HeadRouter.THREADS);
        Buffer<FloatArray> partial = poisoned(backend, ElementType.F32, (int) HeadRouter.partialLength(tokens, units), "partial");
        Buffer<IntArray> arrivals = backend.allocate(ElementType.I32, tokens, "arrivals");
        Buffer<FloatArray> b = backend.upload(bias, "bias");
        if (half) {
            g.kernel(HeadRouter::scoreTopKHalf, grid, backend.upload((HalfArray) in, "in"), backend.upload((HalfArray) w, "w"), b, scores, selected,
                    partial, arrivals, i32(dim), i32(units), i32(k));
        } else {
            g.kernel(HeadRouter::scoreTopK, grid, backend.upload((FloatArray) in, "in"), backend.upload((FloatArray) w, "w"), b, scores, selected,
                    partial, arrivals, i32(dim), i32(units), i32(k));
        }
        SparseTesting.run(backend, g);
        String what = (half ? "scoreTopKHalf" : "scoreTopK") + " tokens " + tokens + " dim " + dim + " units " + units + " k " + k + " " + name + " seed=" + seed;
        FloatArray got = backend.read(scores);
        Accuracy.assertClose(ref, Accuracy.values(got), Accuracy.F32, what);
        int[] expected = new int[tokens * k];
        for (int t = 0; t < tokens; t++) System.arraycopy(TopKTest.reference(got, t, units, k), 0, expected, t * k, k);
        assertArrayEquals(expected, backend.read(selected).toArray(), what);
        assertArrayEquals(new int[tokens], backend.read(arrivals).toArray(), what + ": the counters go back to zero for the next launch");
    }
}
