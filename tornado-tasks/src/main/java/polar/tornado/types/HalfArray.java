package polar.tornado.types;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** float16 storage (IEEE binary16); reads and writes are float32, rounded to nearest even on store. */
public final class HalfArray extends DeviceArray {
    private static final ValueLayout.OfShort LAYOUT = ValueLayout.JAVA_SHORT_UNALIGNED;

    public HalfArray(int size) { this(allocate((long) size * 2)); }

    public HalfArray(MemorySegment segment) { super(segment, 2); }

    /** A new array holding {@code values}. */
    public static HalfArray of(float... values) {
        HalfArray a = new HalfArray(values.length);
        for (int i = 0; i < values.length; i++) a.set(i, values[i]);
        return a;
    }

    public float get(int index) { return Float.float16ToFloat(segment.getAtIndex(LAYOUT, index)); }

    public void set(int index, float value) { segment.setAtIndex(LAYOUT, index, Float.floatToFloat16(value)); }

    /** Sets every element to {@code value}. */
    public void fill(float value) { for (int i = 0; i < getSize(); i++) set(i, value); }

    @Override
    public ElementType<HalfArray> elementType() { return ElementType.F16; }

    /** Raw IEEE binary16 bits of element {@code index}. */
    public short getBits(int index) { return segment.getAtIndex(LAYOUT, index); }

    /** Wide (16-byte) load of elements {@code index..index+7}, converted to float, into {@code regs[0..7]}; {@code index} is a multiple of 8. */
    public void load8(int index, float[] regs) { for (int j = 0; j < 8; j++) regs[j] = get(index + j); }

    /** Wide (16-byte) store of {@code regs[0..7]}, rounded to float16, to elements {@code index..index+7}; {@code index} is a multiple of 8. */
    public void store8(int index, float[] regs) { for (int j = 0; j < 8; j++) set(index + j, regs[j]); }
}
