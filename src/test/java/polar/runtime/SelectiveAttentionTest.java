package polar.runtime;

import static polar.runtime.Accuracy.assertClose;
import static polar.runtime.Accuracy.values;
import static polar.runtime.SparseTesting.poisoned;
import static polar.tornado.graph.Arg.constant;
import static polar.tornado.graph.Arg.f32;
import static polar.tornado.graph.Arg.i32;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.Attention;
import polar.tornado.kernels.SelectiveAttention;
import polar.tornado.runtime.Backend;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * Selective attention against the dense paged attention kernel on the same backend (selected
 * heads bit-identical, the others zero) and against float64 attention, on random paged caches
 * holding sequences of several lengths, for MHA and GQA, with and without split-K, float32 and
 * float16 caches.
 * Replay a failure with {@code -Dpolar.seed=S}.
 */
class SelectiveAttentionTest {

    static List<String> backends() {
        return polar.engine.TestBackends.names();
    }

    /** A model's attention shape: {@code kvHeads} units of {@code group} query heads each. */
    record Shape(String name, int kvHeads, int group, int headDim) {
        int heads() { return kvHeads * group; }
        int width() { return group * headDim; }
        int qDim() { return heads() * headDim; }
        int kvDim() { return kvHeads * headDim; }
        int qkvDim() { return qDim() + 2 * kvDim(); }
    }

    static final Shape MHA = new Shape("mha", 8, 1, 32);
    static final Shape GQA = new Shape("gqa", 4, 2, 32);
    static final int BLOCK = 16;
    /** Decode tokens' sequence lengths: within a tile, across tiles (TILE = 128) and across partitions. */
    static final int[] LENGTHS = {1, 17, 128, 300, 129};

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void halfTheUnitsMatchDenseWithTheOthersZeroed(String name) {
        for (Shape shape : new Shape[] {MHA, GQA}) {
            check(name, shape, shape.kvHeads() / 2, 1, false);
            check(name, shape, shape.kvHeads() / 2, Attention.TILE, false);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void everyUnitSelectedIsExactlyDense(String name) {
        check(name, MHA, MHA.kvHeads(), Attention.TILE, false);
        check(name, GQA, GQA.kvHeads(), 1, false);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void oneUnitSelected(String name) {
        check(name, GQA, 1, Attention.TILE, false);
    }

    /** The float16 cache and output of the CUDA precision. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void float16CacheAndOutput(String name) {
        check(name, GQA, 3, Attention.TILE, true);
        check(name, MHA, MHA.kvHeads(), 1, true);
    }

    /**
     * One decode step of {@link #LENGTHS} sequences with {@code k} units selected per token, split
     * into partitions of {@code partitionSize} positions (or none when {@code partitionSize == 1}),
     * with a float32 or ({@code half}) float16 cache and output.
     */
    static void check(String name, Shape s, int k, int partitionSize, boolean half) {
        long seed = Accuracy.seed();
        Random random = new Random(seed);
        int tokens = LENGTHS.length;
        int maxLength = Arrays.stream(LENGTHS).max().orElseThrow();
        int partitions = partitionSize == 1 ? 1 : (maxLength + partitionSize - 1) / partitionSize;
        int span = partitions == 1 ? maxLength : partitionSize;
        int maxBlocks = (maxLength + BLOCK - 1) / BLOCK;
        String what = name + " " + s.name() + (half ? " f16" : " f32") + " k=" + k + " partitions=" + partitions + " seed=" + seed;

        // Sequences own blocks scattered over the cache; token t's sequence is block-table row rowOf[t].
        int[] rowOf = SparseTesting.randomSubset(random, tokens, tokens);
        int totalBlocks = tokens * maxBlocks + 3;
        int[] physical = SparseTesting.randomSubset(random, totalBlocks, totalBlocks);
        IntArray blockTable = IntArray.of(Arrays.copyOf(physical, tokens * maxBlocks));
        IntArray positions = new IntArray(tokens);
        for (int t = 0; t < tokens; t++) positions.set(t, LENGTHS[t] - 1);
        int cacheSize = totalBlocks * BLOCK * s.kvDim();
        DeviceArray kCache = half ? Accuracy.randomHalfs(random, cacheSize) : Accuracy.randomFloats(random, cacheSize);
        DeviceArray vCache = half ? Accuracy.randomHalfs(random, cacheSize) : Accuracy.randomFloats(random, cacheSize);
        FloatArray qkv = Accuracy.randomFloats(random, tokens * s.qkvDim());
        for (int i = 0; i < tokens * s.qkvDim(); i++) qkv.set(i, qkv.get(i) * 3); // a peaked softmax, not a flat one
        IntArray selected = new IntArray(tokens * k);
        boolean[][] isSelected = new boolean[tokens][s.kvHeads()];
        for (int t = 0; t < tokens; t++) {
            int[] units = SparseTesting.randomSubset(random, s.kvHeads(), k);
            for (int m = 0; m < k; m++) {
                selected.set(t * k + m, units[m]);
                isSelected[t][units[m]] = true;
            }
        }

        try (Backend backend = Backends.open(name)) {
            var qkvB = backend.upload(qkv, "qkv");
            Buffer<?> kB = backend.upload(kCache, "kCache");
            Buffer<?> vB = backend.upload(vCache, "vCache");
            var tableB = backend.upload(blockTable, "blockTable");
            var seqB = backend.upload(IntArray.of(rowOf), "tokenSeq");
            var posB = backend.upload(positions, "positions");
            var selB = backend.upload(selected, "selected");
            ElementType<?> outType = half ? ElementType.F16 : ElementType.F32;
            Buffer<?> dense = poisoned(backend, outType, tokens * s.qDim(), "dense");
            Buffer<?> sparse = poisoned(backend, outType, tokens * s.qDim(), "selective");
            int parts = partitions > 1 ? tokens * partitions : 0;
            var densePartOut = poisoned(backend, ElementType.F32, parts * s.qDim(), "densePartOut");
            var densePartStats = poisoned(backend, ElementType.F32, parts * s.heads() * 2, "densePartStats");
            var partOut = poisoned(backend, ElementType.F32, parts * s.qDim(), "partOut");
            var partStats = poisoned(backend, ElementType.F32, parts * s.heads() * 2, "partStats");
            var denseArrivals = backend.allocate(ElementType.I32, tokens * s.kvHeads(), "denseArrivals");
            var arrivals = backend.allocate(ElementType.I32, tokens * s.kvHeads(), "arrivals");
            var qStride = i32(s.qkvDim());
            var scale = f32((float) (1 / Math.sqrt(s.headDim())));
            Grid denseGrid = Grid.groups(s.kvHeads(), tokens, partitions, Attention.THREADS);
            // What the builder adds for a sparse layer: the selective kernel over k slots (with split-K it merges its partitions itself).
            Grid selectiveGrid = Grid.groups(k, tokens, partitions, Attention.THREADS);

            TaskGraph g = new TaskGraph("attention");
            if (half) {
                Buffer<HalfArray> kH = cast(kB), vH = cast(vB), denseH = cast(dense), sparseH = cast(sparse);
                g.kernel(Attention::pagedHalf, denseGrid, qkvB, kH, vH, tableB, seqB, posB, denseH, densePartOut, densePartStats, denseArrivals,
                        qStride, i32(maxBlocks), i32(span), i32(partitions), scale,
                        constant(s.headDim()), constant(s.group()), constant(s.kvHeads()), constant(BLOCK));
                g.kernel(SelectiveAttention::pagedHalf, selectiveGrid, qkvB, kH, vH, tableB, seqB, posB, selB, sparseH, partOut, partStats, arrivals,
                        qStride, i32(maxBlocks), i32(span), i32(partitions), scale, i32(k),
                        constant(s.headDim()), constant(s.group()), constant(s.kvHeads()), constant(BLOCK));
            } else {
                Buffer<FloatArray> kF = cast(kB), vF = cast(vB), denseF = cast(dense), sparseF = cast(sparse);
                g.kernel(Attention::paged, denseGrid, qkvB, kF, vF, tableB, seqB, posB, denseF, densePartOut, densePartStats, denseArrivals,
                        qStride, i32(maxBlocks), i32(span), i32(partitions), scale,
                        constant(s.headDim()), constant(s.group()), constant(s.kvHeads()), constant(BLOCK));
                g.kernel(SelectiveAttention::paged, selectiveGrid, qkvB, kF, vF, tableB, seqB, posB, selB, sparseF, partOut, partStats, arrivals,
                        qStride, i32(maxBlocks), i32(span), i32(partitions), scale, i32(k),
                        constant(s.headDim()), constant(s.group()), constant(s.kvHeads()), constant(BLOCK));
            }
            SparseTesting.run(backend, g);

            double[] masked = values(backend.read(dense));
            for (int t = 0; t < tokens; t++) {
                for (int i = 0; i < s.qDim(); i++) if (!isSelected[t][i / s.width()]) masked[t * s.qDim() + i] = 0;
            }
            double[] out = values(backend.read(sparse));
            // The dense kernel's operations in the same order: equal to the last bit.
            assertClose(masked, out, 0, "selective vs dense " + what);
            assertClose(reference(s, qkv, values(kCache), values(vCache), blockTable, rowOf, positions, maxBlocks, isSelected), out,
                    half ? Accuracy.F16 : Accuracy.F32, "selective vs float64 " + what);
        }
    }

    @SuppressWarnings("unchecked")
    static <T extends DeviceArray> Buffer<T> cast(Buffer<?> buffer) {
        return (Buffer<T>) buffer;
    }

    /** Float64 causal attention of each token over its sequence, zero for unselected units. */
    static double[] reference(Shape s, FloatArray qkv, double[] kCache, double[] vCache, IntArray blockTable, int[] rowOf,
                              IntArray positions, int maxBlocks, boolean[][] isSelected) {
        int tokens = rowOf.length;
        double[] out = new double[tokens * s.qDim()];
        double scale = 1 / Math.sqrt(s.headDim());
        for (int t = 0; t < tokens; t++) {
            int length = positions.get(t) + 1;
            for (int h = 0; h < s.heads(); h++) {
                int unit = h / s.group();
                if (!isSelected[t][unit]) continue;
                double[] p = new double[length];
                double max = Double.NEGATIVE_INFINITY;
                for (int pos = 0; pos < length; pos++) {
                    int row = cacheRow(s, blockTable, rowOf[t] * maxBlocks, pos, unit);
                    double dot = 0;
                    for (int d = 0; d < s.headDim(); d++) dot += qkv.get(t * s.qkvDim() + h * s.headDim() + d) * kCache[row + d];
                    p[pos] = dot * scale;
                    max = Math.max(max, p[pos]);
                }
                double sum = 0;
                for (int pos = 0; pos < length; pos++) {
                    p[pos] = Math.exp(p[pos] - max);
                    sum += p[pos];
                }
                for (int pos = 0; pos < length; pos++) {
                    int row = cacheRow(s, blockTable, rowOf[t] * maxBlocks, pos, unit);
                    for (int d = 0; d < s.headDim(); d++) out[t * s.qDim() + h * s.headDim() + d] += p[pos] / sum * vCache[row + d];
                }
            }
        }
        return out;
    }

    /** Start of position {@code pos}'s row for {@code kvHead}: cache layout {@code [block][kvHead][slot][headDim]}. */
    static int cacheRow(Shape s, IntArray blockTable, int table, int pos, int kvHead) {
        int block = blockTable.get(table + pos / BLOCK);
        return block * BLOCK * s.kvDim() + (kvHead * BLOCK + pos % BLOCK) * s.headDim();
    }
}
