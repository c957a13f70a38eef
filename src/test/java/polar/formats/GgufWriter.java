package polar.formats;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Writes small GGUF files for tests, laid out as the GGUF specification says (little-endian, aligned data). */
public final class GgufWriter {
    private final ByteArrayOutputStream kv = new ByteArrayOutputStream();
    private int kvCount;
    private record TensorEntry(String name, int type, long[] dimsInnermostFirst, byte[] data) {}
    private final List<TensorEntry> tensors = new ArrayList<>();
    private int version = 3;
    private int alignment = Gguf.DEFAULT_ALIGNMENT;

    public GgufWriter version(int v) { version = v; return this; }

    private static byte[] le(int bytes, long v) {
        ByteBuffer b = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
        switch (bytes) {
            case 1 -> b.put((byte) v);
            case 2 -> b.putShort((short) v);
            case 4 -> b.putInt((int) v);
            default -> b.putLong(v);
        }
        return b.array();
    }

    private static byte[] str(String s) {
        byte[] u = s.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(le(8, u.length));
        o.writeBytes(u);
        return o.toByteArray();
    }

    private void key(String key, int type) {
        kv.writeBytes(str(key));
        kv.writeBytes(le(4, type));
        kvCount++;
    }

    public GgufWriter u32(String key, long v) { key(key, 4); kv.writeBytes(le(4, v)); if (key.equals(Gguf.ALIGNMENT_KEY)) alignment = (int) v; return this; }

    public GgufWriter i8(String key, int v) { key(key, 1); kv.writeBytes(le(1, v)); return this; }

    public GgufWriter u16(String key, int v) { key(key, 2); kv.writeBytes(le(2, v)); return this; }

    public GgufWriter u64(String key, long v) { key(key, 10); kv.writeBytes(le(8, v)); return this; }

    public GgufWriter f32(String key, float v) { key(key, 6); kv.writeBytes(le(4, Float.floatToIntBits(v))); return this; }

    public GgufWriter f64(String key, double v) { key(key, 12); kv.writeBytes(le(8, Double.doubleToLongBits(v))); return this; }

    public GgufWriter bool(String key, boolean v) { key(key, 7); kv.writeBytes(le(1, v ? 1 : 0)); return this; }

    public GgufWriter string(String key, String v) { key(key, 8); kv.writeBytes(str(v)); return this; }

    public GgufWriter strings(String key, List<String> v) {
        key(key, 9);
        kv.writeBytes(le(4, 8));
        kv.writeBytes(le(8, v.size()));
        for (String s : v) kv.writeBytes(str(s));
        return this;
    }

    public GgufWriter floats(String key, float[] v) {
        key(key, 9);
        kv.writeBytes(le(4, 6));
        kv.writeBytes(le(8, v.length));
        for (float f : v) kv.writeBytes(le(4, Float.floatToIntBits(f)));
        return this;
    }

    public GgufWriter ints(String key, int[] v) {
        key(key, 9);
        kv.writeBytes(le(4, 5));
        kv.writeBytes(le(8, v.length));
        for (int i : v) kv.writeBytes(le(4, i));
        return this;
    }

    /** A tensor of GGML type {@code type} with {@code shape} outermost first (written innermost first, as GGUF does). */
    public GgufWriter tensor(String name, int type, byte[] data, long... shape) {
        long[] dims = new long[shape.length];
        for (int i = 0; i < shape.length; i++) dims[i] = shape[shape.length - 1 - i];
        tensors.add(new TensorEntry(name, type, dims, data));
        return this;
    }

    public GgufWriter f32Tensor(String name, float[] values, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) b.putFloat(v);
        return tensor(name, 0, b.array(), shape);
    }

    public byte[] bytes() {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(le(4, Gguf.MAGIC));
        o.writeBytes(le(4, version));
        o.writeBytes(le(8, tensors.size()));
        o.writeBytes(le(8, kvCount));
        o.writeBytes(kv.toByteArray());
        long offset = 0;
        List<Long> offsets = new ArrayList<>();
        for (TensorEntry t : tensors) {
            o.writeBytes(str(t.name));
            o.writeBytes(le(4, t.dimsInnermostFirst.length));
            for (long d : t.dimsInnermostFirst) o.writeBytes(le(8, d));
            o.writeBytes(le(4, t.type));
            o.writeBytes(le(8, offset));
            offsets.add(offset);
            offset += (t.data.length + alignment - 1) / alignment * alignment;
        }
        while (o.size() % alignment != 0) o.write(0);
        long start = o.size();
        for (int i = 0; i < tensors.size(); i++) {
            while (o.size() < start + offsets.get(i)) o.write(0);
            o.writeBytes(tensors.get(i).data);
        }
        return o.toByteArray();
    }

    public Path write(Path file) throws IOException {
        Files.write(file, bytes());
        return file;
    }
}
