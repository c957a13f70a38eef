package polar.runtime.jvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import polar.tornado.graph.Arg;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.CopyTask;
import polar.tornado.graph.GemmTask;
import polar.tornado.graph.KernelTask;
import polar.tornado.graph.Task;
import polar.tornado.graph.TaskGraph;
import polar.tornado.runtime.Backend;
import polar.tornado.runtime.Executable;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;

/**
 * Runs task graphs in this JVM: buffers are off-heap host arrays, kernels are the Java methods
 * themselves (see {@link KernelLaunch}), GEMM is {@link JvmGemm}. Work runs when enqueued, so
 * {@link #synchronize()} has nothing to wait for. The reference for every other backend.
 */
public final class JvmBackend implements Backend {
    public static final String NAME = "jvm";

    private volatile boolean closed;

    @Override
    public String name() { return NAME; }

    @Override
    public String deviceName() {
        return "Java " + Runtime.version().feature() + " on " + Runtime.getRuntime().availableProcessors() + " cores";
    }

    @Override
    public <T extends DeviceArray> Buffer<T> allocate(ElementType<T> type, long length, String label) {
        checkOpen();
        if (length < 0 || length > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("buffer " + label + ": " + length + " elements is outside the JVM backend's int indexing");
        }
        long bytes = length * type.bytes();
        MemorySegment segment = Arena.ofAuto().allocate(Math.max(bytes, 1), 64).asSlice(0, bytes); // freed by the GC once unreachable
        return new JvmBuffer<>(this, type, type.wrap(segment), label);
    }

    @Override
    public <T extends DeviceArray> Buffer<T> upload(ElementType<T> type, MemorySegment host, String label) {
        if (host.byteSize() % type.bytes() != 0) {
            throw new IllegalArgumentException("upload " + label + ": " + host.byteSize() + " bytes is not a whole number of " + type + " elements");
        }
        Buffer<T> buffer = allocate(type, host.byteSize() / type.bytes(), label);
        MemorySegment.copy(host, 0, own(buffer, "upload").array().segment(), 0, host.byteSize());
        return buffer;
    }

    @Override
    public void write(Buffer<?> dst, long dstOffset, MemorySegment src, long count) {
        MemorySegment segment = own(dst, "write").array().segment();
        checkRange(dst, dstOffset, count, "write");
        long bytes = count * dst.type().bytes();
        if (src.byteSize() < bytes) throw new IllegalArgumentException("write of " + count + " elements into " + dst + " from " + src.byteSize() + " host bytes");
        MemorySegment.copy(src, 0, segment, dstOffset * dst.type().bytes(), bytes);
    }

    @Override
    public void read(Buffer<?> src, long srcOffset, MemorySegment dst, long count) {
        MemorySegment segment = own(src, "read").array().segment();
        checkRange(src, srcOffset, count, "read");
        long bytes = count * src.type().bytes();
        if (dst.byteSize() < bytes) throw new IllegalArgumentException("read of " + count + " elements of " + src + " into " + dst.byteSize() + " host bytes");
        MemorySegment.copy(segment, srcOffset * src.type().bytes(), dst, 0, bytes);
    }

    private static void checkRange(Buffer<?> buffer, long offset, long count, String what) {
        if (offset < 0 || count < 0 || offset + count > buffer.length()) {
            throw new IllegalArgumentException(what + " of " + count + " elements at offset " + offset + " is outside " + buffer);
        }
    }

    @Override
    public void free(Buffer<?> buffer) {
        own(buffer, "free").free();
    }

    /** The buffer as this backend's, or a clear error naming it and the operation. */
    private JvmBuffer<?> own(Buffer<?> buffer, String what) {
        checkOpen();
        if (buffer instanceof JvmBuffer<?> b && b.owner() == this) return b;
        String whose = buffer instanceof JvmBuffer<?> ? "another jvm backend" : "another backend (" + buffer.getClass().getSimpleName() + ")";
        throw new IllegalArgumentException(what + ": buffer " + buffer + " belongs to " + whose + ", not to this " + NAME + " backend");
    }

    @Override
    public Executable compile(List<TaskGraph> graphs) {
        List<Step> steps = new ArrayList<>();
        for (TaskGraph graph : graphs) {
            for (int i = 0; i < graph.tasks().size(); i++) {
                Task task = graph.tasks().get(i);
                String where = graph.name() + " task " + i + " (" + task + ")";
                List<JvmBuffer<?>> buffers = new ArrayList<>();
                for (Buffer<?> b : task.buffers()) buffers.add(own(b, where));
                steps.add(new Step(where, buffers, resolve(task)));
            }
        }
        return () -> {
            for (Step step : steps) step.run();
        };
    }

    /** A task with its buffers checked before each run (a freed buffer fails clearly, not with stale data). */
    private record Step(String where, List<JvmBuffer<?>> buffers, Runnable work) {
        void run() {
            for (JvmBuffer<?> b : buffers) {
                if (b.isFreed()) throw new IllegalStateException(where + ": buffer " + b + " was freed");
            }
            work.run();
        }
    }

    private Runnable resolve(Task task) {
        return switch (task) {
            case KernelTask k -> {
                Object[] values = new Object[k.args().size()];
                for (int i = 0; i < values.length; i++) {
                    values[i] = switch (k.args().get(i)) {
                        case Buffer<?> b -> ((JvmBuffer<?>) b).array();
                        case Arg.Scalar<?> s -> s.value(); // constants too: in Java they are ordinary parameters
                    };
                }
                yield new KernelLaunch(k.kernel(), k.grid(), values);
            }
            case GemmTask g -> new JvmGemm(g, array(g.a()), array(g.b()), array(g.c()));
            case CopyTask c -> {
                long bytes = c.src().type().bytes();
                MemorySegment src = array(c.src()).segment(), dst = array(c.dst()).segment();
                yield () -> MemorySegment.copy(src, c.srcOffset() * bytes, dst, c.dstOffset() * bytes, c.count() * bytes);
            }
        };
    }

    private static DeviceArray array(Buffer<?> buffer) { return ((JvmBuffer<?>) buffer).array(); }

    @Override
    public void synchronize() {}

    private void checkOpen() {
        if (closed) throw new IllegalStateException("the " + NAME + " backend was closed");
    }

    @Override
    public void close() { closed = true; }

    @Override
    public String toString() { return NAME + " (" + deviceName() + ")"; }
}
