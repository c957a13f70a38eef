package polar.formats;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgufTest {

    @TempDir Path dir;

    static final int Q8_0 = 8, Q4_K = 12, Q6_K = 14, Q4_0 = 2;

    @Test
    void readsMetadataOfEveryTypeAndTensorsOutermostFirst() throws IOException {
        float[] w = SafetensorsTest.random(1, 3 * 4 * 2);
        Path file = new GgufWriter()
                .string("general.architecture", "llama").u32("llama.block_count", 5).i8("i8", -3).u16("u16", 65535)
                .u64("u64", 1L << 40).f32("f32", 0.25f).f64("f64", -1.5).bool("flag", true)
                .strings("tokens", List.of("a", "▁b", "<0x0A>")).floats("scores", new float[] {0, -1, -2}).ints("types", new int[] {1, 1, 6})
                .f32Tensor("w", w, 3, 4, 2).f32Tensor("norm", new float[] {1, 2}, 2)
                .write(dir.resolve("m.gguf"));
        Gguf g = Gguf.open(file, Arena.ofAuto());
        assertEquals(3, g.version());
        assertEquals("llama", g.string("general.architecture"));
        assertEquals(5, g.integer("llama.block_count"));
        assertEquals(-3, g.integer("i8"));
        assertEquals(65535, g.integer("u16"));
        assertEquals(1L << 40, g.integer("u64"));
        assertEquals(0.25, g.number("f32"));
        assertEquals(-1.5, g.number("f64"));
        assertTrue(g.bool("flag", false));
        assertEquals(List.of("a", "▁b", "<0x0A>"), g.strings("tokens"));
        assertArrayEquals(new float[] {0, -1, -2}, g.floats("scores"));
        assertArrayEquals(new long[] {1, 1, 6}, g.integers("types"));
        Tensor t = g.tensors().get("w");
        assertArrayEquals(new long[] {3, 4, 2}, t.shape(), "GGUF's innermost-first dims become outermost-first");
        assertArrayEquals(w, t.toFloatArray());
        assertEquals(0, g.dataStart() % Gguf.DEFAULT_ALIGNMENT);
        assertArrayEquals(new float[] {1, 2}, g.tensors().get("norm").toFloatArray());

        FormatException e = assertThrows(FormatException.class, () -> g.string("llama.block_count"));
        assertEquals(file + ": metadata 'llama.block_count' must be a string, got 5", e.getMessage());
        e = assertThrows(FormatException.class, () -> g.integer("llama.embedding_length"));
        assertEquals(file + ": metadata 'llama.embedding_length' is missing", e.getMessage());
    }

    @Test
    void honoursGeneralAlignmentAndVersion2() throws IOException {
        float[] a = {1, 2, 3}, b = {4, 5};
        Path file = new GgufWriter().version(2).u32(Gguf.ALIGNMENT_KEY, 64).f32Tensor("a", a, 3).f32Tensor("b", b, 2).write(dir.resolve("a.gguf"));
        Gguf g = Gguf.open(file, Arena.ofAuto());
        assertEquals(64, g.alignment());
        assertEquals(0, g.dataStart() % 64);
        assertArrayEquals(b, g.tensors().get("b").toFloatArray());
    }

    @Test
    void badMagicVersionAndTruncationAreNamed() throws IOException {
        byte[] good = new GgufWriter().string("general.architecture", "llama").f32Tensor("blk.0.attn_q.weight", new float[64], 8, 8).bytes();

        byte[] magic = good.clone();
        magic[0] = 'X';
        assertMessage(magic, "bad.gguf", "bad magic");

        byte[] version = good.clone();
        version[4] = 4;
        assertMessage(version, "v4.gguf", "GGUF version 4 is not supported");

        Path cut = write(good, "cut.gguf");
        try (RandomAccessFile f = new RandomAccessFile(cut.toFile(), "rw")) { f.setLength(good.length - 8); }
        FormatException e = assertThrows(FormatException.class, () -> Gguf.open(cut, Arena.ofAuto()));
        assertTrue(e.getMessage().startsWith(cut.toString()) && e.getMessage().contains("tensor 'blk.0.attn_q.weight'")
                && e.getMessage().contains("beyond the end of the file"), e.getMessage());

        try (RandomAccessFile f = new RandomAccessFile(cut.toFile(), "rw")) { f.setLength(60); } // inside the first metadata value
        e = assertThrows(FormatException.class, () -> Gguf.open(cut, Arena.ofAuto()));
        assertTrue(e.getMessage().contains("truncated GGUF file") && e.getMessage().contains("general.architecture"), e.getMessage());

        try (RandomAccessFile f = new RandomAccessFile(cut.toFile(), "rw")) { f.setLength(6); }
        e = assertThrows(FormatException.class, () -> Gguf.open(cut, Arena.ofAuto()));
        assertTrue(e.getMessage().contains("truncated GGUF file") && e.getMessage().contains("version"), e.getMessage());
    }

    @Test
    void unsupportedTensorTypeIsNamed() throws IOException {
        byte[] q40 = new GgufWriter().tensor("blk.3.ffn_up.weight", Q4_0, new byte[18], 32).bytes();
        assertMessage(q40, "q40.gguf", "tensor 'blk.3.ffn_up.weight' has GGML type Q4_0 (2), which is not supported");
    }

    private Path write(byte[] bytes, String name) throws IOException {
        return java.nio.file.Files.write(dir.resolve(name), bytes);
    }

    private void assertMessage(byte[] bytes, String name, String expected) throws IOException {
        Path file = write(bytes, name);
        FormatException e = assertThrows(FormatException.class, () -> Gguf.open(file, Arena.ofAuto()));
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    // ---- block formats: blocks packed here as ggml's quantisers lay them out, then read back ----

    static short f16(float v) { return Float.floatToFloat16(v); }

    static float f16Value(float v) { return Float.float16ToFloat(f16(v)); }

    @Test
    void dequantisesQ8_0() throws IOException {
        Random r = new Random(8);
        float d = f16Value(0.037f);
        ByteBuffer b = ByteBuffer.allocate(2 * 34).order(ByteOrder.LITTLE_ENDIAN);
        float[] expected = new float[64];
        for (int block = 0; block < 2; block++) {
            b.putShort(f16(d));
            for (int i = 0; i < 32; i++) {
                int q = r.nextInt(256) - 128;
                b.put((byte) q);
                expected[block * 32 + i] = d * q;
            }
        }
        Tensor t = read(Q8_0, b.array(), 2, 32);
        assertEquals(DType.Q8_0, t.dtype());
        assertArrayEquals(expected, t.toFloatArray());
    }

    @Test
    void dequantisesQ4_K() throws IOException {
        Random r = new Random(4);
        float d = f16Value(0.011f), dmin = f16Value(0.004f);
        int[] sc = new int[8], mn = new int[8], q = new int[256];
        for (int j = 0; j < 8; j++) { sc[j] = r.nextInt(64); mn[j] = r.nextInt(64); }
        for (int i = 0; i < 256; i++) q[i] = r.nextInt(16);
        byte[] scales = new byte[12];
        for (int j = 0; j < 8; j++) { // ggml's quantize_row_q4_K packing
            if (j < 4) { scales[j] = (byte) sc[j]; scales[j + 4] = (byte) mn[j]; }
            else {
                scales[j + 4] = (byte) ((sc[j] & 0xF) | ((mn[j] & 0xF) << 4));
                scales[j - 4] |= (byte) ((sc[j] >> 4) << 6);
                scales[j] |= (byte) ((mn[j] >> 4) << 6);
            }
        }
        ByteBuffer b = ByteBuffer.allocate(144).order(ByteOrder.LITTLE_ENDIAN).putShort(f16(d)).putShort(f16(dmin)).put(scales);
        for (int j = 0; j < 256; j += 64)
            for (int l = 0; l < 32; l++) b.put((byte) (q[j + l] | (q[j + l + 32] << 4)));
        float[] expected = new float[256];
        for (int i = 0; i < 256; i++) expected[i] = d * sc[i / 32] * q[i] - dmin * mn[i / 32];
        assertArrayEquals(expected, read(Q4_K, b.array(), 256).toFloatArray(), 1e-6f);
    }

    @Test
    void dequantisesQ6_K() throws IOException {
        Random r = new Random(6);
        float d = f16Value(0.002f);
        int[] L = new int[256], sc = new int[16];
        for (int i = 0; i < 256; i++) L[i] = r.nextInt(64);
        for (int j = 0; j < 16; j++) sc[j] = r.nextInt(256) - 128;
        byte[] ql = new byte[128], qh = new byte[64];
        for (int j = 0, o = 0; j < 256; j += 128, o++) { // ggml's quantize_row_q6_K packing
            for (int l = 0; l < 32; l++) {
                ql[64 * o + l] = (byte) ((L[j + l] & 0xF) | ((L[j + l + 64] & 0xF) << 4));
                ql[64 * o + l + 32] = (byte) ((L[j + l + 32] & 0xF) | ((L[j + l + 96] & 0xF) << 4));
                qh[32 * o + l] = (byte) ((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
            }
        }
        ByteBuffer b = ByteBuffer.allocate(210).order(ByteOrder.LITTLE_ENDIAN).put(ql).put(qh);
        for (int s : sc) b.put((byte) s);
        b.putShort(f16(d));
        float[] expected = new float[256];
        for (int i = 0; i < 256; i++) expected[i] = d * sc[i / 16] * (L[i] - 32);
        assertArrayEquals(expected, read(Q6_K, b.array(), 256).toFloatArray(), 1e-6f);
    }

    private Tensor read(int type, byte[] data, long... shape) throws IOException {
        Path file = new GgufWriter().tensor("t", type, data, shape).write(dir.resolve("q" + type + ".gguf"));
        Tensor t = Gguf.open(file, Arena.ofAuto()).tensors().get("t");
        assertEquals(data.length, t.data().byteSize());
        assertEquals(MemorySegment.ofArray(data).mismatch(t.data()), -1);
        return t;
    }
}
