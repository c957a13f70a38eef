package polar.formats;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {

    @TempDir Path dir;

    static float[] random(long seed, int n) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    /** A safetensors file with a hand-written header and {@code dataBytes} bytes of data. */
    static Path raw(Path file, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Files.write(file, b.array());
        return file;
    }

    @Test
    void writesAndMapsTensors() throws IOException {
        float[] a = random(1, 6 * 5);
        Path file = dir.resolve("t.safetensors");
        Safetensors.write(file, List.of(Tensor.f32("a", a, 6, 5), Tensor.f32("b.bias", new float[] {1, 2, 3}, 3)), Map.of("format", "pt"));
        try (Arena arena = Arena.ofConfined()) {
            Safetensors st = Safetensors.open(file, arena);
            assertEquals(List.of("a", "b.bias"), List.copyOf(st.tensors().keySet()));
            assertEquals("pt", st.metadata().get("format"));
            Tensor t = st.get("a");
            assertArrayEquals(new long[] {6, 5}, t.shape());
            assertEquals(DType.F32, t.dtype());
            assertTrue(t.data().isReadOnly());
            assertArrayEquals(a, t.toFloatArray());
            assertEquals(3f, st.get("b.bias").getFloat(2));
            assertEquals(file.toString(), t.file());
        }
    }

    @Test
    void readsF16AndBF16() throws IOException {
        // 1.5 (f16 0x3E00, bf16 0x3FC0) and -2 (f16 0xC000, bf16 0xC000)
        Path file = raw(dir.resolve("h.safetensors"),
                "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]}}", 0);
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer out = ByteBuffer.allocate(bytes.length + 8).order(ByteOrder.LITTLE_ENDIAN).put(bytes);
        out.putShort((short) 0x3E00).putShort((short) 0xC000).putShort((short) 0x3FC0).putShort((short) 0xC000);
        Files.write(file, out.array());
        Safetensors st = Safetensors.open(file, Arena.ofAuto());
        assertArrayEquals(new float[] {1.5f, -2f}, st.get("h").toFloatArray());
        assertArrayEquals(new float[] {1.5f, -2f}, st.get("b").toFloatArray());
    }

    @Test
    void opensAShardedFolderThroughItsIndex() throws IOException {
        Path folder = Files.createDirectory(dir.resolve("model"));
        Safetensors.write(folder.resolve("model-00001-of-00002.safetensors"), List.of(Tensor.f32("x", random(2, 4), 4)), null);
        Safetensors.write(folder.resolve("model-00002-of-00002.safetensors"), List.of(Tensor.f32("y", random(3, 8), 2, 4)), null);
        Files.writeString(folder.resolve(Safetensors.INDEX_FILE),
                "{\"metadata\":{},\"weight_map\":{\"x\":\"model-00001-of-00002.safetensors\",\"y\":\"model-00002-of-00002.safetensors\"}}");
        Safetensors st = Safetensors.open(folder, Arena.ofAuto());
        assertArrayEquals(random(3, 8), st.get("y").toFloatArray());
        assertTrue(st.get("y").file().endsWith("model-00002-of-00002.safetensors"));

        Files.writeString(folder.resolve(Safetensors.INDEX_FILE),
                "{\"weight_map\":{\"x\":\"model-00001-of-00002.safetensors\",\"z\":\"model-00002-of-00002.safetensors\"}}");
        FormatException e = assertThrows(FormatException.class, () -> Safetensors.open(folder, Arena.ofAuto()));
        assertTrue(e.getMessage().contains("'z'") && e.getMessage().contains("model-00002-of-00002.safetensors"), e.getMessage());
    }

    @Test
    void truncatedFileNamesTheFileAndTensor() throws IOException {
        Path file = dir.resolve("full.safetensors");
        Safetensors.write(file, List.of(Tensor.f32("first", random(4, 16), 16), Tensor.f32("last", random(5, 16), 4, 4)), null);
        Path cut = Files.copy(file, dir.resolve("cut.safetensors"));
        try (RandomAccessFile f = new RandomAccessFile(cut.toFile(), "rw")) { f.setLength(f.length() - 10); }
        FormatException e = assertThrows(FormatException.class, () -> Safetensors.open(cut, Arena.ofAuto()));
        assertTrue(e.getMessage().startsWith(cut.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("tensor 'last'") && e.getMessage().contains("beyond the end of the file"), e.getMessage());

        try (RandomAccessFile f = new RandomAccessFile(cut.toFile(), "rw")) { f.setLength(40); } // inside the header
        e = assertThrows(FormatException.class, () -> Safetensors.open(cut, Arena.ofAuto()));
        assertTrue(e.getMessage().contains("header length") && e.getMessage().contains("beyond the file"), e.getMessage());

        try (RandomAccessFile f = new RandomAccessFile(cut.toFile(), "rw")) { f.setLength(5); }
        e = assertThrows(FormatException.class, () -> Safetensors.open(cut, Arena.ofAuto()));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void corruptHeaderNamesTheFileAndPosition() throws IOException {
        Path file = raw(dir.resolve("bad.safetensors"), "{\"a\":{\"dtype\":\"F32\",\"shape\":[1] \"data_offsets\":[0,4]}}", 4);
        FormatException e = assertThrows(FormatException.class, () -> Safetensors.open(file, Arena.ofAuto()));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("corrupt safetensors header"), e.getMessage());
        assertTrue(e.getMessage().contains(":1:33:"), e.getMessage());
    }

    @Test
    void badTensorEntriesNameTheTensor() throws IOException {
        assertError("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 12, "tensor 'w' has 8 bytes of data but shape [3] of F32 needs 12");
        assertError("{\"w\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "tensor 'w' has unsupported dtype F64");
        assertError("{\"p\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"q\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                "data of tensors 'p' and 'q' overlap");
        assertError("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "tensor 'w' has invalid data_offsets");
        assertError("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "field 'data_offsets' is missing");
    }

    private void assertError(String header, int dataBytes, String expected) throws IOException {
        Path file = raw(dir.resolve("e.safetensors"), header, dataBytes);
        FormatException e = assertThrows(FormatException.class, () -> Safetensors.open(file, Arena.ofAuto()));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
