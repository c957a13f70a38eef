package polar.tornado.layers;

import java.util.List;
import polar.tornado.graph.Buffer;
import polar.tornado.types.FloatArray;

/**
 * A model's weights on the device.
 *
 * @param tokenEmbedding     {@code [vocab, hidden]}, float16 or float32
 * @param positionEmbedding  learned positions {@code [rows, hidden]} float32, or null
 * @param lmHead             {@code [vocab, hidden]} (the token embedding itself when tied)
 * @param inverseFrequencies rotary {@code [ropeDims / 2]} float32 (scaling applied), or null
 */
public record ModelBuffers(Buffer<?> tokenEmbedding, Buffer<FloatArray> positionEmbedding, List<LayerBuffers> layers,
                           Buffer<FloatArray> finalNorm, Buffer<FloatArray> finalNormBias, Buffer<?> lmHead,
                           Buffer<FloatArray> inverseFrequencies) {
    public ModelBuffers {
        layers = List.copyOf(layers);
    }
}
