package polar.tornado.kernels;

import static polar.runtime.Accuracy.assertClose;
import static polar.runtime.Accuracy.values;
import static polar.tornado.graph.Arg.f32;
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

/** RMSNorm and LayerNorm against float64, float32 and float16 outputs, rows of several widths (shorter and longer than a group). */
class NormsTest {

    static java.util.List<String> backends() { return KernelTesting.backends(); }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void rmsnormAndLayernorm(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        try (Backend backend = Backends.open(name)) {
            for (int hidden : new int[] {8, 100, 256, 1000}) {
                int rows = 3;
                FloatArray x = Accuracy.randomFloats(random, rows * hidden);
                for (int i = 0; i < x.getSize(); i++) x.set(i, x.get(i) * 3 + 0.5f); // a mean away from 0 tests LayerNorm's centring
                FloatArray w = Accuracy.randomFloats(random, hidden);
                FloatArray b = Accuracy.randomFloats(random, hidden);
                float eps = 1e-5f;
                double[] rms = new double[rows * hidden];
                double[] ln = new double[rows * hidden];
                for (int r = 0; r < rows; r++) {
                    double ss = 0, sum = 0;
                    for (int i = 0; i < hidden; i++) {
                        double v = x.get(r * hidden + i);
                        ss += v * v;
                        sum += v;
                    }
                    double mean = sum / hidden;
                    double var = 0;
                    for (int i = 0; i < hidden; i++) var += Math.pow(x.get(r * hidden + i) - mean, 2);
                    var /= hidden;
                    for (int i = 0; i < hidden; i++) {
                        double v = x.get(r * hidden + i);
                        rms[r * hidden + i] = v / Math.sqrt(ss / hidden + eps) * w.get(i);
                        ln[r * hidden + i] = (v - mean) / Math.sqrt(var + eps) * w.get(i) + b.get(i);
                    }
                }
                Buffer<FloatArray> xb = backend.upload(x, "x"), wb = backend.upload(w, "w"), bb = backend.upload(b, "b");
                Buffer<FloatArray> rmsOut = poisoned(backend, ElementType.F32, rows * hidden, "rms");
                Buffer<FloatArray> lnOut = poisoned(backend, ElementType.F32, rows * hidden, "ln");
                Buffer<HalfArray> rmsHalf = poisoned(backend, ElementType.F16, rows * hidden, "rmsHalf");
                Buffer<HalfArray> lnHalf = poisoned(backend, ElementType.F16, rows * hidden, "lnHalf");
                Grid grid = Grid.groups(rows, Norms.THREADS);
                TaskGraph g = new TaskGraph("norms");
                g.kernel(Norms::rmsnorm, grid, xb, wb, rmsOut, i32(hidden), f32(eps));
                g.kernel(Norms::layernorm, grid, xb, wb, bb, lnOut, i32(hidden), f32(eps));
                g.kernel(Norms::rmsnormHalf, grid, xb, wb, rmsHalf, i32(hidden), f32(eps));
                g.kernel(Norms::layernormHalf, grid, xb, wb, bb, lnHalf, i32(hidden), f32(eps));
                run(backend, g);
                String what = name + " hidden=" + hidden + " seed=" + seed;
                assertClose(rms, values(backend.read(rmsOut)), Accuracy.F32, "rmsnorm " + what);
                assertClose(ln, values(backend.read(lnOut)), Accuracy.F32, "layernorm " + what);
                assertClose(rms, values(backend.read(rmsHalf)), Accuracy.F16, "rmsnormHalf " + what);
                assertClose(ln, values(backend.read(lnHalf)), Accuracy.F16, "layernormHalf " + what);
            }
        }
    }

    /** The residual bias folded into LayerNorm: x comes back as x + add, and the norm is of that sum. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void addLayernormKeepsTheSumAndNormsIt(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        try (Backend backend = Backends.open(name)) {
            for (int hidden : new int[] {8, 100, 1000, 4096}) {
                int rows = 3;
                FloatArray x = Accuracy.randomFloats(random, rows * hidden);
                FloatArray add = Accuracy.randomFloats(random, hidden);
                FloatArray w = Accuracy.randomFloats(random, hidden);
                FloatArray b = Accuracy.randomFloats(random, hidden);
                float eps = 1e-5f;
                double[] sum = new double[rows * hidden];
                double[] ln = new double[rows * hidden];
                for (int r = 0; r < rows; r++) {
                    double mean = 0, var = 0;
                    for (int i = 0; i < hidden; i++) {
                        sum[r * hidden + i] = (double) (x.get(r * hidden + i) + add.get(i)); // the float32 sum the kernel stores
                        mean += sum[r * hidden + i];
                    }
                    mean /= hidden;
                    for (int i = 0; i < hidden; i++) var += Math.pow(sum[r * hidden + i] - mean, 2);
                    var /= hidden;
                    for (int i = 0; i < hidden; i++) ln[r * hidden + i] = (sum[r * hidden + i] - mean) / Math.sqrt(var + eps) * w.get(i) + b.get(i);
                }
                Buffer<FloatArray> x32 = backend.upload(x, "x32"), x16 = backend.upload(x, "x16");
                Buffer<FloatArray> ab = backend.upload(add, "add"), wb = backend.upload(w, "w"), bb = backend.upload(b, "b");
                Buffer<FloatArray> out = poisoned(backend, ElementType.F32, rows * hidden, "ln");
                Buffer<HalfArray> half = poisoned(backend, ElementType.F16, rows * hidden, "lnHalf");
                Grid grid = Grid.groups(rows, Norms.THREADS);
                TaskGraph g = new TaskGraph("add-norms");
                g.kernel(Norms::addLayernorm, grid, x32, ab, wb, bb, out, i32(hidden), f32(eps));
                g.kernel(Norms::addLayernormHalf, grid, x16, ab, wb, bb, half, i32(hidden), f32(eps));
                run(backend, g);
                String what = name + " hidden=" + hidden + " seed=" + seed;
                assertClose(sum, values(backend.read(x32)), 1e-7, "x + add " + what);
                assertClose(sum, values(backend.read(x16)), 1e-7, "x + add (half variant) " + what);
                assertClose(ln, values(backend.read(out)), Accuracy.F32, "addLayernorm " + what);
                assertClose(ln, values(backend.read(half)), Accuracy.F16, "addLayernormHalf " + what);
            }
        }
    }
}
