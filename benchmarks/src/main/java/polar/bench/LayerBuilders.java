package polar.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import polar.tornado.graph.Buffer;
import polar.tornado.kernels.SparseMlp;
import polar.tornado.kernels.HeadRouter;
import polar.tornado.layers.KvBuffers;
import polar.tornado.layers.LayerGraphBuilder;
import polar.tornado.layers.ModelBuffers;
import polar.tornado.layers.Precision;
import polar.tornado.layers.SparseAttentionBuffers;
import polar.tornado.layers.SparseMlpBuffers;
import polar.tornado.layers.StepBuffers;
import polar.tornado.layers.TransformerShape;
import polar.tornado.runtime.Backend;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.IntArray;

/**
 * The engine's layer-graph builder for one benchmark row, with the Polar buffers it needs. Dense
 * rows get {@link LayerGraphBuilder} as the engine builds it. Polar rows get the same builder with
 * {@link LayerGraphBuilder#withSparseAttention} and {@link LayerGraphBuilder#withSparseMlp}, as
 * {@code Engine} wires a loaded {@code PolarSparsity}, but with random routers of the real shapes
 * (trained routers exist only for the tiny models):
 * <ul>
 * <li>attention, layers 1 and up: router {@code [units, hidden]} (activation type, as the engine
 *     uploads it) and bias {@code [units]} float32, units = heads (MHA) or KV groups (GQA); the step
 *     runs its GEMM, bias and {@code TopK.small}, keeping {@link Sparsity#keptHeads} units per sequence;</li>
 * <li>MLP (ReLU models), layers 1 and up, unless the density is above {@link Sparsity#MLP_DENSE_ABOVE}
 *     or the gathered MLP is slower than the dense one at this batch ({@link SparseMlp#fasterThanDense},
 *     the rule the builder applies to an engine's table): router {@code hidden -> r -> ffn} (both in
 *     the activation type, as {@link SparseMlpBuffers} takes them), batch ReLU-sum, {@code TopK.large}
 *     of {@link Sparsity#keptNeurons} neurons, gathered FC1 and FC2 (split-K).</li>
 * </ul>
 * So the timed step does a real Polar step's work, and its selections are router-chosen over random
 * weights and random hidden states: valid (in range, distinct, ascending: {@code TopK}'s contract)
 * and different per sequence, which {@link #checkSelections} verifies after a run.
 *
 * <p>FC2 reads {@code W2t [ffn, hidden]}, the transposed down weight (the engine uploads it in the
 * weights' type: float16 on cuda). Here it is the layer's own
 * down buffer ({@code [hidden, ffn]}, same size and type) read as {@code [ffn, hidden]}: the weights
 * are random either way, the step reads the same bytes as from a transposed copy, and device memory
 * holds what a Polar engine that keeps only {@code W2t} would (OPT-6.7B at batch 64, context 1920
 * has no room for a second copy beside its 64 GB of KV cache).
 */
final class LayerBuilders implements AutoCloseable {
    private final Backend backend;
    private final LayerGraphBuilder builder;
    private final SparseAttentionBuffers attention;
    private final SparseMlpBuffers mlp;
    private final List<Buffer<?>> owned;
    private final Set<Buffer<?>> routerWeights;

    private LayerBuilders(Backend backend, LayerGraphBuilder builder, SparseAttentionBuffers attention, SparseMlpBuffers mlp,
                          List<Buffer<?>> owned, Set<Buffer<?>> routerWeights) {
        this.backend = backend;
        this.builder = builder;
        this.attention = attention;
        this.mlp = mlp;
        this.owned = owned;
        this.routerWeights = routerWeights;
    }

    /**
     * The builder of a row of {@code batch} sequences. Throws UnsupportedOperationException for MLP
     * sparsity on a model whose MLP is not ReLU (Polar gathers neurons of ReLU models only).
     */
    static LayerBuilders create(Backend backend, DeviceRandom random, Sparsity s, TransformerShape shape, Precision precision,
                                ModelBuffers weights, KvBuffers kv, StepBuffers step, int partitionSize, int batch) {
        if (s.mlp() < 1 && shape.mlp() != TransformerShape.Mlp.RELU) {
            throw new UnsupportedOperationException("MLP sparsity (density " + s.mlp() + ") needs a ReLU model; this one's MLP is " + shape.mlp());
        }
        LayerGraphBuilder builder = new LayerGraphBuilder(shape, precision, weights, kv, step, partitionSize);
        List<Buffer<?>> owned = new ArrayList<>();
        Set<Buffer<?>> routers = new HashSet<>();
        try {
            SparseAttentionBuffers attention = s.heads() < 1 ? attention(backend, random, s, shape, precision, batch, owned, routers) : null;
            SparseMlpBuffers mlp = sparseMlp(s, shape, batch) ? mlp(backend, random, s, shape, precision, weights, batch, owned, routers) : null;
            if (attention != null) builder.withSparseAttention(attention);
            if (mlp != null) builder.withSparseMlp(mlp);
            return new LayerBuilders(backend, builder, attention, mlp, owned, routers);
        } catch (RuntimeException | OutOfMemoryError e) {
            for (Buffer<?> b : owned) backend.free(b);
            throw e;
        }
    }

    /** Whether a row of {@code batch} sequences gathers MLP neurons: a ReLU model below the dense fallback density and the dense crossover. */
    static boolean sparseMlp(Sparsity s, TransformerShape shape, int batch) {
        return shape.mlp() == TransformerShape.Mlp.RELU && sparseMlp(s, shape.ffn(), batch);
    }

    /** Whether {@code batch} sequences gather neurons at {@code s}'s MLP density: below the dense fallback and {@link SparseMlp#fasterThanDense}. */
    static boolean sparseMlp(Sparsity s, int ffn, int batch) {
        int keep = s.keptNeurons(ffn);
        return keep < ffn && SparseMlp.fasterThanDense(batch, keep, ffn);
    }

    /** Router units: query heads for MHA, KV groups for GQA (one per KV head either way). */
    static int units(TransformerShape shape) { return shape.kvHeads(); }

    private static SparseAttentionBuffers attention(Backend backend, DeviceRandom random, Sparsity s, TransformerShape shape, Precision precision,
                                                    int batch, List<Buffer<?>> owned, Set<Buffer<?>> routers) {
        int units = units(shape), keep = s.keptHeads(units);
        List<Buffer<?>> w = new ArrayList<>(Collections.nCopies(shape.layers(), null));
        List<Buffer<FloatArray>> bias = new ArrayList<>(Collections.nCopies(shape.layers(), null));
        int[] k = new int[shape.layers()];
        for (int l = 1; l < shape.layers(); l++) { // layer 0 stays dense, as in the engine
            w.set(l, keep(owned, random.allocate(precision.activations(), (long) units * shape.hidden(), "bench.router" + l + ".weight")));
            bias.set(l, keep(owned, random.allocate(ElementType.F32, units, "bench.router" + l + ".bias")));
            routers.add(w.get(l));
            k[l] = keep;
        }
        return new SparseAttentionBuffers(units, w, bias, k,
                keep(owned, backend.allocate(ElementType.F32, (long) batch * units, "bench.routerScores")),
                keep(owned, backend.allocate(ElementType.I32, (long) batch * keep, "bench.selected")),
                keep(owned, backend.allocate(ElementType.F32, HeadRouter.partialLength(batch, units), "bench.routerPartial")),
                keep(owned, backend.allocate(ElementType.I32, batch, "bench.routerArrivals")));
    }

    private static SparseMlpBuffers mlp(Backend backend, DeviceRandom random, Sparsity s, TransformerShape shape, Precision precision,
                                        ModelBuffers weights, int batch, List<Buffer<?>> owned, Set<Buffer<?>> routers) {
        int layers = shape.layers(), ffn = shape.ffn(), hidden = shape.hidden(), rank = StepBytes.routerRank(hidden);
        int keep = s.keptNeurons(ffn);
        List<Buffer<?>> down = new ArrayList<>(Collections.nCopies(layers, null));
        List<Buffer<?>> up = new ArrayList<>(Collections.nCopies(layers, null));
        List<Buffer<?>> w2t = new ArrayList<>(Collections.nCopies(layers, null));
        int[] ranks = new int[layers];
        int[][] k = new int[layers][batch];
        for (int l = 1; l < layers; l++) {
            down.set(l, keep(owned, random.allocate(precision.activations(), (long) rank * hidden, "bench.mlpRouter" + l + ".down")));
            up.set(l, keep(owned, random.allocate(precision.activations(), (long) ffn * rank, "bench.mlpRouter" + l + ".up")));
            routers.add(down.get(l));
            routers.add(up.get(l));
            w2t.set(l, weights.layers().get(l).down()); // [hidden, ffn] read as [ffn, hidden]: see the class comment
            ranks[l] = rank;
            Arrays.fill(k[l], keep);
        }
        return new SparseMlpBuffers(down, up, ranks, w2t, k, false,
                keep(owned, backend.allocate(precision.activations(), (long) batch * rank, "bench.mlpRouterLow")),
                keep(owned, backend.allocate(ElementType.F32, (long) batch * ffn, "bench.mlpRouterScores")),
                keep(owned, backend.allocate(ElementType.F32, ffn, "bench.mlpScoreSums")),
                keep(owned, backend.allocate(ElementType.I32, keep, "bench.mlpActive")),
                keep(owned, backend.allocate(ElementType.F32, (long) batch * keep, "bench.mlpH")),
                keep(owned, backend.allocate(ElementType.F32, SparseMlpBuffers.partialLength(hidden), "bench.mlpPartial")),
                keep(owned, backend.allocate(ElementType.I32, SparseMlpBuffers.arrivalsLength(batch, hidden), "bench.mlpArrivals")));
    }

    /** Device bytes {@link #create} allocates for a row (router weights and scratch), for the memory check. */
    static long allocatedBytes(Sparsity s, TransformerShape shape, Precision precision, int batch) {
        long act = precision.activations().bytes(), hidden = shape.hidden(), layers = shape.layers() - 1;
        long bytes = 0;
        if (s.heads() < 1) {
            int units = units(shape);
            bytes += layers * (units * hidden * act + 4L * units) + 4L * batch * units + 4L * batch * s.keptHeads(units);
        }
        if (sparseMlp(s, shape, batch)) {
            long ffn = shape.ffn(), rank = StepBytes.routerRank(shape.hidden()), keep = s.keptNeurons(shape.ffn());
            bytes += layers * (rank * hidden + ffn * rank) * act + act * batch * rank
                    + 4 * (batch * ffn + ffn + keep + batch * keep + SparseMlpBuffers.partialLength(shape.hidden()));
        }
        return bytes;
    }

    private static <T extends polar.tornado.types.DeviceArray> Buffer<T> keep(List<Buffer<?>> owned, Buffer<T> b) {
        owned.add(b);
        return b;
    }

    LayerGraphBuilder builder() { return builder; }

    /** Whether {@code b} is a router weight (the breakdown counts GEMMs over them as router work). */
    boolean isRouterWeight(Buffer<?> b) { return routerWeights.contains(b); }

    /**
     * Reads back the selections the last routed layer made in the last run and checks them: each
     * sequence's units (in range, ascending, so distinct) and the batch's neurons. Returns what it
     * found, for the JSON; throws IllegalStateException on an invalid selection.
     */
    Map<String, Object> checkSelections(int batch) {
        Map<String, Object> found = new LinkedHashMap<>();
        if (attention != null) {
            int k = attention.k()[attention.k().length - 1], units = attention.units();
            int[] selected = read(attention.selected(), (long) batch * k);
            String bad = invalid(selected, batch, k, units);
            if (bad != null) throw new IllegalStateException("attention selection: " + bad);
            Set<List<Integer>> distinct = new HashSet<>();
            for (int b = 0; b < batch; b++) distinct.add(Arrays.stream(selected, b * k, b * k + k).boxed().toList());
            found.put("heads_per_sequence", k);
            found.put("units", units);
            found.put("distinct_head_sets", distinct.size());
            found.put("first_sequence_heads", Arrays.stream(selected, 0, k).boxed().toList());
        }
        if (mlp != null) {
            int ffn = Math.toIntExact(mlp.sums().length());
            int k = mlp.k()[mlp.k().length - 1][batch - 1];
            int[] active = read(mlp.active(), k);
            String bad = invalid(active, 1, k, ffn);
            if (bad != null) throw new IllegalStateException("MLP selection: " + bad);
            found.put("neurons", k);
            found.put("ffn", ffn);
        }
        return found;
    }

    private int[] read(Buffer<IntArray> buffer, long count) {
        IntArray host = new IntArray(Math.toIntExact(count));
        backend.read(buffer, 0, host.segment(), count);
        int[] values = new int[host.getSize()];
        for (int i = 0; i < values.length; i++) values[i] = host.get(i);
        return values;
    }

    /**
     * Why {@code rows} rows of {@code k} indices are not a valid selection out of {@code n}, or null:
     * every index in [0, n) and each row strictly ascending ({@code TopK} writes them so; distinct follows).
     */
    static String invalid(int[] indices, int rows, int k, int n) {
        if (indices.length != rows * k) return "expected " + rows + " x " + k + " indices, got " + indices.length;
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < k; j++) {
                int v = indices[r * k + j];
                if (v < 0 || v >= n) return "row " + r + " index " + j + " is " + v + ", outside [0, " + n + ")";
                if (j > 0 && v <= indices[r * k + j - 1]) return "row " + r + " is not strictly ascending at " + j + ": " + indices[r * k + j - 1] + ", " + v;
            }
        }
        return null;
    }

    @Override
    public void close() {
        for (Buffer<?> b : owned) backend.free(b);
        owned.clear();
    }
}
