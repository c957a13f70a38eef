package polar.engine.parallel;

import java.util.List;
import polar.engine.Sequence;

/** A sequence of a {@link TensorParallelEngine}: its {@link Sequence} on every rank (each rank caches its own KV heads). */
public final class ShardedSequence {
    private final List<Sequence> ranks;

    ShardedSequence(List<Sequence> ranks) {
        this.ranks = List.copyOf(ranks);
    }

    /** The sequence on rank {@code r}. */
    public Sequence rank(int r) { return ranks.get(r); }

    /** Positions in the cache (the same on every rank). */
    public int length() { return ranks.getFirst().length(); }

    public boolean released() { return ranks.getFirst().released(); }

    @Override
    public String toString() { return "ShardedSequence[" + ranks.size() + " ranks, " + length() + " positions" + (released() ? ", released" : "") + "]"; }
}
