package polar.bench;

import polar.engine.Engine;
import polar.tornado.layers.LayerGraphBuilder;

/**
 * The layer-graph builder of a benchmark row, as the engine's {@link Engine.BuilderFactory}. Dense
 * rows use {@link LayerGraphBuilder} itself; Polar rows need its selective subclass (top-k heads per
 * sequence, gathered MLP neurons), which does not exist yet. When it lands, this is the one place
 * to change: return its factory here and fill its head and neuron index buffers with random valid
 * selections of {@link Sparsity#keptHeads} heads per sequence and {@link Sparsity#keptNeurons} neurons.
 */
final class LayerBuilders {
    private LayerBuilders() {}

    static Engine.BuilderFactory factory(Sparsity sparsity) {
        if (!sparsity.dense()) {
            throw new UnsupportedOperationException("Polar rows need the selective-attention and gathered-MLP layer builder "
                    + "(branch sparse), which the layer builder does not have yet");
        }
        return LayerGraphBuilder::new;
    }
}
