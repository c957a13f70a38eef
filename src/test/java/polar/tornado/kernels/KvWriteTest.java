package polar.tornado.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static polar.runtime.Accuracy.values;
import static polar.tornado.graph.Arg.constant;
import static polar.tornado.graph.Arg.i32;
import static polar.tornado.kernels.KernelTesting.run;

import java.util.Arrays;
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
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * {@link Attention#biasWriteKv} (OPT's QKV bias fused with the KV write) against {@code Activations.addBias}
 * then {@link Attention#writeKv} on the same backend: the same float operations, so rows and cache must be
 * bit-identical, for tokens of three sequences at scattered positions of a paged cache (blocks out of order).
 */
class KvWriteTest {

    static java.util.List<String> backends() { return KernelTesting.backends(); }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void biasFusedWithTheKvWriteMatchesAddBiasThenWriteKv(String name) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        int blockSize = 16, maxBlocks = 4, sequences = 3, heads = 4, headDim = 32, kvDim = heads * headDim, stride = 3 * kvDim;
        int[] pos = {0, 17, 63, 5, 40};
        int[] seq = {0, 0, 1, 2, 2};
        int tokens = pos.length;
        int[] table = new int[sequences * maxBlocks];
        for (int i = 0; i < table.length; i++) table[i] = (i * 7 + 3) % table.length; // a permutation
        try (Backend backend = Backends.open(name)) {
            for (boolean half : new boolean[] {false, true}) {
                FloatArray qkv = Accuracy.randomFloats(random, tokens * stride), bias = Accuracy.randomFloats(random, stride);
                int cacheLength = table.length * blockSize * kvDim;
                DeviceArray k0 = half ? Accuracy.randomHalfs(random, cacheLength) : Accuracy.randomFloats(random, cacheLength);
                DeviceArray v0 = half ? Accuracy.randomHalfs(random, cacheLength) : Accuracy.randomFloats(random, cacheLength);
                Buffer<IntArray> positions = backend.upload(IntArray.of(pos), "positions");
                Buffer<IntArray> tokenSeq = backend.upload(IntArray.of(seq), "tokenSeq");
                Buffer<IntArray> blockTable = backend.upload(IntArray.of(table), "blockTable");
                Buffer<FloatArray> b = backend.upload(bias, "bias");
                Buffer<FloatArray> fusedQkv = backend.upload(qkv, "qkv fused"), twoQkv = backend.upload(qkv, "qkv two kernels");
                Buffer<?> fusedK = upload(backend, k0, "k fused"), fusedV = upload(backend, v0, "v fused");
                Buffer<?> twoK = upload(backend, k0, "k two kernels"), twoV = upload(backend, v0, "v two kernels");
                TaskGraph g = new TaskGraph("bias+kv");
                Grid fused = Grid.rows(tokens, stride), write = Grid.rows(tokens, kvDim);
                g.parallel(Activations::addBias, fused, twoQkv, b, i32(tokens), i32(stride));
                if (half) {
                    g.parallel(Attention::biasWriteKvHalf, fused, fusedQkv, b, halfs(fusedK), halfs(fusedV), blockTable, tokenSeq, positions,
                            i32(tokens), i32(stride), i32(kvDim), i32(kvDim), i32(maxBlocks), constant(headDim), constant(blockSize));
                    g.parallel(Attention::writeKvHalf, write, twoQkv, halfs(twoK), halfs(twoV), blockTable, tokenSeq, positions,
                            i32(tokens), i32(stride), i32(kvDim), i32(kvDim), i32(maxBlocks), constant(headDim), constant(blockSize));
                } else {
                    g.parallel(Attention::biasWriteKv, fused, fusedQkv, b, floats(fusedK), floats(fusedV), blockTable, tokenSeq, positions,
                            i32(tokens), i32(stride), i32(kvDim), i32(kvDim), i32(maxBlocks), constant(headDim), constant(blockSize));
                    g.parallel(Attention::writeKv, write, twoQkv, floats(twoK), floats(twoV), blockTable, tokenSeq, positions,
                            i32(tokens), i32(stride), i32(kvDim), i32(kvDim), i32(maxBlocks), constant(headDim), constant(blockSize));
                }
                run(backend, g);
                String what = name + (half ? " float16" : " float32") + " cache, seed=" + seed;
                assertArrayEquals(values(backend.read(twoQkv)), values(backend.read(fusedQkv)), "qkv rows, " + what);
                assertArrayEquals(values(backend.read(twoK)), values(backend.read(fusedK)), "K cache, " + what);
                assertArrayEquals(values(backend.read(twoV)), values(backend.read(fusedV)), "V cache, " + what);
                assertFalse(Arrays.equals(values(k0), values(backend.read(fusedK))), "K cache unchanged, " + what);
            }
        }
    }

    private static Buffer<?> upload(Backend backend, DeviceArray a, String label) {
        return a instanceof HalfArray h ? backend.upload(h, label) : backend.upload((FloatArray) a, label);
    }

    @SuppressWarnings("unchecked")
    private static Buffer<HalfArray> halfs(Buffer<?> b) { return (Buffer<HalfArray>) b; }

    @SuppressWarnings("unchecked")
    private static Buffer<FloatArray> floats(Buffer<?> b) { return (Buffer<FloatArray>) b; }
}
