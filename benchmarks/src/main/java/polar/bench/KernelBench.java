package polar.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import polar.runtime.cuda.CudaBackend;
import polar.tornado.compiler.KernelCompileException;
import polar.tornado.graph.Arg;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.KernelRef;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.Basics;
import polar.tornado.runtime.Executable;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * The GPU microbenchmark of issue 2, one run on a CUDA device: device-to-device copy bandwidth
 * (the ceiling for memory-bound kernels), the float16 scaled copy of {@link Basics} (plain and
 * 16-byte wide) as a fraction of it, cuBLAS float16 GEMM at 8192^3, and the launch overhead of
 * one kernel through FFM and inside a replayed CUDA graph. GPU work is timed with CUDA events
 * after warm-up; every figure is a median. Prints a table last and writes JSON.
 *
 * <pre>java -cp ... polar.bench.KernelBench [--json FILE] [--device N]</pre>
 */
public final class KernelBench {
    private static final int WARMUP = 3;
    private static final int REPEATS = 20;
    private static final long COPY_BYTES = 1L << 30;
    private static final int SCALE_ELEMENTS = 1 << 28; // 512 MiB of float16 in, 512 MiB out
    private static final int GEMM_SIZE = 8192;
    private static final int LAUNCHES = 2000;
    private static final int LAUNCH_WARMUP_RUNS = 50;
    /** Few enough launches that the stream's queue never fills: enqueueing them measures the host's cost alone. */
    private static final int FEW_LAUNCHES = 100;

    private final CudaBackend cuda;
    private final Map<String, Object> results = new LinkedHashMap<>();
    private final List<String[]> table = new ArrayList<>();
    private int seed = (int) System.nanoTime();

    private KernelBench(CudaBackend cuda) {
        this.cuda = cuda;
        cuda.defineKernel(KernelRef.of(BenchKernels.class, "empty"), BenchKernels.EMPTY);
        cuda.defineKernel(KernelRef.of(BenchKernels.class, "randomHalf"), BenchKernels.RANDOM_HALF);
    }

    public static void main(String[] args) throws IOException {
        Path json = Path.of("kernelbench.json");
        int device = 0;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--json" -> json = Path.of(args[++i]);
                case "--device" -> device = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i] + "; usage: KernelBench [--json FILE] [--device N]");
            }
        }
        if (!CudaBackend.isAvailable()) {
            System.err.println("KernelBench: no CUDA device: " + polar.runtime.cuda.CudaDriver.unavailableReason());
            System.exit(2);
        }
        try (CudaBackend cuda = new CudaBackend(device)) {
            KernelBench bench = new KernelBench(cuda);
            bench.results.put("device", cuda.deviceName());
            bench.run("copy", bench::copyBandwidth);
            bench.run("scaled_copy", bench::scaledCopy);
            bench.run("gemm", bench::gemm);
            bench.run("launch", bench::launchOverhead);
            Files.writeString(json, toJson(bench.results) + "\n");
            bench.printTable();
            System.out.println("JSON: " + json.toAbsolutePath());
        }
    }

    /** Runs one section; a failure is recorded and printed, and the other sections still run. */
    private void run(String section, Runnable body) {
        try {
            body.run();
        } catch (RuntimeException e) {
            System.err.println("KernelBench " + section + " failed:");
            e.printStackTrace();
            results.put(section + "_error", e.toString());
            table.add(new String[] {section, "FAILED", e.getClass().getSimpleName() + ": " + firstLine(e.getMessage())});
        }
    }

    // ---- sections

    private double copyGBps;

    private void copyBandwidth() {
        long n = COPY_BYTES / 2;
        Buffer<HalfArray> src = randomHalves((int) n, "copy src");
        Buffer<HalfArray> dst = cuda.allocate(ElementType.F16, n, "copy dst");
        TaskGraph g = new TaskGraph("copy");
        g.copy(src, 0, dst, 0, n);
        double ms = medianMs(cuda.compile(g));
        copyGBps = 2.0 * COPY_BYTES / (ms * 1e6);
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("bytes_each_way", COPY_BYTES);
        r.put("median_ms", ms);
        r.put("gb_per_s_read_plus_write", copyGBps);
        results.put("copy", r);
        table.add(new String[] {"device-to-device copy (cuMemcpyDtoDAsync, 1 GiB)", fmt("%.0f GB/s", copyGBps), "read + write bytes"});
        cuda.free(src);
        cuda.free(dst);
    }

    private void scaledCopy() {
        int n = SCALE_ELEMENTS;
        Buffer<HalfArray> in = randomHalves(n, "scale in");
        // one output each (zero-filled), so each variant's check sees only its own writes
        Buffer<HalfArray> plainOut = cuda.allocate(ElementType.F16, n, "scaleHalf out");
        Buffer<HalfArray> wideOut = cuda.allocate(ElementType.F16, n, "scaleHalf8 out");
        float alpha = 0.7f;
        TaskGraph plain = new TaskGraph("scaleHalf");
        plain.parallel(Basics::scaleHalf, Grid.of(n), in, plainOut, Arg.f32(alpha), Arg.i32(n));
        TaskGraph wide = new TaskGraph("scaleHalf8");
        wide.parallel(Basics::scaleHalf8, Grid.of((n + 7) / 8), in, wideOut, Arg.f32(alpha), Arg.i32(n));

        String source = "translated from Java (KernelCompiler)";
        Executable plainRun, wideRun;
        try {
            plainRun = cuda.compile(plain);
            wideRun = cuda.compile(wide);
        } catch (UnsupportedOperationException | KernelCompileException e) {
            source = "hand-written CUDA C (kernel compiler unavailable: " + firstLine(e.getMessage()) + ")";
            cuda.defineKernel(KernelRef.of(Basics.class, "scaleHalf"), BenchKernels.SCALE_HALF);
            cuda.defineKernel(KernelRef.of(Basics.class, "scaleHalf8"), BenchKernels.SCALE_HALF8);
            plainRun = cuda.compile(plain);
            wideRun = cuda.compile(wide);
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("elements", n);
        r.put("kernel_source", source);
        record Variant(String name, Executable run, Buffer<HalfArray> out) {}
        for (Variant variant : List.of(new Variant("scaleHalf", plainRun, plainOut), new Variant("scaleHalf8", wideRun, wideOut))) {
            double ms = medianMs(variant.run());
            double relError = checkScaled(in, variant.out(), alpha, n);
            double gbps = 2.0 * n * 2 / (ms * 1e6);
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("median_ms", ms);
            v.put("gb_per_s", gbps);
            v.put("fraction_of_copy", gbps / copyGBps);
            v.put("sampled_relative_error", relError);
            r.put(variant.name(), v);
            table.add(new String[] {"Basics." + variant.name() + " f16 (512 MiB in+out)", fmt("%.0f GB/s = %.2f of copy", gbps, gbps / copyGBps),
                    (variant.run() == wideRun ? "target >= 0.85; " : "") + "rel err " + fmt("%.1e", relError)});
        }
        results.put("scaled_copy", r);
        cuda.free(in);
        cuda.free(plainOut);
        cuda.free(wideOut);
    }

    /** ||out - alpha*in|| / ||alpha*in|| over 64 chunks of 4096 elements spread over the buffer (float64 reference of the float16 input). */
    private double checkScaled(Buffer<HalfArray> in, Buffer<HalfArray> out, float alpha, int n) {
        int chunks = 64, chunk = 4096;
        HalfArray a = new HalfArray(chunk), b = new HalfArray(chunk);
        double diff = 0, norm = 0;
        for (int c = 0; c < chunks; c++) {
            long at = (long) c * (n - chunk) / (chunks - 1);
            cuda.read(in, at, a.segment(), chunk);
            cuda.read(out, at, b.segment(), chunk);
            for (int i = 0; i < chunk; i++) {
                double ref = (double) alpha * a.get(i), got = b.get(i);
                if (Double.isNaN(got)) return Double.NaN;
                diff += (got - ref) * (got - ref);
                norm += ref * ref;
            }
        }
        return Math.sqrt(diff / norm);
    }

    private void gemm() {
        int s = GEMM_SIZE;
        long elements = (long) s * s;
        Buffer<HalfArray> a = randomHalves((int) elements, "A");
        Buffer<HalfArray> b = randomHalves((int) elements, "B");
        Map<String, Object> r = new LinkedHashMap<>();
        for (ElementType<?> outType : List.of(ElementType.F16, ElementType.F32)) {
            Buffer<?> c = cuda.allocate(outType, elements, "C");
            TaskGraph g = new TaskGraph("gemm");
            g.gemm(a, 0, b, 0, c, 0, s, s, s, 1f, 0f);
            double ms = medianMs(cuda.compile(g));
            double tflops = 2.0 * s * s * s / (ms * 1e9);
            double relError = checkGemm(a, b, c, s);
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("median_ms", ms);
            v.put("tflop_per_s", tflops);
            v.put("sampled_relative_error", relError);
            r.put("f16_to_" + outType, v);
            table.add(new String[] {"cuBLAS GemmEx f16 x f16 -> " + outType + " " + s + "^3", fmt("%.0f TFLOP/s", tflops),
                    (outType == ElementType.F16 ? "target >= 600; " : "") + "rel err " + fmt("%.1e", relError)});
            cuda.free(c);
        }
        results.put("gemm", r);
        cuda.free(a);
        cuda.free(b);
    }

    /** Relative error of 64 sampled elements of C = A B^T against float64 over the float16 inputs. */
    private double checkGemm(Buffer<HalfArray> a, Buffer<HalfArray> b, Buffer<?> c, int s) {
        HalfArray rowA = new HalfArray(s), rowB = new HalfArray(s);
        double diff = 0, norm = 0;
        java.util.Random random = new java.util.Random(seed);
        for (int sample = 0; sample < 64; sample++) {
            int i = random.nextInt(s), j = random.nextInt(s);
            cuda.read(a, (long) i * s, rowA.segment(), s);
            cuda.read(b, (long) j * s, rowB.segment(), s);
            double ref = 0;
            for (int p = 0; p < s; p++) ref += (double) rowA.get(p) * rowB.get(p);
            double got;
            if (c.type() == ElementType.F16) {
                HalfArray one = new HalfArray(1);
                cuda.read(c, (long) i * s + j, one.segment(), 1);
                got = one.get(0);
            } else {
                FloatArray one = new FloatArray(1);
                cuda.read(c, (long) i * s + j, one.segment(), 1);
                got = one.get(0);
            }
            if (Double.isNaN(got)) return Double.NaN;
            diff += (got - ref) * (got - ref);
            norm += ref * ref;
        }
        return Math.sqrt(diff / norm);
    }

    private void launchOverhead() {
        Buffer<IntArray> unused = cuda.allocate(ElementType.I32, 1, "unused");
        TaskGraph g = new TaskGraph("empty launches");
        for (int i = 0; i < LAUNCHES; i++) g.parallel(BenchKernels::empty, Grid.of(32), unused);
        Executable launches = cuda.compile(g);

        // The JIT compiles the launch path only after some 10^4 calls: warm it up well first.
        for (int i = 0; i < LAUNCH_WARMUP_RUNS; i++) launches.run();
        cuda.synchronize();
        // Host side: wall time of enqueueing LAUNCHES kernels, and of enqueueing and finishing them.
        double[] enqueueUs = new double[REPEATS], wallUs = new double[REPEATS];
        for (int rep = -WARMUP; rep < REPEATS; rep++) {
            cuda.synchronize();
            long t0 = System.nanoTime();
            launches.run();
            long t1 = System.nanoTime();
            cuda.synchronize();
            long t2 = System.nanoTime();
            if (rep >= 0) {
                enqueueUs[rep] = (t1 - t0) / 1e3 / LAUNCHES;
                wallUs[rep] = (t2 - t0) / 1e3 / LAUNCHES;
            }
        }
        TaskGraph fewGraph = new TaskGraph("few empty launches");
        for (int i = 0; i < FEW_LAUNCHES; i++) fewGraph.parallel(BenchKernels::empty, Grid.of(32), unused);
        Executable few = cuda.compile(fewGraph);
        double[] fewUs = new double[REPEATS];
        for (int rep = -WARMUP; rep < REPEATS; rep++) {
            cuda.synchronize();
            long t0 = System.nanoTime();
            few.run();
            long t1 = System.nanoTime();
            if (rep >= 0) fewUs[rep] = (t1 - t0) / 1e3 / FEW_LAUNCHES;
        }
        cuda.synchronize();
        double streamUs = medianMs(launches) * 1e3 / LAUNCHES;
        Executable graph = cuda.capture(launches);
        double graphUs = medianMs(graph) * 1e3 / LAUNCHES;

        Map<String, Object> r = new LinkedHashMap<>();
        r.put("kernels_per_run", LAUNCHES);
        r.put("ffm_enqueue_us_per_launch_" + FEW_LAUNCHES, median(fewUs));
        r.put("ffm_enqueue_us_per_launch", median(enqueueUs));
        r.put("ffm_wall_us_per_launch", median(wallUs));
        r.put("stream_event_us_per_launch", streamUs);
        r.put("graph_event_us_per_kernel", graphUs);
        results.put("launch", r);
        table.add(new String[] {"launch through FFM (cuLaunchKernel), host enqueue", fmt("%.2f us/kernel", median(fewUs)), FEW_LAUNCHES + " empty kernels"});
        table.add(new String[] {"launch through FFM, host enqueue", fmt("%.2f us/kernel", median(enqueueUs)), LAUNCHES + " empty kernels (queue fills)"});
        table.add(new String[] {"launch through FFM, wall incl. sync", fmt("%.2f us/kernel", median(wallUs)), "events: " + fmt("%.2f us/kernel", streamUs)});
        table.add(new String[] {"kernel inside a replayed CUDA graph", fmt("%.2f us/kernel", graphUs), "target <= 3"});
        cuda.free(unused);
    }

    // ---- helpers

    private Buffer<HalfArray> randomHalves(int n, String label) {
        Buffer<HalfArray> b = cuda.allocate(ElementType.F16, n, label);
        TaskGraph g = new TaskGraph("random " + label);
        g.parallel(BenchKernels::randomHalf, Grid.of(n), b, Arg.i32(seed++), Arg.i32(n));
        cuda.compile(g).run();
        return b;
    }

    /** Median milliseconds of {@code run} over {@link #REPEATS} event-timed runs after {@link #WARMUP}. */
    private double medianMs(Executable run) {
        for (int i = 0; i < WARMUP; i++) run.run();
        double[] ms = new double[REPEATS];
        for (int i = 0; i < REPEATS; i++) ms[i] = cuda.time(run::run);
        return median(ms);
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private void printTable() {
        int w0 = 0, w1 = 0;
        for (String[] row : table) {
            w0 = Math.max(w0, row[0].length());
            w1 = Math.max(w1, row[1].length());
        }
        System.out.println();
        System.out.println("KernelBench on " + cuda.deviceName() + " (medians of " + REPEATS + " event-timed runs after " + WARMUP + " warm-ups)");
        for (String[] row : table) System.out.printf("%-" + w0 + "s  %-" + w1 + "s  %s%n", row[0], row[1], row[2]);
    }

    private static String fmt(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** Maps, numbers and strings as JSON. */
    static String toJson(Object value) {
        return switch (value) {
            case Map<?, ?> m -> {
                StringBuilder b = new StringBuilder("{");
                for (var e : m.entrySet()) {
                    if (b.length() > 1) b.append(", ");
                    b.append(toJson(String.valueOf(e.getKey()))).append(": ").append(toJson(e.getValue()));
                }
                yield b.append('}').toString();
            }
            case Double d when d.isNaN() || d.isInfinite() -> "null";
            case Number n -> n.toString();
            case String s -> '"' + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + '"';
            default -> toJson(String.valueOf(value));
        };
    }
}
