package polar.formats;

/** Storage types of tensors in model files. Block types hold {@code blockSize} values in {@code blockBytes}. */
public enum DType {
    F32(1, 4), F16(1, 2), BF16(1, 2), I32(1, 4), I8(1, 1),
    /** GGUF Q8_0: per 32 values, a float16 scale and 32 int8 quants. */
    Q8_0(32, 34),
    /** GGUF Q4_K: per 256 values (super-block), 144 bytes. */
    Q4_K(256, 144),
    /** GGUF Q6_K: per 256 values, 210 bytes. */
    Q6_K(256, 210);

    public final int blockSize;
    public final int blockBytes;

    DType(int blockSize, int blockBytes) {
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    /** Bytes needed for {@code elements} values (which must be whole blocks). */
    public long bytesFor(long elements) {
        return elements / blockSize * blockBytes;
    }
}
