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
import polar.formats.Json;
import polar.runtime.cuda.CudaBackend;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.GemmTask;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.SkinnyGemm;
import polar.tornado.runtime.Executable;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/**
 * Decode-shaped GEMMs on CUDA, cuBLAS ({@code cublasGemmEx}, f16 x f16 -> f32) against
 * {@link SkinnyGemm}: {@code C[m, n] (+)= A[m, k] W[n, k]^T} for the LLaMA-2-7B projections and
 * m in {1, 4, 16}, A float16, C float32, {@code beta = 1} where the layer accumulates into the
 * residual (output and down projections). Each timed run is a captured CUDA graph of the GEMM over
 * enough distinct weight copies (at least 512 MiB) that the 50 MB L2 cannot serve them, as in a
 * decode step; figures are per GEMM, medians of event-timed replays after warm-up, bytes = W + A +
 * C written (+ C read), as a fraction of a device-to-device copy measured in the same run. Each row
 * also checks the two results against each other (relative error, beta = 0).
 *
 * <pre>java -cp ... polar.bench.SkinnyGemmBench [--m 1,4,16] [--json FILE] [--device N] [--repeats N]</pre>
 */
public final class SkinnyGemmBench {
    private static final int WARMUP = 5;
    private static final long COPY_BYTES = 1L << 30;
    private static final long MIN_WEIGHT_BYTES = 512L << 20;

    /** A projection: n x k weights, whether the layer adds it into the residual (beta = 1). */
    private record Shape(String name, int n, int k, boolean accumulate) {}

    private static final List<Shape> SHAPES = List.of(
            new Shape("qkv", 12288, 4096, false),
            new Shape("out", 4096, 4096, true),
            new Shape("gate/up (one)", 11008, 4096, false),
            new Shape("down", 4096, 11008, true),
            new Shape("lm head", 32000, 4096, false));

    private final CudaBackend cuda;
    private final DeviceRandom random;
    private final int repeats;
    private final List<Map<String, Object>> rows = new ArrayList<>();
    private double copyGBps;

    private SkinnyGemmBench(CudaBackend cuda, int repeats) {
        this.cuda = cuda;
        this.random = new DeviceRandom(cuda, (int) System.nanoTime());
        this.repeats = repeats;
    }

    public static void main(String[] args) throws IOException {
        Path json = Path.of("skinnygemm.json");
        int device = 0, repeats = 20;
        int[] ms = {1, 4, 16};
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--json" -> json = Path.of(args[++i]);
                case "--device" -> device = Integer.parseInt(args[++i]);
                case "--repeats" -> repeats = Integer.parseInt(args[++i]);
                case "--m" -> ms = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                default -> throw new IllegalArgumentException("unknown argument " + args[i] + "; usage: SkinnyGemmBench [--m 1,4,16] [--json FILE] [--device N] [--repeats N]");
            }
        }
        if (!CudaBackend.isAvailable()) {
            System.err.println("SkinnyGemmBench: no CUDA device: " + polar.runtime.cuda.CudaDriver.unavailableReason());
            System.exit(2);
        }
        // GemmTasks go to cuBLAS in this run; the skinny kernel is launched explicitly.
        System.setProperty("polar.cuda.skinnyGemm", "0");
        try (CudaBackend cuda = new CudaBackend(device)) {
            SkinnyGemmBench bench = new SkinnyGemmBench(cuda, repeats);
            bench.copyBandwidth();
            System.out.printf(Locale.ROOT, "SkinnyGemmBench on %s: copy %.0f GB/s; medians of %d replays after %d warm-ups%n",
                    cuda.deviceName(), bench.copyGBps, repeats, WARMUP);
            System.out.printf(Locale.ROOT, "%-14s %3s %6s %6s %5s | %9s %7s %6s | %9s %7s %6s | %7s %9s%n",
                    "projection", "m", "n", "k", "beta", "cuBLAS us", "GB/s", "of cp", "skinny us", "GB/s", "of cp", "speedup", "rel err");
            for (Shape s : SHAPES) {
                for (int m : ms) bench.row(s, m);
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("device", cuda.deviceName());
            out.put("copy_gb_per_s", bench.copyGBps);
            out.put("rows", bench.rows);
            Files.writeString(json, Json.writePretty(out) + "\n");
            System.out.println("JSON: " + json.toAbsolutePath());
        }
    }

    private void copyBandwidth() {
        Buffer<HalfArray> src = random.allocate(ElementType.F16, COPY_BYTES / 2, "copy src");
        Buffer<HalfArray> dst = cuda.allocate(ElementType.F16, COPY_BYTES / 2, "copy dst");
        TaskGraph g = new TaskGraph("copy");
        g.copy(src, 0, dst, 0, COPY_BYTES / 2);
        copyGBps = 2.0 * COPY_BYTES / (medianMs(cuda.compile(g)) * 1e6);
        cuda.free(src);
        cuda.free(dst);
    }

    private void row(Shape s, int m) {
        long weightBytes = 2L * s.n() * s.k();
        int copies = (int) Math.max(2, (MIN_WEIGHT_BYTES + weightBytes - 1) / weightBytes);
        List<Buffer<HalfArray>> weights = new ArrayList<>();
        for (int i = 0; i < copies; i++) weights.add(random.allocate(ElementType.F16, (long) s.n() * s.k(), s.name() + " W" + i));
        Buffer<HalfArray> a = random.allocate(ElementType.F16, (long) m * s.k(), "A");
        Buffer<FloatArray> c = random.allocate(ElementType.F32, (long) m * s.n(), "C");
        Buffer<FloatArray> check = cuda.allocate(ElementType.F32, (long) m * s.n(), "C check");
        float beta = s.accumulate() ? 1f : 0f;
        TaskGraph library = new TaskGraph("cublas"), skinny = new TaskGraph("skinny");
        for (Buffer<HalfArray> w : weights) {
            GemmTask t = new GemmTask(a, 0, s.k(), w, 0, s.k(), c, 0, s.n(), m, s.n(), s.k(), 1f, beta);
            library.add(t);
            skinny.add(SkinnyGemm.launch(t));
        }
        double libraryUs = medianMs(cuda.capture(cuda.compile(library))) * 1e3 / copies;
        double skinnyUs = medianMs(cuda.capture(cuda.compile(skinny))) * 1e3 / copies;

        // Both results from the same inputs, beta = 0.
        GemmTask once = new GemmTask(a, 0, s.k(), weights.getFirst(), 0, s.k(), c, 0, s.n(), m, s.n(), s.k(), 1f, 0f);
        TaskGraph compare = new TaskGraph("compare");
        compare.add(once);
        compare.add(SkinnyGemm.launch(new GemmTask(a, 0, s.k(), weights.getFirst(), 0, s.k(), check, 0, s.n(), m, s.n(), s.k(), 1f, 0f)));
        cuda.compile(compare).run();
        double relErr = relativeError((FloatArray) cuda.read(c), (FloatArray) cuda.read(check));

        long bytes = weightBytes + 2L * m * s.k() + 4L * m * s.n() * (s.accumulate() ? 2 : 1);
        double libraryGBps = bytes / (libraryUs * 1e3), skinnyGBps = bytes / (skinnyUs * 1e3);
        System.out.printf(Locale.ROOT, "%-14s %3d %6d %6d %5.0f | %9.2f %7.0f %6.2f | %9.2f %7.0f %6.2f | %7.2f %9.2e%n",
                s.name(), m, s.n(), s.k(), beta, libraryUs, libraryGBps, libraryGBps / copyGBps, skinnyUs, skinnyGBps, skinnyGBps / copyGBps,
                libraryUs / skinnyUs, relErr);
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("projection", s.name());
        r.put("m", m);
        r.put("n", s.n());
        r.put("k", s.k());
        r.put("beta", beta);
        r.put("bytes", bytes);
        r.put("weight_copies", copies);
        r.put("cublas_us", libraryUs);
        r.put("cublas_of_copy", libraryGBps / copyGBps);
        r.put("skinny_us", skinnyUs);
        r.put("skinny_of_copy", skinnyGBps / copyGBps);
        r.put("speedup", libraryUs / skinnyUs);
        r.put("relative_error", relErr);
        rows.add(r);
        for (Buffer<HalfArray> w : weights) cuda.free(w);
        cuda.free(a);
        cuda.free(c);
        cuda.free(check);
    }

    private static double relativeError(FloatArray reference, FloatArray out) {
        double diff = 0, norm = 0;
        for (int i = 0; i < reference.getSize(); i++) {
            double d = out.get(i) - reference.get(i);
            if (!Double.isFinite(out.get(i))) return Double.NaN;
            diff += d * d;
            norm += (double) reference.get(i) * reference.get(i);
        }
        return Math.sqrt(diff / norm);
    }

    /** Median milliseconds of {@code run} over the event-timed repeats after {@link #WARMUP}. */
    private double medianMs(Executable run) {
        for (int i = 0; i < WARMUP; i++) run.run();
        double[] ms = new double[repeats];
        for (int i = 0; i < repeats; i++) ms[i] = cuda.time(run::run);
        Arrays.sort(ms);
        return repeats % 2 == 1 ? ms[repeats / 2] : (ms[repeats / 2 - 1] + ms[repeats / 2]) / 2;
    }
}
