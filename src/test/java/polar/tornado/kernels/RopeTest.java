package polar.tornado.kernels;

import static polar.runtime.Accuracy.assertClose;
import static polar.runtime.Accuracy.values;
import static polar.tornado.graph.Arg.constant;
import static polar.tornado.graph.Arg.i32;
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
import polar.tornado.types.FloatArray;
import polar.tornado.types.IntArray;

/**
 * Half-split RoPE on the Q and K heads of fused QKV rows against float64, with full and partial
 * rotary dimensions and large positions; V and the unrotated tail of each head stay as they were.
 */
class RopeTest {

    static java.util.List<String> backends() { return KernelTesting.backends(); }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void rotatesQueriesAndKeysInPlace(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        try (Backend backend = Backends.open(name)) {
            for (int[] c : new int[][] {{4, 2, 32, 32}, {3, 3, 64, 16}, {2, 1, 8, 8}}) {
                int heads = c[0], kvHeads = c[1], headDim = c[2], ropeDims = c[3];
                int tokens = 5;
                int stride = (heads + 2 * kvHeads) * headDim;
                FloatArray qkv = Accuracy.randomFloats(random, tokens * stride);
                int[] pos = {0, 1, 17, 999, 4095};
                float[] inv = new float[ropeDims / 2];
                for (int i = 0; i < inv.length; i++) inv[i] = (float) Math.pow(10000, -2.0 * i / ropeDims);
                double[] ref = values(qkv);
                for (int t = 0; t < tokens; t++) {
                    for (int h = 0; h < heads + kvHeads; h++) {
                        for (int i = 0; i < ropeDims / 2; i++) {
                            int lo = t * stride + h * headDim + i, hi = lo + ropeDims / 2;
                            double angle = (float) (pos[t] * inv[i]); // float32 angles, as PyTorch computes them
                            double x0 = qkv.get(lo), x1 = qkv.get(hi);
                            ref[lo] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
                            ref[hi] = x1 * Math.cos(angle) + x0 * Math.sin(angle);
                        }
                    }
                }
                Buffer<FloatArray> data = backend.upload(qkv, "qkv");
                Buffer<IntArray> positions = backend.upload(IntArray.of(pos), "positions");
                Buffer<FloatArray> freq = backend.upload(FloatArray.of(inv), "invFreq");
                TaskGraph g = new TaskGraph("rope");
                g.parallel(Rope::rotate, Grid.of(tokens, (heads + kvHeads) * ropeDims / 2), data, positions, freq,
                        i32(tokens), i32(stride), i32(heads + kvHeads), constant(headDim), constant(ropeDims));
                run(backend, g);
                assertClose(ref, values(backend.read(data)), Accuracy.F32,
                        "rope " + name + " heads=" + heads + "/" + kvHeads + " headDim=" + headDim + " ropeDims=" + ropeDims + " seed=" + seed);
            }
        }
    }
}
