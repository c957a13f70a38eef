package polar.tools.io;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import polar.engine.sparsity.Float32Tensors.NamedTensor;
import polar.engine.sparsity.SparsityJson;

/**
 * Writes float32 tensors as a safetensors file: 8-byte little-endian header length, a JSON header
 * (padded with spaces to a multiple of 8 so the data is aligned), then the tensors' bytes in order.
 * Writes to a temporary file and renames it, so a crash never leaves a half-written file behind.
 */
public final class SafetensorsWriter {
    private SafetensorsWriter() {}

    public static void write(Path file, List<NamedTensor> tensors, Map<String, String> metadata) {
        Map<String, Object> header = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) header.put("__metadata__", new LinkedHashMap<>(metadata));
        long offset = 0;
        for (NamedTensor t : tensors) {
            if (header.containsKey(t.name())) throw new IllegalArgumentException("tensor " + t.name() + " given twice");
            long bytes = (long) t.data().length * 4;
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("dtype", "F32");
            List<Object> shape = new ArrayList<>();
            for (long d : t.shape()) shape.add(d);
            entry.put("shape", shape);
            entry.put("data_offsets", List.of(offset, offset + bytes));
            header.put(t.name(), entry);
            offset += bytes;
        }
        byte[] json = SparsityJson.writePretty(header).replace("\n", "").getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16)) {
                out.write(head.array());
                ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
                for (NamedTensor t : tensors) {
                    for (float v : t.data()) {
                        if (!buf.hasRemaining()) { out.write(buf.array(), 0, buf.position()); buf.clear(); }
                        buf.putFloat(v);
                    }
                }
                out.write(buf.array(), 0, buf.position());
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
