package polar.runtime.cuda;

import polar.tornado.graph.Buffer;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;

/** A buffer in CUDA device memory: its {@code CUdeviceptr} and the backend that owns it. */
public final class CudaBuffer<T extends DeviceArray> extends Buffer<T> {
    private final CudaBackend owner;
    private long pointer;

    CudaBuffer(CudaBackend owner, ElementType<T> type, long length, String label, long pointer) {
        super(type, length, label);
        this.owner = owner;
        this.pointer = pointer;
    }

    CudaBackend owner() { return owner; }

    boolean freed() { return pointer == 0; }

    /** The device address of element {@code index}. */
    public long address(long index) {
        if (pointer == 0) throw new IllegalStateException("buffer " + this + " was freed");
        return pointer + index * type().bytes();
    }

    /** The device address of element 0 ({@code CUdeviceptr}). */
    public long address() { return address(0); }

    /** Marks the buffer freed and returns the pointer it held. */
    long release() {
        long p = pointer;
        pointer = 0;
        return p;
    }
}
