package polar.formats;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Safetensors files, memory-mapped read-only: an 8-byte little-endian header length, a JSON header
 * {@code {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}}, then the data
 * (offsets relative to the end of the header).
 *
 * @param tensors  by name, in file order (shards in index order)
 * @param metadata the {@code __metadata__} strings (merged over shards)
 */
public record Safetensors(Map<String, Tensor> tensors, Map<String, String> metadata) {

    public static final String INDEX_FILE = "model.safetensors.index.json";

    /** The tensor named {@code name}, or null. */
    public Tensor get(String name) { return tensors.get(name); }

    /**
     * Opens a {@code .safetensors} file, or a folder: its {@value #INDEX_FILE} shards when present,
     * else every {@code *.safetensors} file in it. The mappings live as long as {@code arena}.
     */
    public static Safetensors open(Path path, Arena arena) throws IOException {
        if (!Files.isDirectory(path)) return openFile(path, arena);
        Path index = path.resolve(INDEX_FILE);
        List<Path> files = new ArrayList<>();
        Map<String, String> weightMap = null;
        if (Files.exists(index)) {
            JsonFields json = JsonFields.of(Json.parse(index), index.toString());
            weightMap = new LinkedHashMap<>();
            JsonFields map = json.object("weight_map");
            for (String name : map.map().keySet()) weightMap.put(name, map.string(name));
            for (String file : new TreeSet<>(weightMap.values())) files.add(path.resolve(file));
        } else {
            try (Stream<Path> s = Files.list(path)) {
                s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().forEach(files::add);
            }
            if (files.isEmpty()) throw new FormatException(path + ": no *.safetensors files in the folder");
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Path file : files) {
            if (!Files.exists(file)) throw new FormatException(index + ": shard " + file.getFileName() + " does not exist");
            Safetensors shard = openFile(file, arena);
            metadata.putAll(shard.metadata);
            for (Tensor t : shard.tensors.values()) {
                Tensor previous = tensors.putIfAbsent(t.name(), t);
                if (previous != null)
                    throw new FormatException("tensor '" + t.name() + "' is in both " + previous.file() + " and " + t.file());
            }
        }
        if (weightMap != null) {
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                Tensor t = tensors.get(e.getKey());
                if (t == null || !Path.of(t.file()).getFileName().toString().equals(e.getValue()))
                    throw new FormatException(index + ": tensor '" + e.getKey() + "' is not in its shard " + e.getValue());
            }
        }
        return new Safetensors(tensors, metadata);
    }

    /**
     * Writes {@code tensors} (F32, F16, BF16, I32 or I8; data of exactly the shape's size) to {@code file}, in order,
     * with {@code metadata} as {@code __metadata__}. The header is padded with spaces to a multiple of 8 bytes.
     */
    public static void write(Path file, List<Tensor> tensors, Map<String, String> metadata) throws IOException {
        Map<String, Object> header = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) header.put("__metadata__", metadata);
        long offset = 0;
        for (Tensor t : tensors) {
            if (t.dtype().blockSize != 1) throw new IllegalArgumentException(t + ": safetensors has no " + t.dtype());
            long bytes = t.dtype().bytesFor(t.elements());
            if (t.data().byteSize() != bytes) throw new IllegalArgumentException(t + ": " + t.data().byteSize() + " bytes of data, shape needs " + bytes);
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", t.dtype().name());
            info.put("shape", t.shape());
            info.put("data_offsets", new long[] {offset, offset + bytes});
            if (header.put(t.name(), info) != null) throw new IllegalArgumentException("tensor '" + t.name() + "' twice");
            offset += bytes;
        }
        byte[] json = Json.write(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer head = java.nio.ByteBuffer.allocate(8 + padded).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            head.putLong(padded).put(json);
            while (head.hasRemaining()) head.put((byte) ' ');
            head.flip();
            while (head.hasRemaining()) ch.write(head);
            for (Tensor t : tensors) {
                java.nio.ByteBuffer data = t.data().asByteBuffer();
                while (data.hasRemaining()) ch.write(data);
            }
        }
    }

    /** Opens one {@code .safetensors} file. */
    public static Safetensors openFile(Path file, Arena arena) throws IOException {
        String name = file.toString();
        MemorySegment mapped;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        }
        long size = mapped.byteSize();
        if (size < 8) throw new FormatException(name + ": truncated safetensors file (" + size + " bytes, no header length)");
        long headerLength = mapped.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLength < 2 || headerLength > size - 8)
            throw new FormatException(name + ": header length " + headerLength + " is beyond the file's " + size
                    + " bytes (truncated or not a safetensors file)");
        String headerText = new String(mapped.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        Object header;
        try {
            header = Json.parse(headerText, name + " (header)");
        } catch (Json.JsonException e) {
            throw new FormatException(name + ": corrupt safetensors header: " + e.getMessage(), e);
        }
        JsonFields fields = JsonFields.of(header, name + " (header)");
        long dataStart = 8 + headerLength;
        long dataSize = size - dataStart;

        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        record Extent(String tensor, long begin, long end) {}
        List<Extent> extents = new ArrayList<>();
        for (String tensorName : fields.map().keySet()) {
            if (tensorName.equals("__metadata__")) {
                JsonFields meta = fields.object(tensorName);
                for (String k : meta.map().keySet()) metadata.put(k, String.valueOf(meta.get(k)));
                continue;
            }
            JsonFields info = fields.object(tensorName);
            String where = name + ": tensor '" + tensorName + "'";
            String dtypeName = info.string("dtype");
            DType dtype = switch (dtypeName) {
                case "F32" -> DType.F32;
                case "F16" -> DType.F16;
                case "BF16" -> DType.BF16;
                case "I32" -> DType.I32;
                case "I8" -> DType.I8;
                default -> throw new FormatException(where + " has unsupported dtype " + dtypeName
                        + " (supported: F32, F16, BF16, I32, I8)");
            };
            List<Object> shapeList = info.list("shape");
            long[] shape = new long[shapeList.size()];
            for (int i = 0; i < shape.length; i++) {
                if (!(shapeList.get(i) instanceof Long d) || d < 0)
                    throw new FormatException(where + " has an invalid shape " + Json.write(shapeList));
                shape[i] = d;
            }
            List<Object> offsets = info.list("data_offsets");
            if (offsets.size() != 2 || !(offsets.get(0) instanceof Long begin) || !(offsets.get(1) instanceof Long end) || begin < 0 || end < begin)
                throw new FormatException(where + " has invalid data_offsets " + Json.write(offsets));
            Tensor t = new Tensor(tensorName, dtype, shape, MemorySegment.NULL, name);
            long expected = dtype.bytesFor(t.elements());
            if (end - begin != expected)
                throw new FormatException(where + " has " + (end - begin) + " bytes of data but shape "
                        + java.util.Arrays.toString(shape) + " of " + dtype + " needs " + expected);
            if (end > dataSize)
                throw new FormatException(where + " data [" + begin + ", " + end + ") lies beyond the end of the file (data section has "
                        + dataSize + " bytes; file truncated?)");
            extents.add(new Extent(tensorName, begin, end));
            tensors.put(tensorName, new Tensor(tensorName, dtype, shape, mapped.asSlice(dataStart + begin, end - begin), name));
        }
        extents.sort(Comparator.comparingLong(Extent::begin));
        for (int i = 1; i < extents.size(); i++) {
            Extent a = extents.get(i - 1), b = extents.get(i);
            if (b.begin < a.end)
                throw new FormatException(name + ": data of tensors '" + a.tensor + "' and '" + b.tensor + "' overlap");
        }
        return new Safetensors(tensors, metadata);
    }
}
