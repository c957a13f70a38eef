package polar.engine.sparsity;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import polar.engine.sparsity.SparsityJson.Fields;

/**
 * Reads a safetensors file whose tensors are all float32 onto the heap (router files are small).
 * Layout: an 8-byte little-endian header length, a JSON header mapping names to
 * {@code {"dtype","shape","data_offsets":[begin,end]}} (offsets from the end of the header), then data.
 * Errors name the file and the tensor. (To be replaced by {@code polar.formats.Safetensors} once merged.)
 */
public final class Float32Tensors {
    private Float32Tensors() {}

    /** A float32 tensor held on the heap, shape outermost first. */
    public record NamedTensor(String name, long[] shape, float[] data) {
        public NamedTensor {
            long n = 1;
            for (long d : shape) n *= d;
            if (n != data.length) throw new IllegalArgumentException(name + ": shape holds " + n + " values, data " + data.length);
        }
    }

    /** All tensors of {@code file} in header order; {@code __metadata__} goes to {@code metadata} when non-null. */
    public static Map<String, NamedTensor> read(Path file, Map<String, String> metadata) {
        String source = file.toString();
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw new IllegalArgumentException(source + ": too short for a safetensors file (" + size + " bytes)");
            MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long headerLength = mapped.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (headerLength <= 0 || headerLength > size - 8)
                throw new IllegalArgumentException(source + ": header length " + headerLength + " does not fit the file (" + size + " bytes)");
            String headerText = new String(mapped.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE), java.nio.charset.StandardCharsets.UTF_8);
            Map<String, Object> header = SparsityJson.parseObject(headerText, source + " (header)");
            long dataStart = 8 + headerLength;
            Map<String, NamedTensor> out = new LinkedHashMap<>();
            for (Map.Entry<String, Object> e : header.entrySet()) {
                String name = e.getKey();
                if (name.equals("__metadata__")) {
                    if (metadata != null && e.getValue() instanceof Map<?, ?> m) m.forEach((k, v) -> metadata.put(String.valueOf(k), String.valueOf(v)));
                    continue;
                }
                if (!(e.getValue() instanceof Map<?, ?> entry)) throw new IllegalArgumentException(source + ": header entry of tensor " + name + " is not an object");
                @SuppressWarnings("unchecked")
                Fields f = Fields.of((Map<String, Object>) entry, source + " (tensor " + name + ")");
                String dtype = f.string("dtype");
                if (!dtype.equals("F32")) throw new IllegalArgumentException(source + ": tensor " + name + " is " + dtype + ", router files hold F32");
                List<?> shapeList = f.array("shape");
                long[] shape = new long[shapeList.size()];
                long count = 1;
                for (int i = 0; i < shape.length; i++) {
                    if (!(shapeList.get(i) instanceof Long d) || d < 0) throw new IllegalArgumentException(source + ": tensor " + name + " has a bad shape " + shapeList);
                    shape[i] = d;
                    count *= d;
                }
                List<?> offsets = f.array("data_offsets");
                if (offsets.size() != 2 || !(offsets.get(0) instanceof Long begin) || !(offsets.get(1) instanceof Long end))
                    throw f.error("data_offsets", "must be two integers, got " + offsets);
                if (begin < 0 || end != begin + count * 4 || dataStart + end > size)
                    throw new IllegalArgumentException(source + ": tensor " + name + " has data_offsets [" + begin + ", " + end + "] that do not match its shape or the file size");
                if (count > Integer.MAX_VALUE) throw new IllegalArgumentException(source + ": tensor " + name + " is too large for a heap array");
                float[] data = mapped.asSlice(dataStart + begin, end - begin).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
                out.put(name, new NamedTensor(name, shape, data));
            }
            return out;
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException("router file not found: " + source, e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + source + ": " + e.getMessage(), e);
        }
    }
}
