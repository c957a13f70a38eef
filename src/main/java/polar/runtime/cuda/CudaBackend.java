package polar.runtime.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import polar.tornado.compiler.Dialect;
import polar.tornado.compiler.KernelCompiler;
import polar.tornado.compiler.KernelSource;
import polar.tornado.graph.Arg;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.CopyTask;
import polar.tornado.graph.GemmTask;
import polar.tornado.graph.KernelRef;
import polar.tornado.graph.KernelTask;
import polar.tornado.graph.Task;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.SkinnyGemm;
import polar.tornado.runtime.Backend;
import polar.tornado.runtime.Executable;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;

/**
 * The {@code cuda} backend: one device's primary context and one stream, everything through FFM.
 * Kernels are translated from Java to CUDA C ({@link KernelCompiler}), compiled by {@link Nvrtc}
 * for the device's architecture and loaded once per (kernel, constants); GEMMs go to
 * {@link Cublas} (those of few rows to {@link SkinnyGemm}); a compiled run is a fixed list of
 * {@code cuLaunchKernel} / cuBLAS / copy calls
 * whose arguments were packed into native memory at compile time. {@link #capture} records a run
 * as a CUDA graph.
 *
 * <p>Use from one thread at a time. Buffers must outlive the executables that use them.
 */
public final class CudaBackend implements Backend {
    /** Pinned staging: the first half is a ring for small host-to-device writes, the second half serves reads. */
    private static final long STAGING_BYTES = 16L << 20;
    private static final long RING_BYTES = STAGING_BYTES / 2;
    /** Writes up to this size go through the pinned ring (asynchronous, in stream order); larger ones straight from the caller's memory. */
    private static final long SMALL_WRITE_BYTES = 1L << 20;
    /** cuBLAS workspace; 32 MiB is NVIDIA's recommendation for Hopper. */
    private static final long CUBLAS_WORKSPACE_BYTES = 32L << 20;

    private final CudaDriver driver;
    private final int deviceIndex;
    private final int device;
    private final String deviceName;
    private final int ccMajor, ccMinor, multiprocessors;
    private final MemorySegment context;
    private final MemorySegment stream;
    private final MemorySegment startEvent, endEvent;
    private final MemorySegment staging;
    private long ringPosition;

    private final Map<KernelRef, KernelSource> definedKernels = new HashMap<>();
    private final Map<ModuleKey, LoadedKernel> kernels = new HashMap<>();
    private final Set<CudaBuffer<?>> liveBuffers = Collections.newSetFromMap(new IdentityHashMap<>());
    private final List<Arena> executableArenas = new ArrayList<>();
    private final List<MemorySegment> graphExecs = new ArrayList<>();
    /**
     * GEMMs of at most this many rows of A (decode batches) that {@link SkinnyGemm} takes run as
     * that kernel instead of cuBLAS; {@code -Dpolar.cuda.skinnyGemm=0} sends every GEMM to cuBLAS.
     * Default 1: on the H100 (SkinnyGemmBench, LLaMA-2-7B projections) it beats cuBLAS by 5-20% at
     * m = 1, ties at m = 4 and takes twice cuBLAS's time at m = 16 (float32 FMA bound).
     */
    private final int skinnyGemmMaxM = Integer.getInteger("polar.cuda.skinnyGemm", 1);
    private Cublas cublas;
    private long cublasWorkspace;
    /** How GEMMs that cuBLAS runs are issued ({@code -Dpolar.cuda.gemm=tuned|gemmex|lt}). */
    enum GemmMode {
        /** Time cublasGemmEx against a few of cuBLASLt's heuristic candidates on each shape's real operands when a graph is compiled; keep the fastest. */
        TUNED,
        /** Always cublasGemmEx (its heuristic's first choice). */
        GEMMEX,
        /** The fastest cuBLASLt candidate even where cublasGemmEx is faster (tests of the cuBLASLt path). */
        LT
    }

    private GemmMode gemmMode = GemmMode.valueOf(System.getProperty("polar.cuda.gemm", "tuned").toUpperCase(java.util.Locale.ROOT));
    /** cuBLASLt candidates timed per GEMM shape besides cublasGemmEx. */
    private static final int GEMM_CANDIDATES = 8;
    private CublasLt cublasLt;
    private final Map<GemmShape, GemmChoice> gemmChoices = new HashMap<>();
    private boolean closed;

    private record ModuleKey(KernelRef kernel, Map<Integer, Integer> constants) {}

    private record LoadedKernel(MemorySegment module, MemorySegment function, String name) {}

    /** What decides a GEMM's best algorithm: its cuBLAS view (column-major C^T = B A^T), types, accumulation and pointer alignments. */
    private record GemmShape(int m, int n, int k, int lda, int ldb, int ldc, int abType, int cType, boolean accumulate,
                             int alignA, int alignB, int alignC) {}

    /**
     * The algorithm kept for a shape: {@code algo == null} means cublasGemmEx; times are the medians
     * (µs per GEMM) measured when it was chosen, for {@link #gemmChoices()}.
     */
    private record GemmChoice(CublasLt.Matmul matmul, MemorySegment algo, int candidates, float gemmExMicros, float chosenMicros) {}

    /** Device 0. */
    public CudaBackend() {
        this(0);
    }

    /** The device of ordinal {@code deviceIndex} (as {@code nvidia-smi} numbers them unless CUDA_VISIBLE_DEVICES says otherwise). */
    public CudaBackend(int deviceIndex) {
        this.driver = CudaDriver.get();
        int count = driver.deviceCount();
        if (deviceIndex < 0 || deviceIndex >= count) {
            throw new IllegalArgumentException("CUDA device " + deviceIndex + " does not exist (" + count + " device" + (count == 1 ? "" : "s") + ")");
        }
        this.deviceIndex = deviceIndex;
        this.device = driver.device(deviceIndex);
        this.deviceName = driver.deviceName(device);
        this.ccMajor = driver.attribute(device, CudaDriver.Attribute.COMPUTE_CAPABILITY_MAJOR);
        this.ccMinor = driver.attribute(device, CudaDriver.Attribute.COMPUTE_CAPABILITY_MINOR);
        this.multiprocessors = driver.attribute(device, CudaDriver.Attribute.MULTIPROCESSOR_COUNT);
        this.context = driver.primaryContextRetain(device);
        driver.setCurrent(context);
        this.stream = driver.streamCreate(CudaDriver.STREAM_NON_BLOCKING);
        this.startEvent = driver.eventCreate(CudaDriver.EVENT_DEFAULT);
        this.endEvent = driver.eventCreate(CudaDriver.EVENT_DEFAULT);
        this.staging = driver.memHostAlloc(STAGING_BYTES);
    }

    /** Whether a CUDA driver and at least one device are present. */
    public static boolean isAvailable() {
        return CudaDriver.available();
    }

    /** Number of CUDA devices (0 where there is no driver). */
    public static int deviceCount() {
        return isAvailable() ? CudaDriver.get().deviceCount() : 0;
    }

    @Override
    public String name() { return "cuda"; }

    @Override
    public String deviceName() {
        return deviceName + " (sm_" + ccMajor + ccMinor + ", " + multiprocessors + " SMs)";
    }

    public int deviceIndex() { return deviceIndex; }

    public int multiprocessors() { return multiprocessors; }

    /**
     * The one stream all of this backend's work is enqueued on, for a library that enqueues work of
     * its own in order with it (and inside a {@link #capture}); see {@link CudaStream}.
     */
    public CudaStream stream() {
        bind();
        return new CudaStream(stream, deviceIndex);
    }

    /** Compute capability as major * 10 + minor (90 on an H100). */
    public int computeCapability() { return ccMajor * 10 + ccMinor; }

    /** Makes this backend's context current on the calling thread (cheap; done by every entry point). */
    private void bind() {
        if (closed) throw new IllegalStateException("CUDA backend was closed");
        driver.setCurrent(context);
    }

    // ---- buffers

    @Override
    public synchronized <T extends DeviceArray> Buffer<T> allocate(ElementType<T> type, long length, String label) {
        CudaBuffer<T> buffer = newBuffer(type, length, label);
        if (length > 0) driver.memsetD8Async(buffer.address(), (byte) 0, buffer.byteSize(), stream);
        return buffer;
    }

    private <T extends DeviceArray> CudaBuffer<T> newBuffer(ElementType<T> type, long length, String label) {
        bind();
        if (length < 0) throw new IllegalArgumentException("negative length " + length + " for buffer " + label);
        CudaBuffer<T> buffer = new CudaBuffer<>(this, type, length, label, driver.memAlloc(length * type.bytes()));
        liveBuffers.add(buffer);
        return buffer;
    }

    @Override
    public synchronized <T extends DeviceArray> Buffer<T> upload(ElementType<T> type, MemorySegment host, String label) {
        if (host.byteSize() % type.bytes() != 0) {
            throw new IllegalArgumentException("upload of " + label + ": " + host.byteSize() + " bytes is not a whole number of " + type + " elements");
        }
        CudaBuffer<T> buffer = newBuffer(type, host.byteSize() / type.bytes(), label);
        write(buffer, 0, host, buffer.length());
        return buffer;
    }

    @Override
    public synchronized void write(Buffer<?> dst, long dstOffset, MemorySegment src, long count) {
        CudaBuffer<?> buffer = own(dst);
        long bytes = checkRange("write", buffer, dstOffset, count, src.byteSize());
        bind();
        long target = buffer.address(dstOffset);
        if (bytes == 0) return;
        if (src.isNative() && bytes > SMALL_WRITE_BYTES) {
            // Pageable source: the driver stages it and returns once it has been consumed.
            driver.copyHtoDAsync(target, src, bytes, stream);
            return;
        }
        for (long done = 0; done < bytes; ) {
            long chunk = Math.min(RING_BYTES, bytes - done);
            MemorySegment slot = ringSlot(chunk);
            MemorySegment.copy(src, done, slot, 0, chunk);
            driver.copyHtoDAsync(target + done, slot, chunk, stream);
            done += chunk;
        }
    }

    /** Room in the pinned ring; when it is full, waits for the copies still reading from it. */
    private MemorySegment ringSlot(long bytes) {
        long aligned = (bytes + 255) & ~255L;
        if (ringPosition + aligned > RING_BYTES) {
            driver.streamSynchronize(stream);
            ringPosition = 0;
        }
        MemorySegment slot = staging.asSlice(ringPosition, bytes);
        ringPosition += aligned;
        return slot;
    }

    @Override
    public synchronized void read(Buffer<?> src, long srcOffset, MemorySegment dst, long count) {
        CudaBuffer<?> buffer = own(src);
        long bytes = checkRange("read", buffer, srcOffset, count, dst.byteSize());
        bind();
        MemorySegment readArea = staging.asSlice(RING_BYTES, STAGING_BYTES - RING_BYTES);
        long source = buffer.address(srcOffset);
        for (long done = 0; done < bytes; ) {
            long chunk = Math.min(readArea.byteSize(), bytes - done);
            driver.copyDtoHAsync(readArea, source + done, chunk, stream);
            driver.streamSynchronize(stream);
            MemorySegment.copy(readArea, 0, dst, done, chunk);
            done += chunk;
        }
        if (bytes == 0) driver.streamSynchronize(stream);
        ringPosition = 0;
    }

    private static long checkRange(String what, CudaBuffer<?> buffer, long offset, long count, long hostBytes) {
        long bytes = count * buffer.type().bytes();
        if (offset < 0 || count < 0 || offset + count > buffer.length()) {
            throw new IllegalArgumentException(what + " of " + count + " elements at " + offset + " is outside " + buffer);
        }
        if (hostBytes < bytes) throw new IllegalArgumentException(what + " of " + count + " elements of " + buffer + ": host memory has only " + hostBytes + " bytes");
        return bytes;
    }

    @Override
    public synchronized void free(Buffer<?> buffer) {
        CudaBuffer<?> b = own(buffer);
        bind();
        liveBuffers.remove(b);
        driver.memFree(b.release());
    }

    /** {@code buffer} as this backend's, or a clear error. */
    private CudaBuffer<?> own(Buffer<?> buffer) {
        if (!(buffer instanceof CudaBuffer<?> b) || b.owner() != this) {
            throw new IllegalArgumentException("buffer " + buffer + " does not belong to this CUDA backend (" + deviceName() + ")");
        }
        if (b.freed()) throw new IllegalArgumentException("buffer " + buffer + " was freed");
        return b;
    }

    // ---- kernels

    /**
     * Uses {@code source} (CUDA C following the launch ABI of {@link KernelSource}) for {@code kernel}
     * instead of translating its Java: for hand-written kernels and tests. Specialised constants
     * are then not compiled in; the source must hold them itself.
     */
    public synchronized void defineKernel(KernelRef kernel, KernelSource source) {
        if (source.dialect() != Dialect.CUDA) throw new IllegalArgumentException("kernel " + kernel + ": " + source.dialect() + " source given to the CUDA backend");
        definedKernels.put(kernel, source);
        kernels.keySet().removeIf(k -> k.kernel().equals(kernel));
    }

    private LoadedKernel load(KernelRef kernel, Map<Integer, Integer> constants) {
        ModuleKey key = new ModuleKey(kernel, Map.copyOf(constants));
        LoadedKernel loaded = kernels.get(key);
        if (loaded != null) return loaded;
        KernelSource source = definedKernels.get(kernel);
        if (source == null) source = KernelCompiler.translate(kernel, Dialect.CUDA, constants);
        String programName = kernel.owner().getSimpleName() + "_" + kernel.name()
                + (constants.isEmpty() ? "" : "_" + new TreeMap<>(constants).toString().replaceAll("[^0-9=,]", "").replace(',', '_'));
        if (Boolean.getBoolean("polar.cuda.printSource")) System.err.println("// " + programName + "\n" + source.code());
        Nvrtc.Image image = Nvrtc.get().compile(source.code(), programName, ccMajor, ccMinor, List.of());
        MemorySegment module;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bytes = arena.allocate(image.bytes().length + 1L, 16);
            MemorySegment.copy(image.bytes(), 0, bytes, JAVA_BYTE, 0, image.bytes().length);
            module = driver.moduleLoadData(bytes, programName + " (" + image.target() + ")");
        }
        loaded = new LoadedKernel(module, driver.moduleGetFunction(module, source.entryName()), programName);
        kernels.put(key, loaded);
        return loaded;
    }

    @Override
    public synchronized Executable compile(List<TaskGraph> graphs) {
        bind();
        Arena arena = Arena.ofShared();
        try {
            tuneGemms(graphs);
            List<Runnable> steps = new ArrayList<>();
            for (TaskGraph graph : graphs) {
                for (Task task : graph.tasks()) {
                    for (Buffer<?> b : task.buffers()) {
                        try {
                            own(b);
                        } catch (IllegalArgumentException e) {
                            throw new IllegalArgumentException("graph " + graph.name() + ", task " + task + ": " + e.getMessage(), e);
                        }
                    }
                    steps.add(switch (task) {
                        case KernelTask k -> launch(k, arena);
                        case GemmTask g when SkinnyGemm.supports(g, skinnyGemmMaxM) -> launch(SkinnyGemm.launch(g), arena);
                        case GemmTask g -> gemm(g);
                        case CopyTask c -> copy(c);
                    });
                }
            }
            executableArenas.add(arena);
            return new Compiled(steps.toArray(Runnable[]::new));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** A compiled sequence of enqueue steps. */
    private final class Compiled implements Executable {
        private final Runnable[] steps;

        Compiled(Runnable[] steps) { this.steps = steps; }

        @Override
        public void run() {
            bind();
            for (Runnable step : steps) step.run();
        }
    }

    /** Packs the kernel's arguments once (launch ABI of {@link KernelSource}) and returns the launch. */
    private Runnable launch(KernelTask task, Arena arena) {
        Map<Integer, Integer> constants = new LinkedHashMap<>();
        int slots = 0;
        for (int i = 0; i < task.args().size(); i++) {
            switch (task.args().get(i)) {
                case Buffer<?> b -> slots += 2;
                case Arg.Scalar<?> s when s.specialised() -> constants.put(i, (Integer) s.value());
                case Arg.Scalar<?> s -> slots += 1;
            }
        }
        LoadedKernel kernel = load(task.kernel(), constants);
        MemorySegment values = arena.allocate(8L * Math.max(1, slots), 8);
        MemorySegment params = arena.allocate(ADDRESS, Math.max(1, slots));
        int slot = 0;
        for (Arg<?> arg : task.args()) {
            switch (arg) {
                case Buffer<?> b -> {
                    if (b.length() > Integer.MAX_VALUE) throw new IllegalArgumentException(task + ": buffer " + b + " is too long for an int length");
                    values.set(JAVA_LONG, 8L * slot, own(b).address());
                    params.setAtIndex(ADDRESS, slot, values.asSlice(8L * slot));
                    slot++;
                    values.set(JAVA_INT, 8L * slot, (int) b.length());
                    params.setAtIndex(ADDRESS, slot, values.asSlice(8L * slot));
                    slot++;
                }
                case Arg.Scalar<?> s when s.specialised() -> { }
                case Arg.Scalar<?> s -> {
                    switch (s.value()) {
                        case Integer v -> values.set(JAVA_INT, 8L * slot, v);
                        case Float v -> values.set(JAVA_FLOAT, 8L * slot, v);
                        default -> throw new IllegalArgumentException(task + ": scalar " + s + " is neither int nor float");
                    }
                    params.setAtIndex(ADDRESS, slot, values.asSlice(8L * slot));
                    slot++;
                }
            }
        }
        LaunchGeometry g = LaunchGeometry.of(task.grid(), task.kernel().usesContext(), multiprocessors);
        MemorySegment function = kernel.function();
        String name = kernel.name();
        return () -> driver.launchKernel(function, g.gridX(), g.gridY(), g.gridZ(), g.blockX(), g.blockY(), g.blockZ(), 0, stream, params, name);
    }

    /**
     * Row-major {@code C = alpha * A * B^T + beta * C} is column-major {@code C^T = B * A^T}: cuBLAS
     * gets B (seen as k x n, transposed) as its first operand and A (k x m, as is) as its second.
     */
    private Runnable gemm(GemmTask t) {
        GemmShape shape = gemmShape(t);
        long a = own(t.a()).address(t.aOffset()), b = own(t.b()).address(t.bOffset()), c = own(t.c()).address(t.cOffset());
        GemmChoice choice = gemmChoices.get(shape);
        String what = t.c().label() + " = " + t.a().label() + " x " + t.b().label() + "^T";
        if (choice != null && choice.algo() != null) {
            CublasLt.Matmul mm = choice.matmul();
            MemorySegment algo = choice.algo(), alpha = mm.scalar(t.alpha()), beta = mm.scalar(t.beta());
            long workspace = cublasWorkspace;
            return () -> CublasLt.check(mm.run(algo, alpha, b, a, beta, c, c, workspace, CUBLAS_WORKSPACE_BYTES, stream), "cublasLtMatmul(" + what + ")");
        }
        Cublas blas = cublas();
        MemorySegment alpha = blas.scalar(t.alpha()), beta = blas.scalar(t.beta());
        return () -> blas.gemmEx(Cublas.OP_T, Cublas.OP_N, t.n(), t.m(), t.k(), alpha, b, shape.abType(), t.ldb(), a, shape.abType(), t.lda(), beta, c, shape.cType(), t.ldc(), what);
    }

    /** The cuBLAS view of {@code t}, after checking that cuBLAS takes its types. */
    private GemmShape gemmShape(GemmTask t) {
        ElementType<?> inputType = t.a().type();
        if (t.b().type() != inputType) {
            throw new IllegalArgumentException("gemm " + t.a() + " x " + t.b() + "^T: cublasGemmEx needs A and B of one element type, given " + inputType + " and " + t.b().type());
        }
        ElementType<?> outType = t.c().type();
        boolean supported = inputType == ElementType.F32 ? outType == ElementType.F32
                : (inputType == ElementType.F16 || inputType == ElementType.BF16) && (outType == inputType || outType == ElementType.F32);
        if (!supported) {
            throw new IllegalArgumentException("gemm into " + t.c() + ": cuBLAS takes f16 -> f16/f32, bf16 -> bf16/f32 or f32 -> f32, not " + inputType + " -> " + outType);
        }
        return new GemmShape(t.n(), t.m(), t.k(), t.ldb(), t.lda(), t.ldc(), Cublas.dataType(inputType), Cublas.dataType(outType), t.beta() != 0f,
                alignment(own(t.b()).address(t.bOffset())), alignment(own(t.a()).address(t.aOffset())), alignment(own(t.c()).address(t.cOffset())));
    }

    /** The largest power of two up to 256 dividing {@code address} (cuBLASLt filters its candidates by it). */
    private static int alignment(long address) {
        return (int) Math.min(256, Long.lowestOneBit(address == 0 ? 256 : address));
    }

    /**
     * Chooses the algorithm of every new GEMM shape among {@code graphs}' cuBLAS GEMMs: cublasGemmEx
     * and up to {@link #GEMM_CANDIDATES} cuBLASLt candidates, each timed (median of rounds after a
     * warm-up, CUDA events) over every GEMM of the shape in these graphs, so that repeated layers
     * stream different weights as in a real step rather than a cached one. Results go to a scratch
     * output (the GEMMs' own outputs are only read), so compiling changes no buffer.
     */
    private void tuneGemms(List<TaskGraph> graphs) {
        if (gemmMode == GemmMode.GEMMEX) return;
        Map<GemmShape, List<GemmTask>> todo = new LinkedHashMap<>();
        for (TaskGraph graph : graphs) {
            for (Task task : graph.tasks()) {
                if (task instanceof GemmTask g && !SkinnyGemm.supports(g, skinnyGemmMaxM)) {
                    GemmShape shape = gemmShape(g);
                    if (!gemmChoices.containsKey(shape)) todo.computeIfAbsent(shape, x -> new ArrayList<>()).add(g);
                }
            }
        }
        if (todo.isEmpty()) return;
        if (cublasLt == null) {
            if (!CublasLt.available()) {
                for (GemmShape shape : todo.keySet()) gemmChoices.put(shape, new GemmChoice(null, null, 0, Float.NaN, Float.NaN));
                return;
            }
            cublas();
            cublasLt = CublasLt.create();
        }
        long scratchBytes = 0;
        for (List<GemmTask> tasks : todo.values()) {
            for (GemmTask g : tasks) scratchBytes = Math.max(scratchBytes, ((long) (g.m() - 1) * g.ldc() + g.n()) * g.c().type().bytes());
        }
        long scratch = driver.memAlloc(scratchBytes);
        try {
            for (Map.Entry<GemmShape, List<GemmTask>> e : todo.entrySet()) gemmChoices.put(e.getKey(), tune(e.getKey(), e.getValue(), scratch));
        } finally {
            driver.streamSynchronize(stream);
            driver.memFree(scratch);
        }
    }

    private GemmChoice tune(GemmShape s, List<GemmTask> tasks, long scratch) {
        Cublas blas = cublas();
        CublasLt.Matmul mm = cublasLt.matmul(Cublas.OP_T, Cublas.OP_N, s.m(), s.n(), s.k(), s.abType(), s.lda(), s.abType(), s.ldb(), s.cType(), s.ldc(),
                s.alignA(), s.alignB(), s.alignC(), CUBLAS_WORKSPACE_BYTES);
        List<MemorySegment> candidates = mm.candidates(GEMM_CANDIDATES);
        int n = tasks.size();
        long[] a = new long[n], b = new long[n], c = new long[n];
        for (int i = 0; i < n; i++) {
            GemmTask t = tasks.get(i);
            a[i] = own(t.a()).address(t.aOffset());
            b[i] = own(t.b()).address(t.bOffset());
            c[i] = own(t.c()).address(t.cOffset());
        }
        MemorySegment alpha = mm.scalar(1f), beta = mm.scalar(s.accumulate() ? 1f : 0f);
        // cublasGemmEx accumulates into the scratch; the candidates read C and write the scratch
        float gemmEx = timePerGemm(n, () -> {
            for (int i = 0; i < n; i++) {
                blas.gemmEx(Cublas.OP_T, Cublas.OP_N, s.m(), s.n(), s.k(), alpha, b[i], s.abType(), s.lda(), a[i], s.abType(), s.ldb(), beta,
                        scratch, s.cType(), s.ldc(), "tuning");
            }
        });
        MemorySegment best = null;
        float bestMicros = gemmMode == GemmMode.LT ? Float.MAX_VALUE : gemmEx;
        for (MemorySegment algo : candidates) {
            if (mm.run(algo, alpha, b[0], a[0], beta, c[0], scratch, cublasWorkspace, CUBLAS_WORKSPACE_BYTES, stream) != 0) continue;
            float micros = timePerGemm(n, () -> {
                for (int i = 0; i < n; i++) mm.run(algo, alpha, b[i], a[i], beta, c[i], scratch, cublasWorkspace, CUBLAS_WORKSPACE_BYTES, stream);
            });
            if (micros < bestMicros * 0.98f) { // a clear win only: the first candidate is cublasGemmEx's own choice
                bestMicros = micros;
                best = algo;
            }
        }
        if (best == null) {
            mm.close();
            return new GemmChoice(null, null, candidates.size(), gemmEx, gemmEx);
        }
        return new GemmChoice(mm, best, candidates.size(), gemmEx, bestMicros);
    }

    /** Switches how later compiles issue GEMMs, forgetting the choices made so far (for tests). */
    synchronized void gemmMode(GemmMode mode) {
        synchronize();
        for (GemmChoice c : gemmChoices.values()) if (c.matmul() != null) c.matmul().close();
        gemmChoices.clear();
        gemmMode = mode;
    }

    /** Median over rounds of {@code round}'s event time, in µs per GEMM ({@code gemms} a round), after one warm-up round. */
    private float timePerGemm(int gemms, Runnable round) {
        round.run();
        int rounds = 5;
        float[] ms = new float[rounds];
        for (int r = 0; r < rounds; r++) ms[r] = time(round);
        java.util.Arrays.sort(ms);
        return ms[rounds / 2] * 1000f / gemms;
    }

    /**
     * The GEMM algorithm chosen for each shape so far: one line per shape (cuBLAS's column-major view),
     * with cublasGemmEx's time and the chosen one's, in µs per GEMM, for benchmarks' reports.
     */
    public synchronized List<String> gemmChoices() {
        List<String> lines = new ArrayList<>();
        for (Map.Entry<GemmShape, GemmChoice> e : gemmChoices.entrySet()) {
            GemmShape s = e.getKey();
            GemmChoice c = e.getValue();
            lines.add(String.format("gemm m=%d n=%d k=%d types %d->%d%s: %s (of %d candidates), gemmEx %.1f us, chosen %.1f us",
                    s.m(), s.n(), s.k(), s.abType(), s.cType(), s.accumulate() ? " +C" : "",
                    c.algo() == null ? "cublasGemmEx" : "cublasLt", c.candidates(), c.gemmExMicros(), c.chosenMicros()));
        }
        return lines;
    }

    private Cublas cublas() {
        if (cublas == null) {
            cublasWorkspace = driver.memAlloc(CUBLAS_WORKSPACE_BYTES);
            cublas = Cublas.create(stream, cublasWorkspace, CUBLAS_WORKSPACE_BYTES);
        }
        return cublas;
    }

    private Runnable copy(CopyTask t) {
        long src = own(t.src()).address(t.srcOffset()), dst = own(t.dst()).address(t.dstOffset());
        long bytes = t.count() * t.src().type().bytes();
        return () -> driver.copyDtoDAsync(dst, src, bytes, stream);
    }

    // ---- graphs, sync, timing

    /** Records one run of {@code executable} as a CUDA graph; the result replays it with one {@code cuGraphLaunch}. */
    @Override
    public synchronized Executable capture(Executable executable) {
        bind();
        driver.streamBeginCapture(stream, CudaDriver.CAPTURE_MODE_THREAD_LOCAL);
        MemorySegment graph;
        try {
            executable.run();
        } catch (RuntimeException | Error e) {
            try {
                driver.graphDestroy(driver.streamEndCapture(stream));
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        graph = driver.streamEndCapture(stream);
        MemorySegment exec;
        try {
            exec = driver.graphInstantiate(graph);
        } finally {
            driver.graphDestroy(graph);
        }
        graphExecs.add(exec);
        return () -> {
            bind();
            driver.graphLaunch(exec, stream);
        };
    }

    @Override
    public synchronized void synchronize() {
        bind();
        driver.streamSynchronize(stream);
        ringPosition = 0;
    }

    /** Milliseconds between CUDA events recorded on the stream before and after {@code work}. */
    @Override
    public float time(Runnable work) {
        bind();
        driver.eventRecord(startEvent, stream);
        work.run();
        driver.eventRecord(endEvent, stream);
        driver.eventSynchronize(endEvent);
        return driver.eventElapsedTime(startEvent, endEvent);
    }

    @Override
    public long[] memoryInfo() {
        bind();
        return driver.memGetInfo();
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        bind();
        closed = true;
        RuntimeException failure = null;
        try {
            driver.streamSynchronize(stream);
        } catch (RuntimeException e) {
            failure = e;
        }
        List<Runnable> releases = new ArrayList<>();
        for (MemorySegment exec : graphExecs) releases.add(() -> driver.graphExecDestroy(exec));
        for (GemmChoice c : gemmChoices.values()) if (c.matmul() != null) releases.add(c.matmul()::close);
        if (cublasLt != null) releases.add(cublasLt::close);
        if (cublas != null) {
            releases.add(cublas::close);
            releases.add(() -> driver.memFree(cublasWorkspace));
        }
        for (LoadedKernel k : kernels.values()) releases.add(() -> driver.moduleUnload(k.module()));
        for (CudaBuffer<?> b : liveBuffers) releases.add(() -> driver.memFree(b.release()));
        for (Arena a : executableArenas) releases.add(a::close);
        releases.add(() -> driver.memFreeHost(staging));
        releases.add(() -> driver.eventDestroy(startEvent));
        releases.add(() -> driver.eventDestroy(endEvent));
        releases.add(() -> driver.streamDestroy(stream));
        releases.add(() -> driver.primaryContextRelease(device));
        for (Runnable r : releases) {
            try {
                r.run();
            } catch (RuntimeException e) {
                if (failure == null) failure = e;
                else failure.addSuppressed(e);
            }
        }
        graphExecs.clear();
        gemmChoices.clear();
        kernels.clear();
        liveBuffers.clear();
        executableArenas.clear();
        if (failure != null) throw failure;
    }

    @Override
    public String toString() { return "cuda:" + deviceIndex + " " + deviceName(); }
}
