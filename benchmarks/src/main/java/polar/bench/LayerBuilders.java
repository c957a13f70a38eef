package polar.bench;

import polar.engine.DeviceModel;
import polar.tornado.layers.KvBuffers;
import polar.tornado.layers.LayerGraphBuilder;
import polar.tornado.layers.Precision;
import polar.tornado.layers.StepBuffers;
import polar.tornado.layers.TransformerShape;

/**
 * The layer-graph builder of a benchmark row. Dense rows use the engine's {@link LayerGraphBuilder};
 * Polar rows need its selective counterpart (top-k heads per sequence, gathered MLP neurons), which
 * is not in the layer builder yet. When it lands, this is the one place to change: build it here
 * and fill its head and neuron index buffers with random valid selections of
 * {@link Sparsity#keptHeads} heads per sequence and {@link Sparsity#keptNeurons} neurons.
 */
final class LayerBuilders {
    private LayerBuilders() {}

    static LayerGraphBuilder create(TransformerShape shape, Precision precision, DeviceModel weights, KvBuffers kv, StepBuffers step,
                                    int partitionSize, Sparsity sparsity) {
        if (!sparsity.dense()) {
            throw new UnsupportedOperationException("Polar rows need the selective-attention and gathered-MLP layer builder "
                    + "(branch sparse), which the layer builder does not have yet");
        }
        return new LayerGraphBuilder(shape, precision, weights.buffers(), kv, step, partitionSize);
    }
}
