package polar.runtime.jvm;

import polar.tornado.graph.Buffer;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;

/** A buffer of the JVM backend: an off-heap host array that kernels receive as their parameter. */
final class JvmBuffer<T extends DeviceArray> extends Buffer<T> {
    private final JvmBackend owner;
    private T array;

    JvmBuffer(JvmBackend owner, ElementType<T> type, T array, String label) {
        super(type, array.getSize(), label);
        this.owner = owner;
        this.array = array;
    }

    JvmBackend owner() { return owner; }

    /** The host array; fails clearly once the buffer was freed. */
    T array() {
        T a = array;
        if (a == null) throw new IllegalStateException("buffer " + this + " was freed");
        return a;
    }

    /** Drops the array so the memory is reclaimed; later use fails. */
    void free() { array = null; }

    boolean isFreed() { return array == null; }
}
