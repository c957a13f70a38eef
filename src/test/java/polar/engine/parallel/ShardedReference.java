package polar.engine.parallel;

import java.util.List;
import polar.model.Model;
import polar.model.ReferenceForward;

/**
 * A float64 transformer over the rank models of {@link Sharding}, one token at a time: each layer's
 * attention and MLP blocks run on every rank ({@link ReferenceForward} over the rank's model, with its
 * own KV cache of its own heads), and the ranks' block outputs are summed in rank order (what the
 * all-reduce does) before the residual add. Over one rank it is {@link ReferenceForward} itself.
 */
final class ShardedReference {
    private final List<ReferenceForward> ranks;

    ShardedReference(List<Model> shards, int maxTokens) {
        ranks = shards.stream().map(m -> new ReferenceForward(m, maxTokens)).toList();
    }

    int ranks() { return ranks.size(); }

    /** Feeds {@code token} at position {@code pos}; returns the logits. */
    double[] next(int token, int pos) {
        double[] x = embedding(token, pos);
        for (int l = 0; l < ranks.getFirst().layers(); l++) {
            ReferenceForward.add(x, sum(attention(l, x, pos)));
            ReferenceForward.add(x, sum(mlp(l, x)));
        }
        return logits(x);
    }

    /** The residual stream's start (embeddings are replicated: rank 0's). */
    double[] embedding(int token, int pos) {
        return ranks.getFirst().embedding(token, pos);
    }

    /** The final norm and LM head (replicated: rank 0's). */
    double[] logits(double[] x) {
        return ranks.getFirst().logits(x);
    }

    /** Each rank's attention block output (its O-projection's partial sum) for hidden state {@code x}; caches this position's K and V. */
    double[][] attention(int layer, double[] x, int pos) {
        return ranks.stream().map(r -> r.attention(layer, x, pos)).toArray(double[][]::new);
    }

    /** Each rank's MLP block output (its down projection's partial sum) for hidden state {@code x}. */
    double[][] mlp(int layer, double[] x) {
        return ranks.stream().map(r -> r.mlp(layer, x)).toArray(double[][]::new);
    }

    /** The ranks' partial outputs summed in rank order. */
    static double[] sum(double[][] parts) {
        double[] s = parts[0].clone();
        for (int r = 1; r < parts.length; r++) ReferenceForward.add(s, parts[r]);
        return s;
    }
}
