package polar.tools.routers;

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

    /** Runs {@code tokens} (one sequence, positions 0..) through every layer, calling {@code observer} once per layer. */
    void run(int[] tokens, LayerObserver observer);

    @Override
    default void close() {}

    /** Opens a model (a folder or file) as an activation source. */
    @FunctionalInterface
    interface Opener {
        ActivationSource open(String model);

        /** Until the engine offers its layer hook, collection cannot run. */
        Opener NONE = model -> {
            throw new IllegalStateException("collecting router data needs the engine's layer observer hook, which this build does not have yet");
        };
    }
}
