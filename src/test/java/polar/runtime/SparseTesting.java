package polar.runtime;

import java.util.Arrays;
import java.util.Random;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.TaskGraph;
import polar.tornado.runtime.Backend;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;

/** Small helpers shared by the Polar Sparsity kernel tests. */
final class SparseTesting {
    private SparseTesting() {}

    /** A buffer of {@code n} elements filled with NaN (or -1 for integers), so a kernel that skips an element is caught. */
    static <T extends DeviceArray> Buffer<T> poisoned(Backend backend, ElementType<T> type, int n, String label) {
        Buffer<T> b = backend.allocate(type, Math.max(1, n), label);
        backend.write(b, Accuracy.poison(type, Math.max(1, n)));
        return b;
    }

    static void run(Backend backend, TaskGraph graph) {
        backend.compile(graph).run();
        backend.synchronize();
    }

    /** {@code k} distinct values of {@code 0..n-1} in random order. */
    static int[] randomSubset(Random random, int n, int k) {
        int[] all = new int[n];
        for (int i = 0; i < n; i++) all[i] = i;
        for (int i = 0; i < k; i++) {
            int j = i + random.nextInt(n - i);
            int swap = all[i];
            all[i] = all[j];
            all[j] = swap;
        }
        return Arrays.copyOf(all, k);
    }
}
