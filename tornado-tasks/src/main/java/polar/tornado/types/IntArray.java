package polar.tornado.types;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** int32 elements. */
public final class IntArray extends DeviceArray {
    private static final ValueLayout.OfInt LAYOUT = ValueLayout.JAVA_INT_UNALIGNED;

    public IntArray(int size) { this(allocate((long) size * 4)); }

    public IntArray(MemorySegment segment) { super(segment, 4); }

    /** A new array holding {@code values}. */
    public static IntArray of(int... values) {
        IntArray a = new IntArray(values.length);
        for (int i = 0; i < values.length; i++) a.set(i, values[i]);
        return a;
    }

    public int get(int index) { return segment.getAtIndex(LAYOUT, index); }

    public void set(int index, int value) { segment.setAtIndex(LAYOUT, index, value); }

    /** Sets every element to {@code value}. */
    public void fill(int value) { for (int i = 0; i < getSize(); i++) set(i, value); }

    @Override
    public ElementType<IntArray> elementType() { return ElementType.I32; }

    public int[] toArray() { int[] r = new int[getSize()]; for (int i = 0; i < r.length; i++) r[i] = get(i); return r; }
}
