package polar.bench;

import polar.runtime.cuda.CudaBackend;
import polar.tornado.graph.Arg;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.KernelRef;
import polar.tornado.graph.TaskGraph;
import polar.tornado.runtime.Backend;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/**
 * Fills device buffers with uniform values in [-1, 1) on the device (no host upload of gigabytes
 * of KV cache), a fresh seed per buffer. On CUDA the fill kernels are the hand-written twins of
 * {@link BenchKernels}, so filling does not depend on the kernel compiler.
 */
final class DeviceRandom {
    private final Backend backend;
    private int seed;

    DeviceRandom(Backend backend, int seed) {
        this.backend = backend;
        this.seed = seed;
        if (backend instanceof CudaBackend cuda) {
            cuda.defineKernel(KernelRef.of(BenchKernels.class, "randomHalf"), BenchKernels.RANDOM_HALF);
            cuda.defineKernel(KernelRef.of(BenchKernels.class, "randomFloat"), BenchKernels.RANDOM_FLOAT);
        }
    }

    /** Fills a float16 or float32 buffer. */
    @SuppressWarnings("unchecked")
    void fill(Buffer<?> buffer) {
        int n = Math.toIntExact(buffer.length());
        TaskGraph g = new TaskGraph("random " + buffer.label());
        if (buffer.type() == ElementType.F16) {
            g.parallel(BenchKernels::randomHalf, Grid.of(n), (Buffer<HalfArray>) buffer, Arg.i32(seed++), Arg.i32(n));
        } else if (buffer.type() == ElementType.F32) {
            g.parallel(BenchKernels::randomFloat, Grid.of(n), (Buffer<FloatArray>) buffer, Arg.i32(seed++), Arg.i32(n));
        } else {
            throw new IllegalArgumentException("cannot fill " + buffer);
        }
        backend.compile(g).run();
    }

    /** Allocates a buffer of {@code type} and fills it. */
    <T extends polar.tornado.types.DeviceArray> Buffer<T> allocate(ElementType<T> type, long length, String label) {
        Buffer<T> b = backend.allocate(type, length, label);
        fill(b);
        return b;
    }
}
