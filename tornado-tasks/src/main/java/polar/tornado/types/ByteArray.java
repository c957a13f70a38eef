package polar.tornado.types;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** int8 elements (for example the quants of Q8_0 blocks, whose float16 scales sit in a {@link HalfArray}). */
public final class ByteArray extends DeviceArray {
    private static final ValueLayout.OfByte LAYOUT = ValueLayout.JAVA_BYTE;

    public ByteArray(int size) { this(allocate((long) size * 1)); }

    public ByteArray(MemorySegment segment) { super(segment, 1); }

    /** A new array holding {@code values}. */
    public static ByteArray of(byte... values) {
        ByteArray a = new ByteArray(values.length);
        for (int i = 0; i < values.length; i++) a.set(i, values[i]);
        return a;
    }

    public byte get(int index) { return segment.get(LAYOUT, index); }

    public void set(int index, byte value) { segment.set(LAYOUT, index, value); }

    /** Sets every element to {@code value}. */
    public void fill(byte value) { for (int i = 0; i < getSize(); i++) set(i, value); }

    @Override
    public ElementType<ByteArray> elementType() { return ElementType.I8; }

}
