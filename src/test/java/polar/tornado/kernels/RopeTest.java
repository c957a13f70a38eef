package polar.tornado.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static polar.runtime.Accuracy.assertClose;
import static polar.runtime.Accuracy.values;
import static polar.tornado.graph.Arg.constant;
import static polar.tornado.graph.Arg.i32;
import static polar.tornado.kernels.KernelTesting.run;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import polar.runtime.Accuracy;
import polar.runtime.Backends;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.TaskGraph;
import polar.tornado.runtime.Backend;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;
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
                double[] ref = reference(qkv, pos, inv, tokens, heads, kvHeads, headDim, ropeDims);
                Buffer<FloatArray> data = backend.upload(qkv, "qkv");
                Buffer<IntArray> positions = backend.upload(IntArray.of(pos), "positions");
                Buffer<FloatArray> freq = backend.upload(FloatArray.of(inv), "invFreq");
                TaskGraph g = new TaskGraph("rope");
                g.parallel(Rope::rotate, Grid.rows(tokens, (heads + kvHeads) * ropeDims / 2), data, positions, freq,
                        i32(tokens), i32(stride), i32(heads + kvHeads), constant(headDim), constant(ropeDims));
                run(backend, g);
                assertClose(ref, values(backend.read(data)), Accuracy.F32,
                        "rope " + name + " heads=" + heads + "/" + kvHeads + " headDim=" + headDim + " ropeDims=" + ropeDims + " seed=" + seed);
            }
        }
    }

    /** qkv rows after RoPE, in float64 from float32 angles (as PyTorch computes them). */
    private static double[] reference(FloatArray qkv, int[] pos, float[] inv, int tokens, int heads, int kvHeads, int headDim, int ropeDims) {
        int stride = (heads + 2 * kvHeads) * headDim;
        double[] ref = values(qkv);
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < heads + kvHeads; h++) {
                for (int i = 0; i < ropeDims / 2; i++) {
                    int lo = t * stride + h * headDim + i, hi = lo + ropeDims / 2;
                    double angle = (float) (pos[t] * inv[i]);
                    double x0 = qkv.get(lo), x1 = qkv.get(hi);
                    ref[lo] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
                    ref[hi] = x1 * Math.cos(angle) + x0 * Math.sin(angle);
                }
            }
        }
        return ref;
    }

    /**
     * {@link Rope#rotateWriteKv} (and its float16-cache twin) against {@code rotate} then
     * {@code Attention.writeKv} on the same backend, and its qkv rows against float64: tokens of
     * three sequences at scattered positions of a paged cache (blocks out of order), full and
     * partial rotary dimensions; cache slots of other positions must keep their values.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void fusedWithTheKvWriteMatchesRotateThenWriteKv(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        int blockSize = 16, maxBlocks = 4, sequences = 3;
        try (Backend backend = Backends.open(name)) {
            for (int[] c : new int[][] {{4, 2, 32, 32}, {3, 3, 64, 16}, {2, 1, 8, 8}}) {
                for (boolean half : new boolean[] {false, true}) {
                    int heads = c[0], kvHeads = c[1], headDim = c[2], ropeDims = c[3];
                    int kvDim = kvHeads * headDim, stride = (heads + 2 * kvHeads) * headDim;
                    int[] pos = {0, 17, 63, 5, 40};
                    int[] seq = {0, 0, 1, 2, 2};
                    int tokens = pos.length;
                    int[] table = new int[sequences * maxBlocks];
                    for (int i = 0; i < table.length; i++) table[i] = (i * 7 + 3) % table.length; // a permutation
                    float[] inv = new float[ropeDims / 2];
                    for (int i = 0; i < inv.length; i++) inv[i] = (float) Math.pow(10000, -2.0 * i / ropeDims);
                    FloatArray qkv = Accuracy.randomFloats(random, tokens * stride);
                    int cacheLength = table.length * blockSize * kvDim;
                    DeviceArray k0 = half ? Accuracy.randomHalfs(random, cacheLength) : Accuracy.randomFloats(random, cacheLength);
                    DeviceArray v0 = half ? Accuracy.randomHalfs(random, cacheLength) : Accuracy.randomFloats(random, cacheLength);
                    ElementType<?> cacheType = half ? ElementType.F16 : ElementType.F32;

                    Buffer<IntArray> positions = backend.upload(IntArray.of(pos), "positions");
                    Buffer<IntArray> tokenSeq = backend.upload(IntArray.of(seq), "tokenSeq");
                    Buffer<IntArray> blockTable = backend.upload(IntArray.of(table), "blockTable");
                    Buffer<FloatArray> freq = backend.upload(FloatArray.of(inv), "invFreq");
                    Buffer<FloatArray> fusedQkv = backend.upload(qkv, "qkv fused"), twoQkv = backend.upload(qkv, "qkv two kernels");
                    Buffer<?> fusedK = backend.upload(k0, "k fused"), fusedV = backend.upload(v0, "v fused");
                    Buffer<?> twoK = backend.upload(k0, "k two kernels"), twoV = backend.upload(v0, "v two kernels");

                    TaskGraph g = new TaskGraph("rope+kv");
                    Grid fusedGrid = Grid.rows(tokens, Rope.rotateWriteKvItems(heads, kvHeads, headDim, ropeDims));
                    Grid rotateGrid = Grid.rows(tokens, (heads + kvHeads) * ropeDims / 2), writeGrid = Grid.rows(tokens, kvDim);
                    if (half) {
                        g.parallel(Rope::rotateWriteKvHalf, fusedGrid, fusedQkv, positions, freq, as(fusedK, ElementType.F16), as(fusedV, ElementType.F16),
                                blockTable, tokenSeq, i32(tokens), i32(heads), i32(kvHeads), i32(maxBlocks), constant(headDim), constant(ropeDims), constant(blockSize));
                    } else {
                        g.parallel(Rope::rotateWriteKv, fusedGrid, fusedQkv, positions, freq, as(fusedK, ElementType.F32), as(fusedV, ElementType.F32),
                                blockTable, tokenSeq, i32(tokens), i32(heads), i32(kvHeads), i32(maxBlocks), constant(headDim), constant(ropeDims), constant(blockSize));
                    }
                    g.parallel(Rope::rotate, rotateGrid, twoQkv, positions, freq, i32(tokens), i32(stride), i32(heads + kvHeads), constant(headDim), constant(ropeDims));
                    if (half) {
                        g.parallel(Attention::writeKvHalf, writeGrid, twoQkv, as(twoK, ElementType.F16), as(twoV, ElementType.F16), blockTable, tokenSeq, positions,
                                i32(tokens), i32(stride), i32(heads * headDim), i32(kvDim), i32(maxBlocks), constant(headDim), constant(blockSize));
                    } else {
                        g.parallel(Attention::writeKv, writeGrid, twoQkv, as(twoK, ElementType.F32), as(twoV, ElementType.F32), blockTable, tokenSeq, positions,
                                i32(tokens), i32(stride), i32(heads * headDim), i32(kvDim), i32(maxBlocks), constant(headDim), constant(blockSize));
                    }
                    run(backend, g);

                    String what = name + " heads=" + heads + "/" + kvHeads + " headDim=" + headDim + " ropeDims=" + ropeDims + " cache " + cacheType + " seed=" + seed;
                    double[] fused = values(backend.read(fusedQkv));
                    assertClose(reference(qkv, pos, inv, tokens, heads, kvHeads, headDim, ropeDims), fused, Accuracy.F32, "qkv vs float64, " + what);
                    assertClose(values(backend.read(twoQkv)), fused, Accuracy.F32, "qkv vs rotate, " + what);
                    assertClose(values(backend.read(twoK)), values(backend.read(fusedK)), Accuracy.F32, "K cache vs writeKv, " + what);
                    assertClose(values(backend.read(twoV)), values(backend.read(fusedV)), Accuracy.F32, "V cache vs writeKv, " + what);
                    assertFalse(Arrays.equals(values(k0), values(backend.read(fusedK))), "K cache unchanged, " + what);
                    for (Buffer<?> b : List.of(positions, tokenSeq, blockTable, freq, fusedQkv, twoQkv, fusedK, fusedV, twoK, twoV)) backend.free(b);
                }
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static <T extends DeviceArray> Buffer<T> as(Buffer<?> b, ElementType<T> type) {
        assertEquals(type, b.type());
        return (Buffer<T>) b;
    }
}
