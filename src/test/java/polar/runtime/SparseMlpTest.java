package polar.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static polar.runtime.Accuracy.assertClose;
import static polar.runtime.Accuracy.values;
import static polar.runtime.SparseTesting.poisoned;
import static polar.tornado.graph.Arg.constant;
import static polar.tornado.graph.Arg.i32;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.Activations;
import polar.tornado.kernels.MlpRouterScores;
import polar.tornado.kernels.SparseMlp;
import polar.tornado.kernels.TopK;
import polar.tornado.runtime.Backend;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * The gathered ReLU MLP ({@link SparseMlp}) against the dense MLP in float64 with the
 * unselected neurons masked, and with every neuron selected against the dense kernels (GEMM,
 * bias + ReLU, GEMM) on the same backend; and the router's batch-summed top-k. Fresh random
 * inputs, NaN-poisoned intermediates. Replay a failure with {@code -Dpolar.seed=S}.
 */
class SparseMlpTest {

    static List<String> backends() {
        return Backends.available();
    }

    /**
     * A layer and a step: {@code x [batch, hidden]} in {@code xType}, weights in {@code wType},
     * tiled by {@code batchTile} rows, FC2 split {@code splits} ways.
     */
    record Case(int batch, int hidden, int ffn, int k, ElementType<?> xType, ElementType<?> wType, int batchTile, int splits) {
        @Override
        public String toString() {
            return "batch " + batch + " hidden " + hidden + " ffn " + ffn + " k " + k + " x " + xType + " w " + wType
                    + " tile " + batchTile + " splits " + splits;
        }
    }

    /** A random ReLU MLP layer: W1 {@code [ffn, hidden]}, W2 {@code [hidden, ffn]} as in PyTorch, biases. */
    record Layer(DeviceArray w1, FloatArray b1, DeviceArray w2, FloatArray b2) {
        static Layer random(Random random, Case c) {
            // weights scaled so that pre-activations are O(1) and about half the neurons fire
            float s1 = (float) (2 / Math.sqrt(c.hidden())), s2 = (float) (2 / Math.sqrt(c.ffn()));
            return new Layer(randomArray(random, c.wType(), c.ffn() * c.hidden(), s1), Accuracy.randomFloats(random, c.ffn()),
                    randomArray(random, c.wType(), c.hidden() * c.ffn(), s2), Accuracy.randomFloats(random, c.hidden()));
        }

        /** W2 transposed to {@code [ffn, hidden]}: a selected neuron is a row (what the builder uploads for sparse layers). */
        DeviceArray w2t(Case c) {
            double[] w = values(w2);
            DeviceArray t = Accuracy.poison(w2.elementType(), w.length);
            for (int j = 0; j < c.ffn(); j++) {
                for (int col = 0; col < c.hidden(); col++) set(t, j * c.hidden() + col, (float) w[col * c.ffn() + j]);
            }
            return t;
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void selectedNeuronsMatchTheMaskedDenseMlp(String name) {
        check(name, new Case(5, 264, 600, 37, ElementType.F32, ElementType.F16, 8, 1));
        check(name, new Case(13, 256, 1024, 300, ElementType.F32, ElementType.F32, 4, 3));
        check(name, new Case(1, 512, 700, 128, ElementType.F16, ElementType.F16, 1, 2));
        check(name, new Case(3, 128, 96, 33, ElementType.F16, ElementType.F32, 2, 1));
    }

    /** Batch sizes 1, 3, 16 and 64 (several batch tiles), odd neuron counts, splits with empty shares, hidden not a multiple of a chunk. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void batchSizesAndOddNeuronCounts(String name) {
        check(name, new Case(1, 520, 1000, 129, ElementType.F16, ElementType.F16, 1, 5));
        check(name, new Case(3, 264, 600, 77, ElementType.F32, ElementType.F16, 3, 3));
        check(name, new Case(16, 256, 777, 255, ElementType.F16, ElementType.F16, 8, 4));
        check(name, new Case(64, 136, 300, 99, ElementType.F32, ElementType.F32, 8, 2));
        check(name, new Case(2, 64, 40, 5, ElementType.F16, ElementType.F32, 2, 8));
    }

    /** FC2 splits fill the H100 at small batch, keep a floor of neurons per split, and the dense crossover picks dense at large batch times k. */
    @org.junit.jupiter.api.Test
    void splitsAndDenseCrossover() {
        int hidden = 4096, ffn = 16384, sms = 132;
        int splits = SparseMlp.fc2Splits(1, 1, hidden, 1664, sms);
        org.junit.jupiter.api.Assertions.assertTrue(splits * hidden / SparseMlp.CHUNK >= 2 * sms, "batch 1: " + splits + " splits");
        org.junit.jupiter.api.Assertions.assertTrue(1664 / splits >= 32, "batch 1: " + splits + " splits of 1664 neurons");
        org.junit.jupiter.api.Assertions.assertEquals(1, SparseMlp.fc2Splits(64, 8, hidden, 100, sms), "too few neurons to split");
        org.junit.jupiter.api.Assertions.assertTrue(SparseMlp.fasterThanDense(1, ffn, ffn));
        org.junit.jupiter.api.Assertions.assertTrue(SparseMlp.fasterThanDense(16, 4096, ffn));
        org.junit.jupiter.api.Assertions.assertFalse(SparseMlp.fasterThanDense(64, 12672, ffn), "OPT-6.7B batch 64 at density 0.77");
    }

    /**
     * All neurons selected: the dense MLP, computed here by the dense kernels on the same backend
     * in the CUDA precision (float16 x, weights and activation; float32 accumulation).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void everyNeuronSelectedIsTheDenseMlp(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        Case c = new Case(6, 256, 512, 512, ElementType.F16, ElementType.F16, 8, 2);
        Layer layer = Layer.random(random, c);
        DeviceArray x = randomArray(random, c.xType(), c.batch() * c.hidden(), 1);
        FloatArray residual = Accuracy.randomFloats(random, c.batch() * c.hidden());
        int[] all = IntStream.range(0, c.ffn()).toArray();
        String what = name + " " + c + " seed=" + seed;
        try (Backend backend = Backends.open(name)) {
            double[] sparse = sparseMlp(backend, c, layer, x, residual, all);
            // the dense MLP as the builder runs it: out += fc2(relu(fc1(x) + b1)) + b2
            var out = backend.upload(residual, "out");
            var fc1Out = poisoned(backend, ElementType.F32, c.batch() * c.ffn(), "fc1Out");
            var act = poisoned(backend, ElementType.F16, c.batch() * c.ffn(), "act");
            TaskGraph g = new TaskGraph("denseMlp");
            g.gemm(backend.upload(x, "x"), 0, backend.upload(layer.w1(), "w1"), 0, fc1Out, 0, c.batch(), c.ffn(), c.hidden(), 1f, 0f);
            g.parallel(Activations::biasReluHalf, Grid.rows(c.batch(), c.ffn()), fc1Out, backend.upload(layer.b1(), "b1"), act,
                    i32(c.batch()), i32(c.ffn()));
            g.gemm(act, 0, backend.upload(layer.w2(), "w2"), 0, out, 0, c.batch(), c.hidden(), c.ffn(), 1f, 1f);
            g.parallel(Activations::addBias, Grid.rows(c.batch(), c.hidden()), out, backend.upload(layer.b2(), "b2"), i32(c.batch()), i32(c.hidden()));
            SparseTesting.run(backend, g);
            // the dense path rounds the activation to float16, the sparse one keeps it in float32
            assertClose(values(backend.read(out)), sparse, Accuracy.F16, "all neurons vs dense kernels " + what);
            assertClose(reference(c, layer, x, residual, all), sparse, Accuracy.F32, "all neurons vs float64 " + what);
        }
    }

    /** The router's half: ReLU'd scores summed over the batch, top-k of that one row, then the gathered MLP over it. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void routerScoresPickTheNeurons(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        Case c = new Case(7, 256, 2048, 256, ElementType.F32, ElementType.F16, 8, 2);
        FloatArray scores = Accuracy.randomFloats(random, c.batch() * c.ffn()); // as the router's second GEMM writes them
        double[] summed = new double[c.ffn()];
        for (int b = 0; b < c.batch(); b++) for (int j = 0; j < c.ffn(); j++) summed[j] += Math.max(0, scores.get(b * c.ffn() + j));
        String what = name + " " + c + " seed=" + seed;
        try (Backend backend = Backends.open(name)) {
            Buffer<FloatArray> sums = poisoned(backend, ElementType.F32, c.ffn(), "neuronScores");
            Buffer<IntArray> active = poisoned(backend, ElementType.I32, c.k(), "active");
            TaskGraph g = new TaskGraph("mlpRouter");
            g.parallel(SparseMlp::batchReluSum, Grid.of(c.ffn()), backend.upload(scores, "routerScores"), sums, i32(c.batch()), i32(c.ffn()));
            g.kernel(TopK::large, Grid.groups(1, TopK.LARGE_THREADS), sums, active, constant(c.ffn()), i32(c.k()));
            SparseTesting.run(backend, g);
            FloatArray deviceSums = backend.read(sums);
            assertClose(summed, values(deviceSums), Accuracy.F32, "batchReluSum " + what);
            int[] chosen = backend.read(active).toArray();
            assertArrayEquals(TopKTest.reference(deviceSums, 0, c.ffn(), c.k()), chosen, "router top-k " + what);

            Layer layer = Layer.random(random, c);
            FloatArray x = (FloatArray) randomArray(random, c.xType(), c.batch() * c.hidden(), 1);
            FloatArray residual = Accuracy.randomFloats(random, c.batch() * c.hidden());
            assertClose(reference(c, layer, x, residual, chosen), sparseMlp(backend, c, layer, x, residual, chosen), Accuracy.F32,
                    "sparse MLP over the router's neurons " + what);
        }
    }

    /**
     * The router's second matrix and the batch aggregation in one pass ({@code MlpRouterScores.upSum*},
     * batches up to 8) against float64: {@code sums[c] = sum_b f(low[b] . up[c])}, f = ReLU or softplus.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void routerUpProjectionAndBatchSumInOnePass(String name) {
        routerUpSum(name, 1, 64, 1000, ElementType.F16, false);
        routerUpSum(name, 3, 1032, 333, ElementType.F32, false);
        routerUpSum(name, 8, 24, 517, ElementType.F16, true);
        routerUpSum(name, 5, 256, 96, ElementType.F32, true);
    }

    static void routerUpSum(String name, int batch, int rank, int ffn, ElementType<?> type, boolean softplus) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        DeviceArray low = randomArray(random, type, batch * rank, 1);
        DeviceArray up = randomArray(random, type, ffn * rank, (float) (2 / Math.sqrt(rank)));
        double[] lv = values(low), uv = values(up), expected = new double[ffn];
        for (int c = 0; c < ffn; c++) {
            for (int b = 0; b < batch; b++) {
                double z = 0;
                for (int p = 0; p < rank; p++) z += lv[b * rank + p] * uv[c * rank + p];
                expected[c] += softplus ? Math.log1p(Math.exp(z)) : Math.max(0, z);
            }
        }
        String what = name + " batch " + batch + " rank " + rank + " ffn " + ffn + " " + type + (softplus ? " softplus" : " relu") + " seed=" + seed;
        try (Backend backend = Backends.open(name)) {
            Buffer<FloatArray> sums = poisoned(backend, ElementType.F32, ffn, "sums");
            Grid grid = Grid.groups((ffn + SparseMlp.NEURONS - 1) / SparseMlp.NEURONS, SparseMlp.FC1_THREADS);
            TaskGraph g = new TaskGraph("routerUpSum");
            var rule = constant(softplus ? 1 : 0);
            if (type == ElementType.F16) {
                g.kernel(MlpRouterScores::upSumF16, grid, cast(backend.upload(low, "low")), cast(backend.upload(up, "up")), sums, i32(rank), i32(ffn), constant(batch), rule);
            } else {
                g.kernel(MlpRouterScores::upSumF32, grid, cast(backend.upload(low, "low")), cast(backend.upload(up, "up")), sums, i32(rank), i32(ffn), constant(batch), rule);
            }
            SparseTesting.run(backend, g);
            assertClose(expected, values(backend.read(sums)), Accuracy.F32, "router up + batch sum " + what);
        }
    }

    /** A random sorted selection of {@code k} neurons, run through the sparse MLP and compared with float64. */
    static void check(String name, Case c) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        Layer layer = Layer.random(random, c);
        DeviceArray x = randomArray(random, c.xType(), c.batch() * c.hidden(), 1);
        FloatArray residual = Accuracy.randomFloats(random, c.batch() * c.hidden());
        int[] active = SparseTesting.randomSubset(random, c.ffn(), c.k());
        Arrays.sort(active);
        try (Backend backend = Backends.open(name)) {
            assertClose(reference(c, layer, x, residual, active), sparseMlp(backend, c, layer, x, residual, active), Accuracy.F32,
                    "sparse MLP " + name + " " + c + " seed=" + seed);
        }
    }

    /** {@code residual + fc2(relu(fc1(x)))} over the {@code active} neurons by FC1, FC2 (and with splits, the combine). */
    static double[] sparseMlp(Backend backend, Case c, Layer layer, DeviceArray x, FloatArray residual, int[] active) {
        Buffer<?> xB = backend.upload(x, "x");
        Buffer<?> w1 = backend.upload(layer.w1(), "w1");
        Buffer<?> w2t = backend.upload(layer.w2t(c), "w2t");
        var b1 = backend.upload(layer.b1(), "b1");
        var b2 = backend.upload(layer.b2(), "b2");
        var activeB = backend.upload(IntArray.of(active), "active");
        var out = backend.upload(residual, "out");
        Buffer<FloatArray> h = poisoned(backend, ElementType.F32, c.batch() * c.k(), "h");
        Buffer<FloatArray> partial = poisoned(backend, ElementType.F32, c.splits() > 1 ? c.splits() * c.batch() * c.hidden() : 1, "partial");
        int batchTiles = (c.batch() + c.batchTile() - 1) / c.batchTile();
        int columnTiles = (c.hidden() + SparseMlp.CHUNK - 1) / SparseMlp.CHUNK;
        Buffer<IntArray> arrivals = backend.allocate(ElementType.I32, (long) batchTiles * columnTiles, "arrivals");
        Grid fc1Grid = Grid.groups(batchTiles, (c.k() + SparseMlp.NEURONS - 1) / SparseMlp.NEURONS, SparseMlp.FC1_THREADS);
        Grid fc2Grid = Grid.groups(batchTiles, columnTiles, c.splits(), SparseMlp.THREADS);
        var batch = i32(c.batch());
        var hidden = i32(c.hidden());
        var k = i32(c.k());
        var tile = constant(c.batchTile());

        TaskGraph g = new TaskGraph("sparseMlp");
        boolean halfX = c.xType() == ElementType.F16, halfW = c.wType() == ElementType.F16;
        if (halfX && halfW) g.kernel(SparseMlp::fc1F16F16, fc1Grid, cast(xB), cast(w1), b1, activeB, h, batch, hidden, k, tile);
        else if (halfX) g.kernel(SparseMlp::fc1F16F32, fc1Grid, cast(xB), cast(w1), b1, activeB, h, batch, hidden, k, tile);
        else if (halfW) g.kernel(SparseMlp::fc1F32F16, fc1Grid, cast(xB), cast(w1), b1, activeB, h, batch, hidden, k, tile);
        else g.kernel(SparseMlp::fc1F32F32, fc1Grid, cast(xB), cast(w1), b1, activeB, h, batch, hidden, k, tile);
        if (halfW) g.kernel(SparseMlp::fc2F16, fc2Grid, h, cast(w2t), b2, activeB, out, partial, arrivals, batch, hidden, k, i32(c.splits()), tile);
        else g.kernel(SparseMlp::fc2F32, fc2Grid, h, cast(w2t), b2, activeB, out, partial, arrivals, batch, hidden, k, i32(c.splits()), tile);
        SparseTesting.run(backend, g);
        // the last split of each output tile merged the partials and left its counter at zero for the next launch
        IntArray counts = backend.read(arrivals);
        for (int i = 0; i < counts.getSize(); i++) assertEquals(0, counts.get(i), c + ": arrivals[" + i + "] after the launch");
        return values(backend.read(out));
    }

    /** Float64: {@code residual + b2 + sum over active j of relu(x . W1[j] + b1[j]) * W2[:, j]}. */
    static double[] reference(Case c, Layer layer, DeviceArray x, FloatArray residual, int[] active) {
        double[] xv = values(x), w1 = values(layer.w1()), w2 = values(layer.w2());
        double[] out = values(residual);
        for (int b = 0; b < c.batch(); b++) {
            for (int col = 0; col < c.hidden(); col++) out[b * c.hidden() + col] += layer.b2().get(col);
            for (int j : active) {
                double pre = layer.b1().get(j);
                for (int d = 0; d < c.hidden(); d++) pre += xv[b * c.hidden() + d] * w1[j * c.hidden() + d];
                double act = Math.max(0, pre);
                for (int col = 0; col < c.hidden(); col++) out[b * c.hidden() + col] += act * w2[col * c.ffn() + j];
            }
        }
        return out;
    }

    static DeviceArray randomArray(Random random, ElementType<?> type, int n, float scale) {
        DeviceArray a = Accuracy.poison(type, n);
        for (int i = 0; i < n; i++) set(a, i, scale * (random.nextFloat() * 2 - 1));
        return a;
    }

    static void set(DeviceArray a, int i, float v) {
        switch (a) {
            case FloatArray f -> f.set(i, v);
            case HalfArray h -> h.set(i, v);
            default -> throw new IllegalArgumentException(a.elementType().toString());
        }
    }

    @SuppressWarnings("unchecked")
    static <T extends DeviceArray> Buffer<T> cast(Buffer<?> buffer) {
        return (Buffer<T>) buffer;
    }
}
