package polar.tornado.types;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** float32 elements. */
public final class FloatArray extends DeviceArray {
    private static final ValueLayout.OfFloat LAYOUT = ValueLayout.JAVA_FLOAT_UNALIGNED;

    public FloatArray(int size) { this(allocate((long) size * 4)); }

    public FloatArray(MemorySegment segment) { super(segment, 4); }

    /** A new array holding {@code values}. */
    public static FloatArray of(float... values) {
        FloatArray a = new FloatArray(values.length);
        for (int i = 0; i < values.length; i++) a.set(i, values[i]);
        return a;
    }

    public float get(int index) { return segment.getAtIndex(LAYOUT, index); }

    public void set(int index, float value) { segment.setAtIndex(LAYOUT, index, value); }

    /** Sets every element to {@code value}. */
    public void fill(float value) { for (int i = 0; i < getSize(); i++) set(i, value); }

    @Override
    public ElementType<FloatArray> elementType() { return ElementType.F32; }

    /** Wide (16-byte) load of elements {@code index..index+3} into {@code regs[0..3]}; {@code index} is a multiple of 4. */
    public void load4(int index, float[] regs) { for (int j = 0; j < 4; j++) regs[j] = get(index + j); }

    /** Wide (16-byte) store of {@code regs[0..3]} to elements {@code index..index+3}; {@code index} is a multiple of 4. */
    public void store4(int index, float[] regs) { for (int j = 0; j < 4; j++) set(index + j, regs[j]); }

    public float[] toArray() { float[] r = new float[getSize()]; for (int i = 0; i < r.length; i++) r[i] = get(i); return r; }
}
