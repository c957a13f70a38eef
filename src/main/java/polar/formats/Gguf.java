package polar.formats;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file (versions 2 and 3), memory-mapped read-only: metadata key/values and tensors.
 *
 * <p>Metadata values are read as: integers of every width -> {@code Long} (UINT64 as its bit pattern),
 * FLOAT32 -> {@code Float}, FLOAT64 -> {@code Double}, BOOL -> {@code Boolean}, STRING -> {@code String};
 * arrays -> {@code long[]}, {@code float[]}, {@code double[]}, {@code boolean[]}, {@code List<String>}, or
 * {@code List<Object>} for arrays of arrays.
 *
 * <p>GGUF lists dimensions innermost first; {@link Tensor#shape()} is outermost first (a linear weight is
 * {@code [out, in]}). Tensors of F32, F16, BF16, Q8_0, Q4_K and Q6_K are slices of the mapping in their stored
 * type; any other GGML type is an error naming the tensor.
 *
 * @param tensors  by name, in file order
 * @param dataStart byte offset of the tensor data section in the file
 */
public record Gguf(Path file, int version, Map<String, Object> metadata, Map<String, Tensor> tensors,
                   long alignment, long dataStart) {

    public static final int MAGIC = 0x46554747; // "GGUF" little-endian
    public static final String ALIGNMENT_KEY = "general.alignment";
    public static final int DEFAULT_ALIGNMENT = 32;

    /** GGML tensor types by id, with the Polar storage type they map to (null: unsupported). */
    enum GgmlType {
        F32(0, DType.F32), F16(1, DType.F16), Q4_0(2, null), Q4_1(3, null), Q5_0(6, null), Q5_1(7, null),
        Q8_0(8, DType.Q8_0), Q8_1(9, null), Q2_K(10, null), Q3_K(11, null), Q4_K(12, DType.Q4_K), Q5_K(13, null),
        Q6_K(14, DType.Q6_K), Q8_K(15, null), IQ2_XXS(16, null), IQ2_XS(17, null), IQ3_XXS(18, null), IQ1_S(19, null),
        IQ4_NL(20, null), IQ3_S(21, null), IQ2_S(22, null), IQ4_XS(23, null), I8(24, DType.I8), I16(25, null),
        I32(26, DType.I32), I64(27, null), F64(28, null), IQ1_M(29, null), BF16(30, DType.BF16);

        final int id;
        final DType dtype;

        GgmlType(int id, DType dtype) {
            this.id = id;
            this.dtype = dtype;
        }

        static String nameOf(int id) {
            for (GgmlType t : values()) if (t.id == id) return t.name();
            return "unknown";
        }

        static DType dtypeOf(int id) {
            for (GgmlType t : values()) if (t.id == id) return t.dtype;
            return null;
        }
    }

    /** Opens {@code file}; the mapping lives as long as {@code arena}. */
    public static Gguf open(Path file, Arena arena) throws IOException {
        MemorySegment mapped;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        }
        return new Reader(file, mapped).read();
    }

    // ---- typed metadata access, errors naming the file and key ----

    public boolean has(String key) { return metadata.containsKey(key); }

    private FormatException keyError(String key, String message) {
        return new FormatException(file + ": metadata '" + key + "' " + message);
    }

    private Object required(String key) {
        Object v = metadata.get(key);
        if (v == null) throw keyError(key, "is missing");
        return v;
    }

    public String string(String key) {
        if (required(key) instanceof String s) return s;
        throw keyError(key, "must be a string, got " + describe(metadata.get(key)));
    }

    public long integer(String key) {
        if (required(key) instanceof Long l) return l;
        throw keyError(key, "must be an integer, got " + describe(metadata.get(key)));
    }

    public long integer(String key, long fallback) { return has(key) ? integer(key) : fallback; }

    /** An integer key that must be an {@code int} of at least {@code min}. */
    public int intAtLeast(String key, int min) {
        long v = integer(key);
        if (v < min || v > Integer.MAX_VALUE) throw keyError(key, "must be >= " + min + ", got " + v);
        return (int) v;
    }

    public int intAtLeast(String key, int min, int fallback) { return has(key) ? intAtLeast(key, min) : fallback; }

    public double number(String key) {
        return switch (required(key)) {
            case Float f -> f;
            case Double d -> d;
            case Long l -> l;
            default -> throw keyError(key, "must be a number, got " + describe(metadata.get(key)));
        };
    }

    public double number(String key, double fallback) { return has(key) ? number(key) : fallback; }

    public boolean bool(String key, boolean fallback) {
        Object v = metadata.get(key);
        if (v == null) return fallback;
        if (v instanceof Boolean b) return b;
        throw keyError(key, "must be a boolean, got " + describe(v));
    }

    @SuppressWarnings("unchecked")
    public List<String> strings(String key) {
        if (required(key) instanceof List<?> l && (l.isEmpty() || l.getFirst() instanceof String)) return (List<String>) l;
        throw keyError(key, "must be an array of strings, got " + describe(metadata.get(key)));
    }

    public float[] floats(String key) {
        if (required(key) instanceof float[] f) return f;
        throw keyError(key, "must be an array of FLOAT32, got " + describe(metadata.get(key)));
    }

    public long[] integers(String key) {
        if (required(key) instanceof long[] l) return l;
        throw keyError(key, "must be an array of integers, got " + describe(metadata.get(key)));
    }

    /** A short description of a metadata value, for error messages. */
    static String describe(Object v) {
        return switch (v) {
            case null -> "nothing";
            case String s -> "the string \"" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "\"";
            case List<?> l -> "an array of " + l.size();
            case long[] a -> "an integer array of " + a.length;
            case float[] a -> "a float array of " + a.length;
            default -> v.getClass().isArray() ? "an array" : String.valueOf(v);
        };
    }

    /** Sequential reader over the mapped header, every read bounds-checked. */
    private static final class Reader {
        static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

        final Path file;
        final MemorySegment m;
        final long size;
        long pos;
        String what = "the header"; // what is being read, for truncation messages

        Reader(Path file, MemorySegment m) {
            this.file = file;
            this.m = m;
            this.size = m.byteSize();
        }

        FormatException error(String message) { return new FormatException(file + ": " + message); }

        void need(long bytes) {
            if (bytes < 0 || pos + bytes > size)
                throw error("truncated GGUF file (" + size + " bytes) while reading " + what + " at offset " + pos);
        }

        int u32() { need(4); int v = m.get(I32, pos); pos += 4; return v; }

        long u64() { need(8); long v = m.get(I64, pos); pos += 8; return v; }

        String string() {
            long n = u64();
            if (n > Integer.MAX_VALUE) throw error("string length " + n + " at offset " + (pos - 8) + " while reading " + what + " is not plausible");
            need(n);
            String s = new String(m.asSlice(pos, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            pos += n;
            return s;
        }

        Gguf read() {
            what = "the magic number";
            int magic = u32();
            if (magic != MAGIC) throw error(String.format("bad magic 0x%08x (not a GGUF file)", magic));
            what = "the version";
            int version = u32();
            if (version != 2 && version != 3) throw error("GGUF version " + version + " is not supported (2 and 3 are)");
            what = "the counts";
            long tensorCount = u64(), kvCount = u64();
            if (tensorCount < 0 || kvCount < 0 || tensorCount > size || kvCount > size)
                throw error("implausible tensor count " + tensorCount + " or metadata count " + kvCount);

            Map<String, Object> metadata = new LinkedHashMap<>();
            for (long i = 0; i < kvCount; i++) {
                what = "metadata key " + i;
                String key = string();
                what = "metadata '" + key + "'";
                metadata.put(key, value(u32()));
            }
            long alignment = metadata.containsKey(ALIGNMENT_KEY) && metadata.get(ALIGNMENT_KEY) instanceof Long a ? a : DEFAULT_ALIGNMENT;
            if (alignment <= 0 || (alignment & (alignment - 1)) != 0) throw error("metadata '" + ALIGNMENT_KEY + "' = " + alignment + " is not a power of two");

            record Info(String name, long[] shape, int type, long offset) {}
            List<Info> infos = new ArrayList<>();
            for (long i = 0; i < tensorCount; i++) {
                what = "tensor info " + i;
                String name = string();
                what = "tensor info '" + name + "'";
                int dims = u32();
                if (dims < 0 || dims > 8) throw error("tensor '" + name + "' has " + dims + " dimensions");
                long[] shape = new long[dims];
                for (int d = 0; d < dims; d++) shape[dims - 1 - d] = u64(); // innermost first -> outermost first
                for (long d : shape) if (d < 0) throw error("tensor '" + name + "' has a negative dimension " + Arrays.toString(shape));
                infos.add(new Info(name, shape, u32(), u64()));
            }
            long dataStart = (pos + alignment - 1) / alignment * alignment;
            long dataSize = size - dataStart;

            Map<String, Tensor> tensors = new LinkedHashMap<>();
            Gguf gguf = new Gguf(file, version, metadata, tensors, alignment, dataStart);
            for (Info info : infos) {
                String where = "tensor '" + info.name + "'";
                DType dtype = GgmlType.dtypeOf(info.type);
                if (dtype == null)
                    throw error(where + " has GGML type " + GgmlType.nameOf(info.type) + " (" + info.type
                            + "), which is not supported (F32, F16, BF16, Q8_0, Q4_K, Q6_K, I8, I32 are)");
                long inner = info.shape.length == 0 ? 1 : info.shape[info.shape.length - 1];
                if (inner % dtype.blockSize != 0)
                    throw error(where + " rows of " + inner + " values are not whole " + dtype + " blocks of " + dtype.blockSize);
                Tensor t = new Tensor(info.name, dtype, info.shape, MemorySegment.NULL, file.toString());
                long bytes = dtype.bytesFor(t.elements());
                if (info.offset % alignment != 0) throw error(where + " data offset " + info.offset + " is not aligned to " + alignment);
                if (info.offset < 0 || info.offset + bytes > dataSize)
                    throw error(where + " data [" + info.offset + ", " + (info.offset + bytes) + ") lies beyond the end of the file (data section has "
                            + Math.max(0, dataSize) + " bytes; file truncated?)");
                if (tensors.put(info.name, new Tensor(info.name, dtype, info.shape, m.asSlice(dataStart + info.offset, bytes), file.toString())) != null)
                    throw error(where + " appears twice");
            }
            return gguf;
        }

        Object value(int type) {
            return switch (type) {
                case 0 -> { need(1); yield (long) Byte.toUnsignedInt(m.get(ValueLayout.JAVA_BYTE, pos++)); }
                case 1 -> { need(1); yield (long) m.get(ValueLayout.JAVA_BYTE, pos++); }
                case 2 -> { need(2); long v = Short.toUnsignedInt(m.get(I16, pos)); pos += 2; yield v; }
                case 3 -> { need(2); long v = m.get(I16, pos); pos += 2; yield v; }
                case 4 -> Integer.toUnsignedLong(u32());
                case 5 -> (long) u32();
                case 6 -> { need(4); float v = m.get(F32, pos); pos += 4; yield v; }
                case 7 -> { need(1); yield m.get(ValueLayout.JAVA_BYTE, pos++) != 0; }
                case 8 -> string();
                case 9 -> array();
                case 10, 11 -> u64();
                case 12 -> { need(8); double v = m.get(F64, pos); pos += 8; yield v; }
                default -> throw error("unknown metadata value type " + type + " in " + what);
            };
        }

        Object array() {
            int type = u32();
            long n = u64();
            if (n < 0 || n > size - pos) throw error("array of " + n + " elements in " + what + " is beyond the end of the file");
            int count = (int) n;
            return switch (type) {
                case 0, 1, 2, 3, 4, 5, 10, 11 -> { long[] a = new long[count]; for (int i = 0; i < count; i++) a[i] = (Long) value(type); yield a; }
                case 6 -> {
                    need(4L * count);
                    float[] a = new float[count];
                    MemorySegment.copy(m, F32, pos, a, 0, count);
                    pos += 4L * count;
                    yield a;
                }
                case 7 -> { boolean[] a = new boolean[count]; for (int i = 0; i < count; i++) a[i] = (Boolean) value(type); yield a; }
                case 12 -> { double[] a = new double[count]; for (int i = 0; i < count; i++) a[i] = (Double) value(type); yield a; }
                case 8 -> { List<String> a = new ArrayList<>(count); for (int i = 0; i < count; i++) a.add(string()); yield a; }
                case 9 -> { List<Object> a = new ArrayList<>(count); for (int i = 0; i < count; i++) a.add(array()); yield a; }
                default -> throw error("unknown array element type " + type + " in " + what);
            };
        }
    }
}
