package polar.tools.routers;

import java.util.List;
import polar.engine.sparsity.LayerObserver;

/**
 * A model that can run densely over a window of tokens and report each layer's activations: the
 * seam between router collection and the engine (which implements it over its {@link LayerObserver} hook).
 */
public interface ActivationSource extends AutoCloseable {

    /** The model's dimensions. */
    RouterDataShape shape();

    /** A name for the model, recorded in the data set (e.g. its folder). */
    String modelName();

    /** Token ids of {@code text}, without BOS. */
    int[] encode(String text);

    /** The model's BOS token id, or -1 when it has none. */
    int bos();

    /** Sequences run together at most (a larger batch is faster on most backends). */
    default int maxSequences() { return 1; }

    /**
     * Runs {@code sequences} (each from position 0, at most {@link #maxSequences} of them) densely through
     * every layer, calling {@code observer} once per layer with the rows of all sequences, in order.
     */
    void run(List<int[]> sequences, LayerObserver observer);

    /** The transposed output projection {@code [heads * headDim, hidden]} of {@code layer}, or null where the source cannot give it. */
    default float[] outputProjection(int layer) { return null; }

    @Override
    default void close() {}

    /** Opens a model (a folder or file) on a backend, for sequences of up to {@code window} tokens. */
    @FunctionalInterface
    interface Opener {
        ActivationSource open(String model, String backend, int window);
    }
}
