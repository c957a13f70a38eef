package polar.runtime.opencl;

import java.lang.foreign.MemorySegment;
import polar.tornado.graph.Buffer;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;

/** A buffer in an OpenCL context: its {@code cl_mem} handle and the backend that owns it. */
public final class OpenClBuffer<T extends DeviceArray> extends Buffer<T> {
    private final OpenClBackend owner;
    private MemorySegment mem;

    OpenClBuffer(OpenClBackend owner, ElementType<T> type, long length, String label, MemorySegment mem) {
        super(type, length, label);
        this.owner = owner;
        this.mem = mem;
    }

    OpenClBackend owner() { return owner; }

    /** The {@code cl_mem} handle; throws if the buffer was freed. */
    MemorySegment mem() {
        if (mem == null) throw new IllegalStateException("OpenCL buffer " + this + " was freed");
        return mem;
    }

    boolean live() { return mem != null; }

    /** Forgets the handle and returns it for release (null if already freed). */
    MemorySegment detach() {
        MemorySegment m = mem;
        mem = null;
        return m;
    }
}
