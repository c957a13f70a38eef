package polar.tornado.types;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** bfloat16 storage; reads and writes are float32. */
public final class BFloat16Array extends DeviceArray {
    private static final ValueLayout.OfShort LAYOUT = ValueLayout.JAVA_SHORT_UNALIGNED;

    public BFloat16Array(int size) { this(allocate((long) size * 2)); }

    public BFloat16Array(MemorySegment segment) { super(segment, 2); }

    /** A new array holding {@code values}. */
    public static BFloat16Array of(float... values) {
        BFloat16Array a = new BFloat16Array(values.length);
        for (int i = 0; i < values.length; i++) a.set(i, values[i]);
        return a;
    }

    public float get(int index) { return Float.intBitsToFloat(segment.getAtIndex(LAYOUT, index) << 16); }

    public void set(int index, float value) { segment.setAtIndex(LAYOUT, index, toBits(value)); }

    /** Sets every element to {@code value}. */
    public void fill(float value) { for (int i = 0; i < getSize(); i++) set(i, value); }

    @Override
    public ElementType<BFloat16Array> elementType() { return ElementType.BF16; }

    /** Round-to-nearest-even float32 -> bfloat16 bits (NaN stays NaN). */
    public static short toBits(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) return (short) ((bits >>> 16) | 0x40);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    /** Wide (16-byte) load of elements {@code index..index+7}, converted to float, into {@code regs[0..7]}. */
    public void load8(int index, float[] regs) { for (int j = 0; j < 8; j++) regs[j] = get(index + j); }
}
