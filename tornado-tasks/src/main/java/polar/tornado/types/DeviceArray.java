package polar.tornado.types;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * An off-heap typed array, backed by a {@link MemorySegment}. Kernels take these as parameters;
 * on a GPU the same parameter is a device pointer. Indices are {@code int}, as in kernels.
 */
public abstract sealed class DeviceArray permits FloatArray, HalfArray, BFloat16Array, IntArray, ByteArray {
    protected final MemorySegment segment;
    private final int size;

    protected DeviceArray(MemorySegment segment, int elementBytes) {
        if (segment.byteSize() % elementBytes != 0) {
            throw new IllegalArgumentException("segment of " + segment.byteSize() + " bytes is not a whole number of " + elementBytes + "-byte elements");
        }
        long n = segment.byteSize() / elementBytes;
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("array of " + n + " elements exceeds int indexing");
        this.segment = segment;
        this.size = (int) n;
    }

    protected static MemorySegment allocate(long bytes) {
        return Arena.ofAuto().allocate(Math.max(bytes, 1), 64).asSlice(0, bytes);
    }

    /** Number of elements. */
    public final int getSize() { return size; }

    public final MemorySegment segment() { return segment; }

    public abstract ElementType<?> elementType();

    public final long byteSize() { return segment.byteSize(); }
}
