package polar.formats;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A named tensor of a model file: its storage type, shape (outermost first, as PyTorch writes
 * it: a linear layer's weight is {@code [out, in]}) and bytes, usually a slice of a
 * memory-mapped file. {@code file} is where it came from, for error messages.
 */
public record Tensor(String name, DType dtype, long[] shape, MemorySegment data, String file) {

    /** A float32 tensor holding a copy of {@code values} (little-endian, off-heap), e.g. to write router weights. */
    public static Tensor f32(String name, float[] values, long... shape) {
        Tensor t = new Tensor(name, DType.F32, shape, MemorySegment.NULL, "<memory>");
        if (t.elements() != values.length) throw new IllegalArgumentException(name + ": " + values.length + " values for shape " + Arrays.toString(shape));
        MemorySegment data = java.lang.foreign.Arena.ofAuto().allocate(4L * values.length, 64);
        MemorySegment.copy(values, 0, data, F32_LE, 0, values.length);
        return new Tensor(name, DType.F32, shape, data, "<memory>");
    }

    public long elements() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    public int rank() { return shape.length; }

    public long dim(int i) { return shape[i]; }

    /** Element {@code index} (row-major) as a float: F32, F16, BF16, I32 and I8 tensors. */
    public float getFloat(long index) {
        return switch (dtype) {
            case F32 -> data.get(F32_LE, index * 4);
            case F16 -> Float.float16ToFloat(data.get(I16_LE, index * 2));
            case BF16 -> Float.intBitsToFloat(data.get(I16_LE, index * 2) << 16);
            case I32 -> data.get(I32_LE, index * 4);
            case I8 -> data.get(ValueLayout.JAVA_BYTE, index);
            default -> throw new UnsupportedOperationException(this + ": element access to a block-quantised tensor; use toFloatArray()");
        };
    }

    /** All values as floats (block types dequantised). Meant for tests, tools and small tensors. */
    public float[] toFloatArray() {
        if (elements() > Integer.MAX_VALUE - 8) throw new UnsupportedOperationException(this + " is too large for a float[]");
        float[] out = new float[(int) elements()];
        switch (dtype) {
            case Q8_0, Q4_K, Q6_K -> Quants.dequantize(dtype, data, out.length, out, 0);
            case F32 -> MemorySegment.copy(data, F32_LE, 0, out, 0, out.length);
            case F16, BF16 -> {
                short[] bits = new short[out.length];
                MemorySegment.copy(data, I16_LE, 0, bits, 0, bits.length);
                for (int i = 0; i < out.length; i++)
                    out[i] = dtype == DType.F16 ? Float.float16ToFloat(bits[i]) : Float.intBitsToFloat(bits[i] << 16);
            }
            default -> { for (int i = 0; i < out.length; i++) out[i] = getFloat(i); }
        }
        return out;
    }

    /** Bytes of one row (the innermost dimension) of this tensor. */
    public long rowBytes() { return dtype.bytesFor(shape[shape.length - 1]); }

    /** Rows of this tensor (the product of all but the innermost dimension). */
    public long rows() { return shape.length == 0 ? 1 : elements() / shape[shape.length - 1]; }

    static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Override
    public String toString() { return name + " " + dtype + Arrays.toString(shape) + " in " + file; }
}
