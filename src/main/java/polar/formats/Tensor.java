package polar.formats;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A named tensor of a model file: its storage type, shape (outermost first, as PyTorch writes
 * it: a linear layer's weight is {@code [out, in]}) and bytes, usually a slice of a
 * memory-mapped file. {@code file} is where it came from, for error messages.
 */
public record Tensor(String name, DType dtype, long[] shape, MemorySegment data, String file) {

    public long elements() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    public int rank() { return shape.length; }

    public long dim(int i) { return shape[i]; }

    @Override
    public String toString() { return name + " " + dtype + Arrays.toString(shape) + " in " + file; }
}
