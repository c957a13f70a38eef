package polar.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static polar.runtime.SparseTesting.poisoned;
import static polar.tornado.graph.Arg.i32;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.OracleHeads;
import polar.tornado.kernels.TopK;
import polar.tornado.runtime.Backend;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * The oracle's kernels as the engine chains them (unit squared norms, {@code TopK.small}, keep the
 * selected units), against a float64 reference on fresh random attention outputs, float32 and float16.
 * Replay a failure with {@code -Dpolar.seed=S}.
 */
class OracleHeadsTest {

    static List<String> backends() {
        return Backends.available();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void keepsEachTokensLargestUnits(String name) {
        // MHA (8 heads of 32), GQA (4 groups of 2 x 32), a ragged shape.
        for (int[] shape : new int[][] {{8, 32, 4}, {4, 64, 2}, {5, 24, 1}, {8, 32, 8}}) {
            check(name, 7, shape[0], shape[1], shape[2], false);
            check(name, 7, shape[0], shape[1], shape[2], true);
        }
    }

    static void check(String name, int tokens, int units, int span, int k, boolean half) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        int width = units * span;
        DeviceArray attn = half ? Accuracy.randomHalfs(random, tokens * width) : Accuracy.randomFloats(random, tokens * width);
        // Scale units so that norms differ clearly (no near-ties for the top-k to depend on rounding).
        double[] values = Accuracy.values(attn);
        for (int i = 0; i < tokens; i++) {
            for (int u = 0; u < units; u++) {
                double scale = 0.1 + random.nextInt(1000) / 100.0;
                for (int j = 0; j < span; j++) values[(i * units + u) * span + j] *= scale;
            }
        }
        for (int e = 0; e < values.length; e++) {
            if (attn instanceof HalfArray h) h.set(e, (float) values[e]);
            else ((FloatArray) attn).set(e, (float) values[e]);
        }
        values = Accuracy.values(attn); // as stored (float16 rounding)
        double[] squares = new double[tokens * units];
        double[] expected = values.clone();
        for (int i = 0; i < tokens; i++) {
            for (int u = 0; u < units; u++) {
                for (int j = 0; j < span; j++) squares[i * units + u] += values[(i * units + u) * span + j] * values[(i * units + u) * span + j];
            }
            for (int u = 0; u < units; u++) {
                int larger = 0;
                for (int v = 0; v < units; v++) if (squares[i * units + v] > squares[i * units + u]) larger++;
                if (larger >= k) java.util.Arrays.fill(expected, (i * units + u) * span, (i * units + u + 1) * span, 0);
            }
        }
        String what = "oracle " + (half ? "f16" : "f32") + " " + tokens + "x" + units + "x" + span + " k=" + k + " " + name + " seed=" + seed;
        try (Backend backend = Backends.open(name)) {
            Buffer<? extends DeviceArray> in = half ? backend.upload((HalfArray) attn, "attn") : backend.upload((FloatArray) attn, "attn");
            Buffer<FloatArray> sq = poisoned(backend, ElementType.F32, tokens * units, "squares");
            Buffer<IntArray> selected = poisoned(backend, ElementType.I32, tokens * k, "selected");
            TaskGraph g = new TaskGraph("oracle");
            if (half) g.parallel(OracleHeads::unitSquaresHalf, Grid.of(tokens, units), cast(in), sq, i32(tokens), i32(units), i32(span));
            else g.parallel(OracleHeads::unitSquares, Grid.of(tokens, units), cast(in), sq, i32(tokens), i32(units), i32(span));
            g.kernel(TopK::small, Grid.groups(tokens, TopK.smallThreads(units)), sq, selected, i32(units), i32(k));
            if (half) g.parallel(OracleHeads::keepSelectedHalf, Grid.rows(tokens, width), cast(in), selected, i32(tokens), i32(width), i32(span), i32(k));
            else g.parallel(OracleHeads::keepSelected, Grid.rows(tokens, width), cast(in), selected, i32(tokens), i32(width), i32(span), i32(k));
            SparseTesting.run(backend, g);
            Accuracy.assertClose(squares, Accuracy.values(backend.read(sq)), Accuracy.F32, what + " squares");
            double[] out = Accuracy.values(backend.read(in));
            for (int e = 0; e < out.length; e++) assertEquals(expected[e], out[e], 0.0, what + " element " + e);
        }
    }

    @SuppressWarnings("unchecked")
    static <T extends DeviceArray> Buffer<T> cast(Buffer<? extends DeviceArray> b) {
        return (Buffer<T>) b;
    }
}
