package polar.tornado.kernels;

import java.util.List;
import polar.runtime.Accuracy;
import polar.engine.TestBackends;
import polar.runtime.Backends;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.TaskGraph;
import polar.tornado.runtime.Backend;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;

/** Shared pieces of the kernel tests: the backends to run on, poisoned outputs, running a graph. */
final class KernelTesting {
    private KernelTesting() {}

    static List<String> backends() {
        return TestBackends.names();
    }

    /** A buffer of {@code n} NaNs (-1 for ints), so an element a kernel skips is caught. */
    static <T extends DeviceArray> Buffer<T> poisoned(Backend backend, ElementType<T> type, int n, String label) {
        Buffer<T> b = backend.allocate(type, n, label);
        backend.write(b, Accuracy.poison(type, n));
        return b;
    }

    static void run(Backend backend, TaskGraph graph) {
        backend.compile(graph).run();
        backend.synchronize();
    }

    static double[] doubles(float[] values) {
        double[] r = new double[values.length];
        for (int i = 0; i < r.length; i++) r[i] = values[i];
        return r;
    }

    static float[] floats(FloatArray a) {
        return a.toArray();
    }
}
