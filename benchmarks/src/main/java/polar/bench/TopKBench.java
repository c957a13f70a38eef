package polar.bench;

import static polar.tornado.graph.Arg.constant;
import static polar.tornado.graph.Arg.i32;

import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import polar.runtime.Backends;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.TopK;
import polar.tornado.runtime.Backend;
import polar.tornado.runtime.Executable;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.IntArray;

/**
 * Time of {@link TopK#large} (radix select) beside {@link TopK#largeByBits} (the kernel it replaced)
 * over one row of batch-summed MLP router scores (OPT-6.7B: ffn 16384; 32768 for the largest row
 * they take), as the sparse MLP runs it once per layer and decode step. Two numbers per kernel and
 * shape, medians of event-timed runs after warm-up: one launch (launch overhead included), and a
 * CUDA graph of {@link #CHAIN} launches divided by {@value #CHAIN} (the kernel's own time, as in a
 * captured decode step), then the ratio of the graph times. Each result is checked against a Java sort first.
 *
 * <p>Usage: {@code TopKBench [--backend cuda|opencl|jvm]}.
 */
public final class TopKBench {
    private static final int WARMUP = 5;
    private static final int REPEATS = 21;
    private static final int CHAIN = 20;

    /** Score distributions: uniform over [-1, 1), and ReLU'd (about half exact zeros, the router's case). */
    enum Scores { UNIFORM, RELU }

    /** The kernels compared: the engine's and the one it replaced. */
    enum Kernel {
        RADIX("TopK.large"), BY_BITS("TopK.largeByBits");

        final String label;

        Kernel(String label) { this.label = label; }
    }

    public static void main(String[] args) {
        String name = "cuda";
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--backend")) name = args[++i];
            else throw new IllegalArgumentException("unknown argument " + args[i] + "; usage: TopKBench [--backend NAME]");
        }
        try (Backend backend = Backends.open(name)) {
            System.out.println("TopKBench on " + backend.name() + " (medians of " + REPEATS + " timed runs after " + WARMUP
                    + " warm-ups; TopK.LARGE_THREADS " + TopK.LARGE_THREADS + ")");
            for (int[] shape : new int[][] {{16384, 1638}, {16384, 4096}, {32768, 8192}}) {
                for (Scores kind : Scores.values()) time(backend, shape[0], shape[1], kind);
            }
        }
    }

    static void time(Backend backend, int n, int k, Scores kind) {
        FloatArray host = scores(n, kind, new Random(n + k));
        Buffer<FloatArray> scores = backend.upload(host, "scores");
        Buffer<IntArray> out = backend.allocate(ElementType.I32, k, "active");
        double[] chained = new double[Kernel.values().length];
        for (Kernel kernel : Kernel.values()) {
            Executable one = backend.compile(graph(kernel, 1, scores, out, n, k));
            IntArray poison = new IntArray(k);
            poison.fill(-1);
            backend.write(out, poison); // each kernel's own result is checked
            one.run();
            check(kernel, host, backend.read(out), n, k);
            Executable chain = backend.capture(backend.compile(graph(kernel, CHAIN, scores, out, n, k)));
            double single = medianMs(backend, one);
            chained[kernel.ordinal()] = medianMs(backend, chain) / CHAIN;
            System.out.printf(Locale.ROOT, "%s n %d k %d %s: %.1f us one launch, %.1f us each in a graph of %d%n", kernel.label,
                    n, k, kind.name().toLowerCase(Locale.ROOT), 1000 * single, 1000 * chained[kernel.ordinal()], CHAIN);
        }
        System.out.printf(Locale.ROOT, "  n %d k %d %s: byBits / radix = %.2fx%n", n, k, kind.name().toLowerCase(Locale.ROOT),
                chained[Kernel.BY_BITS.ordinal()] / chained[Kernel.RADIX.ordinal()]);
        backend.free(scores);
        backend.free(out);
    }

    static TaskGraph graph(Kernel kernel, int launches, Buffer<FloatArray> scores, Buffer<IntArray> out, int n, int k) {
        TaskGraph g = new TaskGraph("topkLarge");
        for (int i = 0; i < launches; i++) {
            if (kernel == Kernel.RADIX) g.kernel(TopK::large, Grid.groups(1, TopK.LARGE_THREADS), scores, out, constant(n), i32(k));
            else g.kernel(TopK::largeByBits, Grid.groups(1, TopK.LARGE_THREADS), scores, out, constant(n), i32(k));
        }
        return g;
    }

    static FloatArray scores(int n, Scores kind, Random random) {
        FloatArray a = new FloatArray(n);
        for (int i = 0; i < n; i++) {
            float u = random.nextFloat() * 2 - 1;
            a.set(i, kind == Scores.RELU ? Math.max(0f, u) : u);
        }
        return a;
    }

    /** The device's list must be the k largest (ties to the lower index), ascending. */
    static void check(Kernel kernel, FloatArray scores, IntArray got, int n, int k) {
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> {
            int byScore = Float.compare(scores.get(b), scores.get(a));
            return byScore != 0 ? byScore : Integer.compare(a, b);
        });
        int[] expected = new int[k];
        for (int i = 0; i < k; i++) expected[i] = order[i];
        Arrays.sort(expected);
        if (!Arrays.equals(expected, got.toArray())) throw new AssertionError(kernel.label + " n " + n + " k " + k + ": wrong indices");
    }

    static double medianMs(Backend backend, Executable run) {
        for (int i = 0; i < WARMUP; i++) run.run();
        double[] ms = new double[REPEATS];
        for (int i = 0; i < REPEATS; i++) ms[i] = backend.time(run::run);
        Arrays.sort(ms);
        return ms[REPEATS / 2];
    }
}
