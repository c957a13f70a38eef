package polar.tornado.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static polar.runtime.Accuracy.assertClose;
import static polar.runtime.Accuracy.values;
import static polar.tornado.graph.Arg.constant;
import static polar.tornado.graph.Arg.f32;
import static polar.tornado.graph.Arg.i32;
import static polar.tornado.kernels.KernelTesting.poisoned;
import static polar.tornado.kernels.KernelTesting.run;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
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
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * KV writes into a paged cache (blocks handed out in shuffled order, the cache poisoned with NaN
 * first) and causal attention over it against float64: sequences of different lengths in one
 * launch, several query tokens per sequence (prefill) or one (decode), GQA and MHA, contexts of
 * several tiles, split-K on and off. Blocks no sequence owns must stay untouched.
 */
class AttentionTest {
    static final int BLOCK = 16;

    static List<String> backends() { return KernelTesting.backends(); }

    @SuppressWarnings("unchecked")
    private static <T extends polar.tornado.types.DeviceArray> Buffer<T> cast(Buffer<?> b) { return (Buffer<T>) b; }

    /** One launch: {@code queries} last positions of each sequence attend; {@code partitions} of {@code partitionSize} positions. */
    record Case(int heads, int kvHeads, int headDim, int[] lengths, int queries, int partitions, int partitionSize) {
        @Override
        public String toString() {
            return "heads=" + heads + "/" + kvHeads + " headDim=" + headDim + " lengths=" + Arrays.toString(lengths)
                    + " queries/seq=" + queries + " partitions=" + partitions + "x" + partitionSize;
        }
    }

    static final List<Case> CASES = List.of(
            new Case(8, 2, 32, new int[] {1, 37, 300}, 4, 1, 1024),      // GQA prefill, several tiles, no split
            new Case(8, 2, 32, new int[] {1, 37, 300}, 1, 4, 80),        // GQA decode, split-K
            new Case(4, 4, 8, new int[] {5, 130}, 130, 1, 1024),         // MHA, tiny heads, every position queried
            new Case(8, 1, 64, new int[] {200, 17}, 1, 3, 96),           // one KV head for 8 query heads, split-K
            new Case(2, 1, 160, new int[] {40, 3}, 2, 1, 16));           // heads over two slices of 128; one partition covers all, whatever its size

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void pagedAttentionMatchesFloat64(String name) {
        long seed = Accuracy.seed();
        try (Backend backend = Backends.open(name)) {
            for (Case c : CASES) {
                check(backend, c, false, new Random(seed), name + " " + c + " seed=" + seed);
                check(backend, c, true, new Random(seed), name + " " + c + " float16 seed=" + seed);
            }
        }
    }

    /** With {@code half}, the float16 kernels: the cache rounds K and V to float16 (so does the reference), the output is float16. */
    private static void check(Backend backend, Case c, boolean half, Random random, String what) {
        int qDim = c.heads * c.headDim, kvDim = c.kvHeads * c.headDim, stride = qDim + 2 * kvDim, group = c.heads / c.kvHeads;
        int sequences = c.lengths.length;
        int maxBlocks = Arrays.stream(c.lengths).map(l -> (l + BLOCK - 1) / BLOCK).max().orElseThrow();
        int used = Arrays.stream(c.lengths).map(l -> (l + BLOCK - 1) / BLOCK).sum();
        int blocks = used + 3; // three blocks nobody owns
        List<Integer> order = new ArrayList<>();
        for (int b = 0; b < blocks; b++) order.add(b);
        Collections.shuffle(order, random);
        int[] table = new int[sequences * maxBlocks];
        int next = 0;
        for (int s = 0; s < sequences; s++) for (int i = 0; i < (c.lengths[s] + BLOCK - 1) / BLOCK; i++) table[s * maxBlocks + i] = order.get(next++);

        // Every position's K and V, written through the kernel from fused QKV rows.
        int total = Arrays.stream(c.lengths).sum();
        FloatArray history = Accuracy.randomFloats(random, total * stride);
        double[] kv = new double[history.getSize()]; // K and V as the cache holds them
        for (int i = 0; i < kv.length; i++) kv[i] = half ? Float.float16ToFloat(Float.floatToFloat16(history.get(i))) : history.get(i);
        int[] histSeq = new int[total], histPos = new int[total], first = new int[sequences];
        for (int s = 0, t = 0; s < sequences; s++) {
            first[s] = t;
            for (int p = 0; p < c.lengths[s]; p++, t++) {
                histSeq[t] = s;
                histPos[t] = p;
            }
        }
        // The query tokens: the last positions of each sequence.
        List<int[]> queries = new ArrayList<>();
        for (int s = 0; s < sequences; s++) {
            for (int p = Math.max(0, c.lengths[s] - c.queries); p < c.lengths[s]; p++) queries.add(new int[] {s, p});
        }
        int tokens = queries.size();
        FloatArray q = Accuracy.randomFloats(random, tokens * stride);
        int[] qSeq = queries.stream().mapToInt(x -> x[0]).toArray(), qPos = queries.stream().mapToInt(x -> x[1]).toArray();

        double[] ref = new double[tokens * qDim];
        double scale = 1 / Math.sqrt(c.headDim);
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < c.heads; h++) {
                int kvh = h / group, n = qPos[t] + 1;
                double[] w = new double[n];
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < n; j++) {
                    int row = (first[qSeq[t]] + j) * stride;
                    for (int d = 0; d < c.headDim; d++) w[j] += (double) q.get(t * stride + h * c.headDim + d) * kv[row + qDim + kvh * c.headDim + d];
                    w[j] *= scale;
                    max = Math.max(max, w[j]);
                }
                for (int j = 0; j < n; j++) sum += w[j] = Math.exp(w[j] - max);
                for (int j = 0; j < n; j++) {
                    int row = (first[qSeq[t]] + j) * stride;
                    for (int d = 0; d < c.headDim; d++) {
                        ref[t * qDim + h * c.headDim + d] += w[j] / sum * kv[row + qDim + kvDim + kvh * c.headDim + d];
                    }
                }
            }
        }

        int cacheSize = blocks * BLOCK * kvDim;
        ElementType<?> type = half ? ElementType.F16 : ElementType.F32;
        Buffer<?> k = poisoned(backend, type, cacheSize, "k");
        Buffer<?> v = poisoned(backend, type, cacheSize, "v");
        Buffer<IntArray> blockTable = backend.upload(IntArray.of(table), "blockTable");
        Buffer<?> out = poisoned(backend, type, tokens * qDim, "out");
        Buffer<FloatArray> partOut = poisoned(backend, ElementType.F32, tokens * c.partitions * qDim, "partOut");
        Buffer<FloatArray> partStats = poisoned(backend, ElementType.F32, tokens * c.partitions * c.heads * 2, "partStats");
        Buffer<IntArray> arrivals = backend.allocate(ElementType.I32, tokens * c.kvHeads, "arrivals");
        Buffer<IntArray> queryPositions = backend.upload(IntArray.of(qPos), "positions");
        Buffer<FloatArray> historyBuffer = backend.upload(history, "history"), queryBuffer = backend.upload(q, "q");
        Buffer<IntArray> histSeqBuffer = backend.upload(IntArray.of(histSeq), "histSeq"), histPosBuffer = backend.upload(IntArray.of(histPos), "histPos");
        Buffer<IntArray> qSeqBuffer = backend.upload(IntArray.of(qSeq), "qSeq");
        Grid writeGrid = Grid.rows(total, kvDim), attentionGrid = Grid.groups(c.kvHeads, tokens, c.partitions, Attention.THREADS);
        TaskGraph g = new TaskGraph("attention");
        if (half) {
            Buffer<HalfArray> kh = cast(k), vh = cast(v), oh = cast(out);
            g.parallel(Attention::writeKvHalf, writeGrid, historyBuffer, kh, vh, blockTable, histSeqBuffer, histPosBuffer,
                    i32(total), i32(stride), i32(qDim), i32(kvDim), i32(maxBlocks), constant(c.headDim), constant(BLOCK));
            g.kernel(Attention::pagedHalf, attentionGrid, queryBuffer, kh, vh, blockTable, qSeqBuffer, queryPositions, oh, partOut, partStats, arrivals,
                    i32(stride), i32(maxBlocks), i32(c.partitionSize), i32(c.partitions), f32((float) scale),
                    constant(c.headDim), constant(group), constant(c.kvHeads), constant(BLOCK));
        } else {
            Buffer<FloatArray> kf = cast(k), vf = cast(v), of = cast(out);
            g.parallel(Attention::writeKv, writeGrid, historyBuffer, kf, vf, blockTable, histSeqBuffer, histPosBuffer,
                    i32(total), i32(stride), i32(qDim), i32(kvDim), i32(maxBlocks), constant(c.headDim), constant(BLOCK));
            g.kernel(Attention::paged, attentionGrid, queryBuffer, kf, vf, blockTable, qSeqBuffer, queryPositions, of, partOut, partStats, arrivals,
                    i32(stride), i32(maxBlocks), i32(c.partitionSize), i32(c.partitions), f32((float) scale),
                    constant(c.headDim), constant(group), constant(c.kvHeads), constant(BLOCK));
        }
        run(backend, g);
        assertClose(ref, values(backend.read(out)), half ? Accuracy.F16 : Accuracy.F32, "attention " + what);
        // with split-K the last partition of each (KV head, token) merged and put its counter back to zero for the next launch
        IntArray counts = backend.read(arrivals);
        for (int i = 0; i < counts.getSize(); i++) assertEquals(0, counts.get(i), what + ": arrivals[" + i + "] after the launch");

        double[] kHost = values(backend.read(k));
        for (int b = used; b < blocks; b++) {
            int block = order.get(b);
            for (int i = 0; i < BLOCK * kvDim; i++) {
                double x = kHost[block * BLOCK * kvDim + i];
                if (!Double.isNaN(x)) assertTrue(false, what + ": unowned block " + block + " was written (element " + i + " = " + x + ")");
            }
        }
    }
}
