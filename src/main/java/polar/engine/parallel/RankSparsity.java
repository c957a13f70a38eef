package polar.engine.parallel;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import polar.engine.HostArrays;
import polar.engine.sparsity.MlpScore;
import polar.engine.sparsity.MlpTable;
import polar.engine.sparsity.PolarSparsity;
import polar.engine.sparsity.RouterWeights;
import polar.model.Model;
import polar.tornado.graph.Buffer;
import polar.tornado.kernels.HeadRouter;
import polar.tornado.layers.ModelBuffers;
import polar.tornado.layers.Precision;
import polar.tornado.layers.SparseAttentionBuffers;
import polar.tornado.layers.SparseMlpBuffers;
import polar.tornado.layers.TransformerShape;
import polar.tornado.runtime.Backend;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;

/**
 * Polar Sparsity on one tensor-parallel rank, on the rank's device.
 * <ul>
 *   <li>Attention: every rank holds every layer's whole router and picks each token's units over all
 *       of the model's units ({@link #routing}: the same selection on every rank, which holds the same
 *       hidden state); {@link #attention} is the rank's own view of it: its units
 *       {@code [firstUnit, firstUnit + units)}, at most {@code min(k, units)} of them per token
 *       (the rank's share of the selection, padded; see {@link polar.tornado.kernels.RankKernels#localize}).</li>
 *   <li>MLP (ReLU models): the router's first matrix whole, its second one's rows of the rank's
 *       neurons (both in the activations' type), and the rank's down projection transposed (in the weights' type); each rank takes the top
 *       {@code ceil(k / ranks)} of its own neurons (k split by rank), over the batch as on one device.</li>
 * </ul>
 */
final class RankSparsity implements AutoCloseable {
    private final Backend backend;
    private final List<Buffer<?>> owned = new ArrayList<>();
    /** Over every unit of the model (null: attention stays dense). */
    final SparseAttentionBuffers routing;
    /** The rank's units (null with {@link #routing}). */
    final SparseAttentionBuffers attention;
    final int firstUnit;
    /** The rank's MLP (null: dense). */
    final SparseMlpBuffers mlp;

    /**
     * @param weights    the rank's weights on its device
     * @param rankModel  the rank's share of the model ({@link Sharding#rank})
     * @param shape      the rank's transformer shape
     * @param maxTokens  tokens of the largest step
     */
    RankSparsity(Backend backend, Precision precision, ModelBuffers weights, PolarSparsity sparsity, Model rankModel, TransformerShape shape,
                 int rank, int ranks, int maxTokens, int maxSequences) {
        this.backend = backend;
        try {
            int units = sparsity.plan().units(), localUnits = units / ranks;
            this.firstUnit = rank * localUnits;
            List<Buffer<?>> routers = new ArrayList<>();
            List<Buffer<FloatArray>> biases = new ArrayList<>();
            int layers = shape.layers();
            int[] k = new int[layers], kLocal = new int[layers], inner = new int[layers];
            List<Buffer<?>> innerW = new ArrayList<>();
            List<Buffer<FloatArray>> innerB = new ArrayList<>();
            for (int l = 0; l < layers; l++) {
                RouterWeights.AttentionRouter r = sparsity.routesAttention(l) ? sparsity.routers().attention(l) : null;
                routers.add(r == null ? null : own(upload(r.weight(), precision.activations(), "router" + l + ".weight")));
                biases.add(r == null ? null : own(backend.upload(FloatArray.of(r.bias()), "router" + l + ".bias")));
                boolean twoLayer = r != null && r.inner() > 0; // hidden -> inner (ReLU) -> units, as on one device
                innerW.add(twoLayer ? own(upload(r.innerWeight(), precision.activations(), "router" + l + ".inner.weight")) : null);
                innerB.add(twoLayer ? own(backend.upload(FloatArray.of(r.innerBias()), "router" + l + ".inner.bias")) : null);
                inner[l] = twoLayer ? r.inner() : 0;
                k[l] = r == null ? 0 : sparsity.plan().attnK(l);
                kLocal[l] = Math.min(k[l], localUnits);
            }
            if (routers.stream().allMatch(w -> w == null)) {
                routing = attention = null;
            } else {
                int maxK = Math.max(1, Arrays.stream(k).max().orElse(1));
                int maxInner = Arrays.stream(inner).max().orElse(0);
                SparseAttentionBuffers.TwoLayer two = maxInner == 0 ? null : new SparseAttentionBuffers.TwoLayer(innerW, innerB, inner,
                        own(backend.allocate(ElementType.F32, (long) maxTokens * maxInner, "tp.routerInnerPre")),
                        own(backend.allocate(precision.activations(), (long) maxTokens * maxInner, "tp.routerInnerAct")));
                routing = new SparseAttentionBuffers(units, routers, biases, k,
                        own(backend.allocate(ElementType.F32, (long) maxTokens * units, "tp.routerScores")),
                        own(backend.allocate(ElementType.I32, (long) maxTokens * maxK, "tp.selected")),
                        own(backend.allocate(ElementType.F32, HeadRouter.partialLength(maxTokens, units), "tp.routerPartial")),
                        own(backend.allocate(ElementType.I32, maxTokens, "tp.routerArrivals")), false, two);
                attention = new SparseAttentionBuffers(localUnits, routers, biases, kLocal, routing.scores(),
                        own(backend.allocate(ElementType.I32, (long) maxTokens * Math.min(maxK, localUnits), "tp.localSelected")),
                        routing.partial(), routing.arrivals(), false, two);
            }
            this.mlp = mlp(precision, weights, sparsity, rankModel, shape, rank, ranks, maxTokens, maxSequences);
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /** The rank's sparse MLP, or null where every layer's MLP stays dense (as {@link polar.engine.Engine} decides on one device). */
    private SparseMlpBuffers mlp(Precision precision, ModelBuffers weights, PolarSparsity sparsity, Model rankModel, TransformerShape shape,
                                 int rank, int ranks, int maxTokens, int maxSequences) {
        MlpTable table = sparsity.plan().mlp();
        if (table == null || shape.mlp() != TransformerShape.Mlp.RELU) return null;
        int layers = shape.layers(), ffn = shape.ffn(), hidden = shape.hidden();
        List<Buffer<?>> down = new ArrayList<>(), up = new ArrayList<>(), w2t = new ArrayList<>();
        int[] lowRank = new int[layers];
        int[][] k = new int[layers][maxSequences];
        int maxRank = 1;
        boolean any = false;
        for (int l = 0; l < layers; l++) {
            RouterWeights.MlpRouter r = l >= 1 ? sparsity.routers().mlp(l) : null;
            for (int b = 1; b <= maxSequences; b++) {
                int n = r == null ? 0 : table.k(l, b);
                // The whole model's k: 0 (dense) as on one device, else this rank's share.
                k[l][b - 1] = n == 0 || (n == table.ffn() && table.denseAbove() < 1) ? 0 : Math.min(ffn, (n + ranks - 1) / ranks);
            }
            if (Arrays.stream(k[l]).allMatch(n -> n == 0)) {
                down.add(null);
                up.add(null);
                w2t.add(null);
                continue;
            }
            any = true;
            lowRank[l] = r.rank();
            maxRank = Math.max(maxRank, r.rank());
            down.add(own(upload(r.down(), precision.activations(), "mlpRouter" + l + ".down")));
            float[] rows = Arrays.copyOfRange(r.up(), rank * ffn * r.rank(), (rank + 1) * ffn * r.rank()); // [ffn, rank] rows of this rank's neurons
            up.add(own(upload(rows, precision.activations(), "mlpRouter" + l + ".up")));
            float[] t = HostArrays.transposed(rankModel.weights().layers().get(l).down().toFloatArray(), hidden, ffn); // [hidden, ffn] -> [ffn, hidden]
            w2t.add(own(upload(t, weights.layers().get(l).down().type(), "layer" + l + ".w2t"))); // in the device weights' type
        }
        if (!any) return null;
        return new SparseMlpBuffers(down, up, lowRank, w2t, k, table.score() == MlpScore.SOFTPLUS_SUM,
                own(backend.allocate(precision.activations(), (long) maxTokens * maxRank, "tp.mlpRouterLow")),
                own(backend.allocate(ElementType.F32, (long) maxTokens * ffn, "tp.mlpRouterScores")),
                own(backend.allocate(ElementType.F32, ffn, "tp.mlpScoreSums")),
                own(backend.allocate(ElementType.I32, ffn, "tp.mlpActive")),
                own(backend.allocate(ElementType.F32, (long) maxTokens * ffn, "tp.mlpH")),
                own(backend.allocate(ElementType.F32, SparseMlpBuffers.partialLength(hidden), "tp.mlpPartial")),
                own(backend.allocate(ElementType.I32, SparseMlpBuffers.arrivalsLength(maxTokens, hidden), "tp.mlpArrivals")));
    }

    /** {@code values} as float16 or float32 ({@code type}): router matrices in the activations' GEMM type (cuBLAS multiplies one type), w2t in the weights'. */
    private Buffer<?> upload(float[] values, ElementType<?> type, String label) {
        return backend.upload(HostArrays.of(values, type), label);
    }

    private <T extends DeviceArray> Buffer<T> own(Buffer<T> b) {
        owned.add(b);
        return b;
    }

    @Override
    public void close() {
        for (Buffer<?> b : owned) backend.free(b);
        owned.clear();
    }
}
