package polar.bench;

import static polar.tornado.graph.Arg.constant;
import static polar.tornado.graph.Arg.f32;
import static polar.tornado.graph.Arg.i32;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import polar.runtime.Backends;
import polar.runtime.cuda.CudaBackend;
import polar.tornado.graph.Arg;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.KernelRef;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.Activations;
import polar.tornado.kernels.Attention;
import polar.tornado.kernels.SelectiveAttention;
import polar.tornado.kernels.SparseMlp;
import polar.tornado.kernels.TopK;
import polar.tornado.runtime.Backend;
import polar.tornado.runtime.Executable;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * First timings of the Polar Sparsity kernels against their dense counterparts, float16 cache
 * and weights (the CUDA precision): selective vs dense decode attention (LLaMA-2-7B and
 * LLaMA-3-8B layer shapes), the gathered ReLU MLP vs the cuBLAS MLP (OPT-6.7B shape), and the
 * router kernels. Medians of event-timed runs after warm-up; bandwidth counts the bytes that must
 * be read (cache of the attending units, selected weight rows).
 *
 * <p>Usage: {@code SparseKernelsBench [--backend cuda|opencl|jvm] [--only attention,mlp,routers]}.
 */
public final class SparseKernelsBench {
    private static final int WARMUP = 3;
    private static final int REPEATS = 20;
    private static final int BLOCK = 16;

    private final Backend backend;
    private final List<String> rows = new ArrayList<>();
    private double copyGBps = Double.NaN;
    private int seed = 1;

    private SparseKernelsBench(Backend backend) {
        this.backend = backend;
        if (backend instanceof CudaBackend cuda) cuda.defineKernel(KernelRef.of(BenchKernels.class, "randomHalf"), BenchKernels.RANDOM_HALF);
    }

    public static void main(String[] args) {
        String name = "cuda";
        String parts = "attention,mlp,routers";
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--backend")) name = args[++i];
            else if (args[i].equals("--only")) parts = args[++i];
            else throw new IllegalArgumentException("unknown argument " + args[i] + "; usage: SparseKernelsBench [--backend NAME] [--only attention,mlp,routers]");
        }
        try (Backend backend = Backends.open(name)) {
            SparseKernelsBench bench = new SparseKernelsBench(backend);
            System.out.println("SparseKernelsBench on " + backend.name() + " (medians of " + REPEATS + " timed runs after " + WARMUP + " warm-ups)");
            bench.copyBandwidth();
            if (parts.contains("attention")) {
                double[] densities = {0.25, 0.5, 0.75, 1.0};
                bench.attention("LLaMA-2-7B", 32, 1, 128, 16, 4096, densities, new int[] {256, 512, 1024});
                bench.attention("LLaMA-3-8B", 8, 4, 128, 64, 4096, densities, new int[] {256, 512, 1024});
                bench.attention("LLaMA-3-8B", 8, 4, 128, 16, 4096, new double[] {0.625}, new int[] {256, 512, 1024});
                bench.attention("LLaMA-2-7B", 32, 1, 128, 64, 1024, new double[] {0.5}, new int[] {256});
                // small batches: how many partitions fill the device
                bench.attention("LLaMA-2-7B", 32, 1, 128, 1, 4096, new double[] {0.5}, new int[] {128, 256, 512});
                bench.attention("LLaMA-2-7B", 32, 1, 128, 4, 4096, new double[] {0.5}, new int[] {128, 256, 512});
                bench.attention("LLaMA-3-8B", 8, 4, 128, 4, 4096, new double[] {0.625}, new int[] {128, 256, 512});
            }
            if (parts.contains("mlp")) for (int batch : new int[] {1, 16, 64}) bench.mlp(4096, 16384, batch, new int[] {2048, 4096, 16384});
            if (parts.contains("routers")) bench.routers();
            bench.rows.forEach(System.out::println);
        }
    }

    // ---- attention

    /**
     * Dense and selective decode attention of one layer ({@code batch} sequences of {@code context}
     * positions, float16 cache) at each split-K partition size (the kernel merges its partitions
     * itself), against the copy bandwidth of this run for the K and V bytes of the attended units.
     * Selective rows keep {@code densities} of the KV heads (random per sequence).
     */
    void attention(String model, int kvHeads, int group, int headDim, int batch, int context, double[] densities, int[] partitionSizes) {
        int heads = kvHeads * group, qDim = heads * headDim, kvDim = kvHeads * headDim, qkvDim = qDim + 2 * kvDim;
        int maxBlocks = context / BLOCK;
        long cacheElements = (long) batch * maxBlocks * BLOCK * kvDim;
        Buffer<HalfArray> k = randomHalves(cacheElements, "kCache");
        Buffer<HalfArray> v = randomHalves(cacheElements, "vCache");
        Random random = new Random(seed++);
        FloatArray qkv = new FloatArray(batch * qkvDim);
        for (int i = 0; i < qkv.getSize(); i++) qkv.set(i, random.nextFloat() * 2 - 1);
        IntArray table = new IntArray(batch * maxBlocks);
        int[] blocks = shuffled(random, batch * maxBlocks);
        for (int i = 0; i < blocks.length; i++) table.set(i, blocks[i]);
        IntArray positions = new IntArray(batch), tokenSeq = new IntArray(batch);
        for (int t = 0; t < batch; t++) {
            positions.set(t, context - 1);
            tokenSeq.set(t, t);
        }
        var qkvB = backend.upload(qkv, "qkv");
        var tableB = backend.upload(table, "blockTable");
        var posB = backend.upload(positions, "positions");
        var seqB = backend.upload(tokenSeq, "tokenSeq");
        var out = backend.allocate(ElementType.F16, batch * qDim, "attn");
        int maxParts = context / Arrays.stream(partitionSizes).min().orElseThrow();
        var partOut = backend.allocate(ElementType.F32, (long) batch * maxParts * qDim, "partOut");
        var partStats = backend.allocate(ElementType.F32, (long) batch * maxParts * heads * 2, "partStats");
        var arrivals = backend.allocate(ElementType.I32, (long) batch * kvHeads, "arrivals");
        Arg<Float> scale = f32((float) (1 / Math.sqrt(headDim)));
        double denseBytes = 2.0 * cacheElements * 2;
        row("%s attention, batch %d, context %d, float16 KV %.0f MB (K+V) a layer; copy %.0f GB/s:", model, batch, context, denseBytes / 1e6, copyGBps);
        row("  %-10s %5s %6s %9s %9s %9s %8s", "", "units", "split", "MB read", "kernel ms", "of copy", "vs dense");
        for (int ps : partitionSizes) {
            int parts = context / ps;
            TaskGraph dense = new TaskGraph("dense");
            dense.kernel(Attention::pagedHalf, Grid.groups(kvHeads, batch, parts, Attention.THREADS), qkvB, k, v, tableB, seqB, posB, out,
                    partOut, partStats, arrivals, i32(qkvDim), i32(maxBlocks), i32(ps), i32(parts), scale,
                    constant(headDim), constant(group), constant(kvHeads), constant(BLOCK));
            double denseMs = medianMs(backend.compile(dense));
            attentionRow("dense", kvHeads, kvHeads, parts, denseBytes, denseMs, denseMs);
            for (double density : densities) {
                int kk = (int) Math.round(density * kvHeads);
                IntArray selected = new IntArray(batch * kk);
                for (int t = 0; t < batch; t++) {
                    int[] units = shuffled(random, kvHeads);
                    for (int m = 0; m < kk; m++) selected.set(t * kk + m, units[m]);
                }
                var selB = backend.upload(selected, "selected");
                TaskGraph sparse = new TaskGraph("selective");
                sparse.kernel(SelectiveAttention::pagedHalf, Grid.groups(kk, batch, parts, Attention.THREADS), qkvB, k, v, tableB, seqB, posB, selB,
                        out, partOut, partStats, arrivals, i32(qkvDim), i32(maxBlocks), i32(ps), i32(parts), scale, i32(kk),
                        constant(headDim), constant(group), constant(kvHeads), constant(BLOCK));
                double ms = medianMs(backend.compile(sparse));
                attentionRow(String.format(Locale.ROOT, "selective %.2f", density), kk, kvHeads, parts, denseBytes * kk / kvHeads, ms, denseMs);
                backend.free(selB);
            }
        }
        for (Buffer<?> b : List.of(k, v, qkvB, tableB, posB, seqB, out, partOut, partStats, arrivals)) backend.free(b);
    }

    private void attentionRow(String what, int units, int kvHeads, int parts, double bytes, double kernelMs, double denseMs) {
        double gbps = bytes / kernelMs / 1e6;
        row("  %-14s %2d/%-2d %6d %9.1f %9.3f %9.2f %7.2fx", what, units, kvHeads, parts, bytes / 1e6, kernelMs, gbps / copyGBps, denseMs / kernelMs);
    }

    /** Device-to-device copy of 1 GiB: read plus write bytes per second, the ceiling for streaming kernels. */
    void copyBandwidth() {
        long n = 1L << 29;
        Buffer<HalfArray> src = randomHalves(n, "copy src");
        Buffer<HalfArray> dst = backend.allocate(ElementType.F16, n, "copy dst");
        TaskGraph g = new TaskGraph("copy");
        g.copy(src, 0, dst, 0, n);
        copyGBps = 2.0 * 2 * n / medianMs(backend.compile(g)) / 1e6;
        row("device-to-device copy, 1 GiB: %.0f GB/s (read + write)", copyGBps);
        backend.free(src);
        backend.free(dst);
    }

    // ---- MLP

    void mlp(int hidden, int ffn, int batch, int[] ks) {
        Buffer<HalfArray> x = randomHalves((long) batch * hidden, "x");
        Buffer<HalfArray> w1 = randomHalves((long) ffn * hidden, "w1");
        Buffer<HalfArray> w2 = randomHalves((long) hidden * ffn, "w2"); // dense: [hidden, ffn]; sparse: the same bytes read as W2t [ffn, hidden]
        var b1 = backend.upload(new FloatArray(ffn), "b1");
        var b2 = backend.upload(new FloatArray(hidden), "b2");
        var out = backend.upload(new FloatArray(batch * hidden), "out");
        var fc1Out = backend.allocate(ElementType.F32, (long) batch * ffn, "fc1Out");
        var act = backend.allocate(ElementType.F16, (long) batch * ffn, "act");
        TaskGraph dense = new TaskGraph("denseMlp");
        dense.gemm(x, 0, w1, 0, fc1Out, 0, batch, ffn, hidden, 1f, 0f);
        dense.parallel(Activations::biasReluHalf, Grid.rows(batch, ffn), fc1Out, b1, act, i32(batch), i32(ffn));
        dense.gemm(act, 0, w2, 0, out, 0, batch, hidden, ffn, 1f, 1f);
        dense.parallel(Activations::addBias, Grid.rows(batch, hidden), out, b2, i32(batch), i32(hidden));
        double denseMs = medianMs(backend.compile(dense));
        double denseBytes = 2.0 * 2 * ffn * hidden;
        row("OPT-6.7B MLP batch %d: dense (cuBLAS) %.3f ms (%.0f GB/s of weights)", batch, denseMs, denseBytes / denseMs / 1e6);
        Random random = new Random(seed++);
        int tile = Math.min(SparseMlp.MAX_BATCH_TILE, batch);
        int batchTiles = (batch + tile - 1) / tile;
        int colTiles = (hidden + SparseMlp.CHUNK - 1) / SparseMlp.CHUNK;
        for (int k : ks) {
            int[] active = shuffled(random, ffn);
            active = Arrays.copyOf(active, k);
            Arrays.sort(active);
            var activeB = backend.upload(IntArray.of(active), "active");
            var h = backend.allocate(ElementType.F32, (long) batch * k, "h");
            row("    (SparseMlp.fc2Splits for 132 SMs: %d)", SparseMlp.fc2Splits(batch, tile, hidden, k, 132));
            for (int splits : new int[] {1, 4, 8, 16}) {
                if (splits > 1 && k / splits < 64) continue;
                var partial = backend.allocate(ElementType.F32, splits > 1 ? (long) splits * batch * hidden : 1, "partial");
                var arrivals = backend.allocate(ElementType.I32, (long) batchTiles * colTiles, "arrivals");
                TaskGraph g = new TaskGraph("sparseMlp");
                g.kernel(SparseMlp::fc1F16F16, Grid.groups(batchTiles, (k + SparseMlp.NEURONS - 1) / SparseMlp.NEURONS, SparseMlp.FC1_THREADS),
                        x, w1, b1, activeB, h, i32(batch), i32(hidden), i32(k), constant(tile));
                double fc1Ms = medianMs(backend.compile(g));
                TaskGraph g2 = new TaskGraph("sparseMlpFc2");
                g2.kernel(SparseMlp::fc2F16, Grid.groups(batchTiles, colTiles, splits, SparseMlp.THREADS),
                        h, w2, b2, activeB, out, partial, arrivals, i32(batch), i32(hidden), i32(k), i32(splits), constant(tile));
                double fc2Ms = medianMs(backend.compile(g2));
                double rowBytes = 2.0 * k * hidden;
                row("    sparse %d of %d neurons, FC2 split %d: FC1 %.3f ms (%.0f GB/s), FC2 %.3f ms (%.0f GB/s); %.2fx faster than dense",
                        k, ffn, splits, fc1Ms, rowBytes / fc1Ms / 1e6, fc2Ms, rowBytes / fc2Ms / 1e6, denseMs / (fc1Ms + fc2Ms));
                backend.free(partial);
                backend.free(arrivals);
            }
            backend.free(activeB);
            backend.free(h);
        }
        for (Buffer<?> b : List.of(x, w1, w2, b1, b2, out, fc1Out, act)) backend.free(b);
    }

    // ---- routers

    void routers() {
        for (int[] shape : new int[][] {{16, 32, 16}, {256, 32, 16}, {64, 8, 5}}) {
            int rowsN = shape[0], n = shape[1], k = shape[2];
            var scores = randomFloats(rowsN * n, "headScores");
            var out = backend.allocate(ElementType.I32, rowsN * k, "selected");
            TaskGraph g = new TaskGraph("topkSmall");
            g.kernel(TopK::small, Grid.groups(rowsN, TopK.smallThreads(n)), scores, out, i32(n), i32(k));
            row("TopK.small %d rows of %d, k %d: %.1f us", rowsN, n, k, 1000 * medianMs(backend.compile(g)));
        }
        for (int[] shape : new int[][] {{16384, 4096}, {32768, 8192}}) {
            int n = shape[0], k = shape[1];
            var scores = randomFloats(n, "neuronScores");
            var out = backend.allocate(ElementType.I32, k, "active");
            TaskGraph g = new TaskGraph("topkLarge");
            g.kernel(TopK::large, Grid.groups(1, TopK.LARGE_THREADS), scores, out, constant(n), i32(k));
            row("TopK.large 1 row of %d, k %d: %.1f us", n, k, 1000 * medianMs(backend.compile(g)));
        }
        int batch = 64, ffn = 16384;
        var scores = randomFloats(batch * ffn, "routerScores");
        var sums = backend.allocate(ElementType.F32, ffn, "sums");
        TaskGraph g = new TaskGraph("batchReluSum");
        g.parallel(SparseMlp::batchReluSum, Grid.of(ffn), scores, sums, i32(batch), i32(ffn));
        row("batchReluSum %d x %d: %.1f us", batch, ffn, 1000 * medianMs(backend.compile(g)));
    }

    // ---- helpers

    private Buffer<HalfArray> randomHalves(long n, String label) {
        Buffer<HalfArray> b = backend.allocate(ElementType.F16, n, label);
        TaskGraph g = new TaskGraph("random " + label);
        g.parallel(BenchKernels::randomHalf, Grid.of((int) n), b, i32(seed++), i32((int) n));
        backend.compile(g).run();
        return b;
    }

    private Buffer<FloatArray> randomFloats(int n, String label) {
        Random random = new Random(seed++);
        FloatArray a = new FloatArray(n);
        for (int i = 0; i < n; i++) a.set(i, random.nextFloat() * 2 - 1);
        return backend.upload(a, label);
    }

    private static int[] shuffled(Random random, int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int s = a[i];
            a[i] = a[j];
            a[j] = s;
        }
        return a;
    }

    private double medianMs(Executable run) {
        for (int i = 0; i < WARMUP; i++) run.run();
        double[] ms = new double[REPEATS];
        for (int i = 0; i < REPEATS; i++) ms[i] = backend.time(run::run);
        Arrays.sort(ms);
        return (ms[REPEATS / 2 - 1] + ms[REPEATS / 2]) / 2;
    }

    private void row(String format, Object... args) {
        String line = String.format(Locale.ROOT, format, args);
        rows.add(line);
        System.out.println(line);
    }
}
