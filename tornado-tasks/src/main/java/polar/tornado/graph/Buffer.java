package polar.tornado.graph;

import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;

/**
 * A typed buffer that lives on one backend's device: weights, activations, KV cache, per-step
 * values. Its identity is the object itself; the label is only for messages and traces.
 * Backends subclass it to hold their native handle (host array, device pointer, cl_mem).
 */
public abstract non-sealed class Buffer<T extends DeviceArray> implements Arg<T> {
    private final ElementType<T> type;
    private final long length;
    private final String label;

    protected Buffer(ElementType<T> type, long length, String label) {
        if (length < 0) throw new IllegalArgumentException("negative length " + length + " for buffer " + label);
        this.type = type;
        this.length = length;
        this.label = label;
    }

    public final ElementType<T> type() { return type; }

    /** Number of elements. */
    public final long length() { return length; }

    public final long byteSize() { return length * type.bytes(); }

    public final String label() { return label; }

    @Override
    public String toString() { return label + "[" + type + " x " + length + "]"; }
}
