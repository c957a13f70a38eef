package polar.engine;

import java.util.List;
import polar.model.ModelConfig;

/**
 * What generation and serving need of an engine: sequences that hold KV cache, and batched steps
 * that append tokens to them and return the logits at each one's last new position.
 * {@link Engine} runs on one device; a tensor-parallel engine spreads each layer over several.
 */
public interface BatchEngine extends AutoCloseable {

    ModelConfig config();

    /** Sequences that may hold KV cache at once (and step together). */
    int maxSequences();

    /** Positions a sequence may reach. */
    int maxContext();

    KvCache cache();

    /** A new empty sequence holding a row of the KV cache until {@link #release}d. */
    Sequence newSequence();

    /** Frees the sequence's KV cache (no-op when already released). */
    void release(Sequence s);

    /** Whole prompts (in as many steps as needed); the logits after each one's last token. */
    float[][] prefill(List<Sequence> sequences, List<int[]> prompts);

    /** One token per sequence; the logits after it. */
    float[][] decode(List<Sequence> sequences, int[] tokens);

    /** Any tokens per sequence in one step; per sequence, the logits at its last new position. */
    float[][] step(List<Sequence> sequences, List<int[]> tokens);

    /** Nanoseconds spent building and compiling graphs so far, where the engine tracks it (else 0). */
    default long compileNanos() { return 0; }

    @Override
    void close();
}
