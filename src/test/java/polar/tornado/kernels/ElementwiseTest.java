package polar.tornado.kernels;

import static polar.runtime.Accuracy.assertClose;
import static polar.runtime.Accuracy.values;
import static polar.tornado.graph.Arg.i32;
import static polar.tornado.kernels.KernelTesting.poisoned;
import static polar.tornado.kernels.KernelTesting.run;

import java.util.Random;
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

/** Embedding gathers (float16 and float32 tables, learned positions) and the MLP activations against float64. */
class ElementwiseTest {

    static java.util.List<String> backends() { return KernelTesting.backends(); }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void embeddingsAndPositions(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        try (Backend backend = Backends.open(name)) {
            int vocab = 50, width = 24, count = 7, offset = 2;
            HalfArray half = Accuracy.randomHalfs(random, vocab * width);
            FloatArray single = Accuracy.randomFloats(random, vocab * width);
            FloatArray positionTable = Accuracy.randomFloats(random, (20 + offset) * width);
            int[] ids = new int[count];
            int[] pos = new int[count];
            for (int r = 0; r < count; r++) {
                ids[r] = random.nextInt(vocab);
                pos[r] = random.nextInt(20);
            }
            double[] fromHalf = new double[count * width], fromSingle = new double[count * width], withPositions = new double[count * width];
            for (int r = 0; r < count; r++) {
                for (int c = 0; c < width; c++) {
                    fromHalf[r * width + c] = half.get(ids[r] * width + c);
                    fromSingle[r * width + c] = single.get(ids[r] * width + c);
                    withPositions[r * width + c] = fromHalf[r * width + c] + positionTable.get((pos[r] + offset) * width + c);
                }
            }
            Buffer<IntArray> idBuffer = backend.upload(IntArray.of(ids), "ids");
            Buffer<IntArray> posBuffer = backend.upload(IntArray.of(pos), "positions");
            Buffer<FloatArray> a = poisoned(backend, ElementType.F32, count * width, "a");
            Buffer<FloatArray> b = poisoned(backend, ElementType.F32, count * width, "b");
            Buffer<FloatArray> c = poisoned(backend, ElementType.F32, count * width, "c");
            Grid grid = Grid.rows(count, width);
            TaskGraph g = new TaskGraph("embeddings");
            g.parallel(Embeddings::gatherHalf, grid, idBuffer, backend.upload(half, "half"), a, i32(count), i32(width));
            g.parallel(Embeddings::gather, grid, idBuffer, backend.upload(single, "single"), b, i32(count), i32(width));
            g.parallel(Embeddings::gatherHalf, grid, idBuffer, backend.upload(half, "half2"), c, i32(count), i32(width));
            g.parallel(Embeddings::addPositions, grid, posBuffer, backend.upload(positionTable, "positionTable"), c, i32(count), i32(width), i32(offset));
            run(backend, g);
            String what = name + " seed=" + seed;
            assertClose(fromHalf, values(backend.read(a)), 0, "gatherHalf " + what);
            assertClose(fromSingle, values(backend.read(b)), 0, "gather " + what);
            assertClose(withPositions, values(backend.read(c)), Accuracy.F32, "addPositions " + what);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void activations(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        try (Backend backend = Backends.open(name)) {
            int rows = 5, ffn = 37;
            FloatArray gateUp = Accuracy.randomFloats(random, rows * 2 * ffn);
            for (int i = 0; i < gateUp.getSize(); i++) gateUp.set(i, gateUp.get(i) * 6); // both tails of silu
            FloatArray h = Accuracy.randomFloats(random, rows * ffn);
            FloatArray bias = Accuracy.randomFloats(random, ffn);
            double[] swiglu = new double[rows * ffn], relu = new double[rows * ffn], biased = new double[rows * ffn];
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < ffn; i++) {
                    double gate = gateUp.get(r * 2 * ffn + i), up = gateUp.get(r * 2 * ffn + ffn + i);
                    swiglu[r * ffn + i] = gate / (1 + Math.exp(-gate)) * up;
                    biased[r * ffn + i] = (double) h.get(r * ffn + i) + bias.get(i);
                    relu[r * ffn + i] = Math.max(0, biased[r * ffn + i]);
                }
            }
            Buffer<FloatArray> gu = backend.upload(gateUp, "gateUp"), hb = backend.upload(h, "h"), bb = backend.upload(bias, "bias");
            Buffer<FloatArray> s32 = poisoned(backend, ElementType.F32, rows * ffn, "swiglu");
            Buffer<HalfArray> s16 = poisoned(backend, ElementType.F16, rows * ffn, "swigluHalf");
            Buffer<FloatArray> r32 = poisoned(backend, ElementType.F32, rows * ffn, "relu");
            Buffer<HalfArray> r16 = poisoned(backend, ElementType.F16, rows * ffn, "reluHalf");
            Grid grid = Grid.rows(rows, ffn);
            TaskGraph g = new TaskGraph("activations");
            g.parallel(Activations::swiglu, grid, gu, s32, i32(rows), i32(ffn));
            g.parallel(Activations::swigluHalf, grid, gu, s16, i32(rows), i32(ffn));
            g.parallel(Activations::biasRelu, grid, hb, bb, r32, i32(rows), i32(ffn));
            g.parallel(Activations::biasReluHalf, grid, hb, bb, r16, i32(rows), i32(ffn));
            g.parallel(Activations::addBias, grid, hb, bb, i32(rows), i32(ffn)); // in place, after the reads above
            run(backend, g);
            String what = name + " seed=" + seed;
            assertClose(swiglu, values(backend.read(s32)), Accuracy.F32, "swiglu " + what);
            assertClose(swiglu, values(backend.read(s16)), Accuracy.F16, "swigluHalf " + what);
            assertClose(relu, values(backend.read(r32)), Accuracy.F32, "biasRelu " + what);
            assertClose(relu, values(backend.read(r16)), Accuracy.F16, "biasReluHalf " + what);
            assertClose(biased, values(backend.read(hb)), Accuracy.F32, "addBias " + what);
        }
    }
}
