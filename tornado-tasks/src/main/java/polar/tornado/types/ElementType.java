package polar.tornado.types;

import java.lang.foreign.MemorySegment;
import java.util.function.Function;

/** The element types a device buffer can hold, each tied to its typed array class. */
public final class ElementType<T extends DeviceArray> {
    public static final ElementType<FloatArray> F32 = new ElementType<>("f32", 4, FloatArray.class, FloatArray::new);
    public static final ElementType<HalfArray> F16 = new ElementType<>("f16", 2, HalfArray.class, HalfArray::new);
    public static final ElementType<BFloat16Array> BF16 = new ElementType<>("bf16", 2, BFloat16Array.class, BFloat16Array::new);
    public static final ElementType<IntArray> I32 = new ElementType<>("i32", 4, IntArray.class, IntArray::new);
    public static final ElementType<ByteArray> I8 = new ElementType<>("i8", 1, ByteArray.class, ByteArray::new);

    private final String name;
    private final int bytes;
    private final Class<T> arrayClass;
    private final Function<MemorySegment, T> wrap;

    private ElementType(String name, int bytes, Class<T> arrayClass, Function<MemorySegment, T> wrap) {
        this.name = name;
        this.bytes = bytes;
        this.arrayClass = arrayClass;
        this.wrap = wrap;
    }

    public String name() { return name; }

    /** Bytes per element. */
    public int bytes() { return bytes; }

    public Class<T> arrayClass() { return arrayClass; }

    /** Views {@code segment} (whose size must be a multiple of {@link #bytes()}) as a typed array, without copying. */
    public T wrap(MemorySegment segment) {
        return wrap.apply(segment);
    }

    /** The element type of an array class, e.g. {@code FloatArray.class -> F32}. */
    public static ElementType<?> of(Class<?> arrayClass) {
        for (ElementType<?> t : new ElementType<?>[] {F32, F16, BF16, I32, I8}) {
            if (t.arrayClass == arrayClass) return t;
        }
        throw new IllegalArgumentException("not a device array class: " + arrayClass.getName());
    }

    @Override
    public String toString() { return name; }
}
