package polar.tornado.graph;

import java.util.List;

/** Device-to-device copy of {@code count} elements between buffers of the same element type. */
public record CopyTask(Buffer<?> src, long srcOffset, Buffer<?> dst, long dstOffset, long count) implements Task {
    public CopyTask {
        if (src.type() != dst.type()) throw new IllegalArgumentException("copy " + src + " -> " + dst + ": element types differ");
        if (srcOffset < 0 || dstOffset < 0 || count < 0 || srcOffset + count > src.length() || dstOffset + count > dst.length()) {
            throw new IllegalArgumentException("copy of " + count + " elements " + src + "@" + srcOffset + " -> " + dst + "@" + dstOffset + " is out of range");
        }
    }

    @Override
    public List<Buffer<?>> buffers() { return List.of(src, dst); }
}
