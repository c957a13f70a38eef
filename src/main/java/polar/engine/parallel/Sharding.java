package polar.engine.parallel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import polar.formats.DType;
import polar.formats.Tensor;
import polar.model.LayerWeights;
import polar.model.Model;
import polar.model.ModelConfig;
import polar.model.ModelWeights;

/**
 * Splits a model into the models of {@code N} tensor-parallel ranks, Megatron-style. Each rank
 * gets whole attention heads and a slice of the MLP's neurons, so every rank runs an ordinary
 * (narrower) transformer whose attention and MLP blocks produce partial sums of the full blocks'
 * outputs; summing them over the ranks (an all-reduce) after the output projection and after the
 * MLP's last projection gives the unsplit model's result.
 *
 * <ul>
 *   <li>Q, K, V: rows of whole heads ({@code heads/N} query heads and {@code kvHeads/N} KV heads per
 *       rank; rank {@code r}'s query heads use exactly its KV heads, so GQA groups stay together),
 *       with their bias slices.</li>
 *   <li>O projection: the matching input columns; its bias only on rank 0, so it is counted once in the
 *       sum (the other ranks hold zeros of its shape, so that every rank runs the same kernels).</li>
 *   <li>Llama gate and up, OPT fc1: rows of {@code ffn/N} neurons (fc1's bias sliced alike).</li>
 *   <li>down / fc2: the matching input columns; fc2's bias only on rank 0 (zeros elsewhere).</li>
 *   <li>Norms, token and position embeddings and the LM head are the same tensors on every rank.</li>
 * </ul>
 * A rank's {@link ModelConfig} has {@code heads/N}, {@code kvHeads/N} and {@code ffn/N} (hidden unchanged).
 * Slices are copies in new memory; replicated tensors are shared, not copied.
 */
public final class Sharding {
    private Sharding() {}

    /** The models of ranks {@code 0..ranks-1}; one rank is the model itself. */
    public static List<Model> split(Model model, int ranks) {
        check(model.config(), ranks);
        if (ranks == 1) return List.of(model);
        List<Model> result = new ArrayList<>(ranks);
        for (int r = 0; r < ranks; r++) result.add(rank(model, ranks, r));
        return result;
    }

    /** Rank {@code rank}'s model of {@code ranks}. */
    public static Model rank(Model model, int ranks, int rank) {
        ModelConfig c = model.config();
        check(c, ranks);
        if (rank < 0 || rank >= ranks) throw new IllegalArgumentException("rank " + rank + " is not in 0.." + (ranks - 1));
        Part q = new Part(rank, ranks, c.qDim()), kv = new Part(rank, ranks, c.kvDim()), ffn = new Part(rank, ranks, c.ffn());
        boolean first = rank == 0;
        ModelWeights w = model.weights();
        // Layers that share tensors (synthetic models repeat one layer) share their slices too.
        Map<LayerWeights, LayerWeights> sliced = new IdentityHashMap<>();
        List<LayerWeights> layers = new ArrayList<>();
        for (LayerWeights layer : w.layers()) {
            layers.add(sliced.computeIfAbsent(layer, l -> new LayerWeights(l.attnNorm(), l.attnNormBias(),
                    q.rows(l.wq()), q.elements(l.bq()), kv.rows(l.wk()), kv.elements(l.bk()), kv.rows(l.wv()), kv.elements(l.bv()),
                    q.columns(l.wo()), first ? l.bo() : zeros(l.bo(), rank, ranks),
                    l.mlpNorm(), l.mlpNormBias(),
                    ffn.rows(l.gate()), ffn.rows(l.up()), ffn.elements(l.upBias()), ffn.columns(l.down()), first ? l.downBias() : zeros(l.downBias(), rank, ranks))));
        }
        ModelWeights rankWeights = new ModelWeights(w.tokenEmbedding(), w.positionEmbedding(), layers, w.finalNorm(), w.finalNormBias(), w.lmHead());
        return new Model(rankConfig(c, ranks), rankWeights, model.tokenizer(), model.source());
    }

    /** A tensor of {@code t}'s type and shape holding zeros (null for null). */
    private static Tensor zeros(Tensor t, int rank, int ranks) {
        if (t == null) return null;
        MemorySegment data = Arena.ofAuto().allocate(Math.max(1, t.data().byteSize()), 64).asSlice(0, t.data().byteSize());
        return new Tensor(t.name() + " [zeros on rank " + rank + " of " + ranks + "]", t.dtype(), t.shape(), data, t.file());
    }

    /** The config of every rank: {@code heads/N}, {@code kvHeads/N}, {@code ffn/N}, the rest unchanged. */
    public static ModelConfig rankConfig(ModelConfig c, int ranks) {
        check(c, ranks);
        return new ModelConfig(c.architecture(), c.vocabSize(), c.hidden(), c.layers(), c.heads() / ranks, c.kvHeads() / ranks, c.headDim(),
                c.ffn() / ranks, c.maxPositions(), c.normEps(), c.ropeTheta(), c.ropeScaling(), c.ropeDims(), c.positionOffset(),
                c.tiedEmbeddings(), c.bosId(), c.eosIds());
    }

    /** Whether the model splits into {@code ranks}: whole query heads, whole KV heads and whole neurons per rank. */
    public static boolean divides(ModelConfig c, int ranks) {
        return ranks >= 1 && c.heads() % ranks == 0 && c.kvHeads() % ranks == 0 && c.ffn() % ranks == 0;
    }

    /** Fails, saying which count does not divide, unless {@link #divides}. */
    public static void check(ModelConfig c, int ranks) {
        if (ranks < 1) throw new IllegalArgumentException("tensor parallelism needs at least 1 rank, not " + ranks);
        List<String> problems = new ArrayList<>();
        if (c.heads() % ranks != 0) problems.add(c.heads() + " query heads");
        if (c.kvHeads() % ranks != 0) problems.add(c.kvHeads() + " KV heads");
        if (c.ffn() % ranks != 0) problems.add(c.ffn() + " MLP neurons (ffn)");
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("cannot split the model over " + ranks + " tensor-parallel ranks: " + String.join(", ", problems)
                    + " are not a multiple of " + ranks + " (each rank takes whole heads, and query heads stay with their KV head)");
        }
    }

    /** Rank {@code rank}'s share of a dimension of size {@code total}: {@code [from, from + count)}. */
    record Part(int rank, int ranks, long total) {
        long count() { return total / ranks; }

        long from() { return rank * count(); }

        /** Rows of an {@code [total, in]} weight. */
        Tensor rows(Tensor t) {
            if (t == null) return null;
            expect(t, 0);
            return slice(t, from(), count(), 0, t.dim(1));
        }

        /** Columns of an {@code [out, total]} weight. */
        Tensor columns(Tensor t) {
            if (t == null) return null;
            expect(t, 1);
            return slice(t, 0, t.dim(0), from(), count());
        }

        /** Elements of a {@code [total]} bias. */
        Tensor elements(Tensor t) {
            if (t == null) return null;
            if (t.rank() != 1 || t.dim(0) != total) throw new IllegalArgumentException(t + ": expected a vector of " + total + " elements to split");
            Tensor asRow = new Tensor(t.name(), t.dtype(), new long[] {1, total}, t.data(), t.file());
            Tensor sliced = slice(asRow, 0, 1, from(), count());
            return new Tensor(sliced.name(), sliced.dtype(), new long[] {count()}, sliced.data(), sliced.file());
        }

        private void expect(Tensor t, int dim) {
            if (t.rank() != 2 || t.dim(dim) != total) {
                throw new IllegalArgumentException(t + ": expected a matrix with " + total + (dim == 0 ? " rows" : " columns") + " to split");
            }
        }

        /** Copies rows {@code [row, row + rows)} and columns {@code [col, col + cols)} of a matrix into new memory. */
        private Tensor slice(Tensor t, long row, long rows, long col, long cols) {
            DType type = t.dtype();
            long width = t.dim(1);
            if (col % type.blockSize != 0 || cols % type.blockSize != 0) {
                throw new IllegalArgumentException(t + ": columns " + col + ".." + (col + cols) + " for rank " + rank + " of " + ranks
                        + " do not fall on whole " + type + " blocks of " + type.blockSize);
            }
            long srcRowBytes = type.bytesFor(width), rowBytes = type.bytesFor(cols), skip = type.bytesFor(col);
            MemorySegment out = Arena.ofAuto().allocate(Math.max(1, rows * rowBytes), 64).asSlice(0, rows * rowBytes);
            if (cols == width) {
                MemorySegment.copy(t.data(), row * srcRowBytes, out, 0, rows * rowBytes);
            } else {
                for (long r = 0; r < rows; r++) MemorySegment.copy(t.data(), (row + r) * srcRowBytes + skip, out, r * rowBytes, rowBytes);
            }
            return new Tensor(t.name() + " [rank " + rank + " of " + ranks + "]", type, new long[] {rows, cols}, out, t.file());
        }
    }
}
