package polar.tornado.layers;

import java.util.List;
import polar.tornado.graph.Buffer;
import polar.tornado.types.IntArray;

/**
 * The paged KV cache on the device: per layer a K and a V buffer laid out
 * {@code [block][kvHead][slot][headDim]} (see {@link polar.tornado.kernels.Attention}), and the
 * block table {@code [rows, maxBlocks]} that maps each sequence row's positions to blocks.
 */
public record KvBuffers(List<Buffer<?>> keys, List<Buffer<?>> values, Buffer<IntArray> blockTable,
                        int blockSize, int maxBlocks) {
    public KvBuffers {
        keys = List.copyOf(keys);
        values = List.copyOf(values);
        if (keys.size() != values.size()) throw new IllegalArgumentException(keys.size() + " key buffers but " + values.size() + " value buffers");
    }
}
