package polar.tornado.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.TaskGraph;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;

/**
 * A device that runs task graphs: {@code jvm} (in-process), {@code cuda} (driver API, NVRTC,
 * cuBLAS through FFM) or {@code opencl}. Work is enqueued in order on one stream; reads
 * synchronise. Implementations live in the runtime layer ({@code polar.runtime.*}).
 */
public interface Backend extends AutoCloseable {

    /** {@code jvm}, {@code cuda} or {@code opencl}. */
    String name();

    /** The device in words, e.g. "NVIDIA H100 80GB HBM3 (sm_90)". */
    String deviceName();

    /** A new zero-filled device buffer. */
    <T extends DeviceArray> Buffer<T> allocate(ElementType<T> type, long length, String label);

    /** A device buffer holding a copy of {@code host} (the JVM backend may share it without copying). */
    <T extends DeviceArray> Buffer<T> upload(ElementType<T> type, MemorySegment host, String label);

    default <T extends DeviceArray> Buffer<T> upload(T host, String label) {
        @SuppressWarnings("unchecked")
        ElementType<T> type = (ElementType<T>) host.elementType();
        return upload(type, host.segment(), label);
    }

    /** Copies {@code count} elements from host memory into {@code dst} at element {@code dstOffset}. */
    void write(Buffer<?> dst, long dstOffset, MemorySegment src, long count);

    /** Copies {@code count} elements of {@code src} from element {@code srcOffset} into host memory; waits for queued work first. */
    void read(Buffer<?> src, long srcOffset, MemorySegment dst, long count);

    /** Reads a whole buffer into a new host array. */
    default <T extends DeviceArray> T read(Buffer<T> src) {
        T host = src.type().wrap(Arena.ofAuto().allocate(Math.max(1, src.byteSize()), 64).asSlice(0, src.byteSize()));
        read(src, 0, host.segment(), src.length());
        return host;
    }

    /** Writes a whole host array into a buffer of the same length. */
    default void write(Buffer<?> dst, DeviceArray src) {
        if (src.getSize() != dst.length()) throw new IllegalArgumentException("write of " + src.getSize() + " elements into " + dst);
        write(dst, 0, src.segment(), dst.length());
    }

    /** Releases a buffer's device memory; the buffer must not be used afterwards. */
    void free(Buffer<?> buffer);

    /** Translates and loads every kernel of the graphs, checks buffers belong here, and returns a runnable sequence. */
    Executable compile(List<TaskGraph> graphs);

    default Executable compile(TaskGraph... graphs) {
        return compile(List.of(graphs));
    }

    /**
     * Records one run of {@code executable} so it can be replayed with one launch (a CUDA graph).
     * Backends without such a mechanism return {@code executable} itself. Per-step values must
     * come from device buffers, since scalars are frozen at capture.
     */
    default Executable capture(Executable executable) {
        return executable;
    }

    /** Waits until all enqueued work is done. */
    void synchronize();

    /** Milliseconds the device spent on {@code work} (device events on GPUs; wall time around a synchronised run in the JVM). */
    default float time(Runnable work) {
        synchronize();
        long t0 = System.nanoTime();
        work.run();
        synchronize();
        return (System.nanoTime() - t0) / 1e6f;
    }

    /** Bytes of device memory free and in total, where the device reports them (else -1). */
    default long[] memoryInfo() {
        return new long[] {-1, -1};
    }

    @Override
    void close();
}
