package polar.tornado.layers;

/**
 * The shape a set of graphs is built for: {@code tokens} query tokens over {@code sequences}
 * sequences, attention split into {@code partitions} (1: no split-K). The engine rounds real
 * steps up to a few such buckets and pads the rest (padding tokens write a scratch block).
 */
public record StepShape(Kind kind, int tokens, int sequences, int partitions) {

    /** Prefill: prompt chunks, dense, no split-K; decode: one token per sequence (where sparsity applies). */
    public enum Kind { PREFILL, DECODE }

    public StepShape {
        if (tokens < 1 || sequences < 1 || sequences > tokens || partitions < 1) {
            throw new IllegalArgumentException("step of " + tokens + " tokens, " + sequences + " sequences, " + partitions + " partitions");
        }
        if (kind == Kind.DECODE && tokens != sequences) throw new IllegalArgumentException("a decode step has one token per sequence");
    }

    @Override
    public String toString() { return kind.name().toLowerCase() + "-t" + tokens + "-s" + sequences + "-p" + partitions; }
}
