package polar.runtime.opencl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
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
import polar.tornado.graph.Grid;
import polar.tornado.graph.KernelMethods;
import polar.tornado.graph.KernelRef;
import polar.tornado.graph.KernelTask;
import polar.tornado.graph.Task;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.Gemm;
import polar.tornado.runtime.Backend;
import polar.tornado.runtime.Executable;
import polar.tornado.types.BFloat16Array;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/**
 * The {@code opencl} backend: one device, one in-order queue, kernels translated to OpenCL C by
 * {@link KernelCompiler} and built by the driver (NVIDIA, AMD, Intel, PoCL), GEMM as the Java
 * {@link Gemm} kernels. All host calls go through {@link OpenCl} (FFM).
 *
 * <p>Device choice: the platform whose name contains {@value #PLATFORM_PROPERTY} (system
 * property) or {@code POLAR_OPENCL_PLATFORM} (environment), e.g. "PoCL" or "NVIDIA"; among its
 * devices, GPUs first, the one at index {@value #DEVICE_PROPERTY} / {@code POLAR_OPENCL_DEVICE}
 * (default 0).
 */
public final class OpenClBackend implements Backend {
    public static final String NAME = "opencl";
    public static final String PLATFORM_PROPERTY = "polar.opencl.platform";
    public static final String DEVICE_PROPERTY = "polar.opencl.device";
    private static final String PLATFORM_ENV = "POLAR_OPENCL_PLATFORM", DEVICE_ENV = "POLAR_OPENCL_DEVICE";

    /** Largest work-group Polar picks for {@code @Parallel} kernels (a grid without a local size). */
    private static final int PARALLEL_GROUP = 256;
    private static final Cleaner CLEANER = Cleaner.create();

    private final OpenClDevice device;
    private final MemorySegment context;
    private final MemorySegment queue;
    private final Set<OpenClBuffer<?>> buffers = new LinkedHashSet<>();
    /** Translations by kernel and specialised constants, then programs by OpenCL C source. */
    private final Map<TranslationKey, KernelSource> translations = new HashMap<>();
    private final Map<String, MemorySegment> programs = new HashMap<>();
    /**
     * Native objects of compiled graphs: {@code live} while their executable is reachable, then
     * {@code unreachable} (moved there by the Cleaner). Only the backend's own calls release them,
     * after a {@code clFinish} ({@link #synchronize}, {@link #close}): the Cleaner's thread never
     * calls into the driver, so a release cannot race a launch, a build, the close of the context
     * or the process exit (PoCL frees LLVM modules on release). Both guarded by {@code live}.
     */
    private final Set<Resources> live = new HashSet<>();
    private final List<Resources> unreachable = new ArrayList<>();
    private volatile boolean closed;

    private record TranslationKey(KernelRef kernel, Map<Integer, Integer> constants) {}

    /** The device chosen by the system properties / environment variables above. */
    public OpenClBackend() {
        this(setting(PLATFORM_PROPERTY, PLATFORM_ENV, ""), Integer.parseInt(setting(DEVICE_PROPERTY, DEVICE_ENV, "0")));
    }

    /** Device {@code deviceIndex} (GPUs first) of the platforms chosen by the system property / environment variable above. */
    public OpenClBackend(int deviceIndex) {
        this(setting(PLATFORM_PROPERTY, PLATFORM_ENV, ""), deviceIndex);
    }

    /** Device {@code deviceIndex} (GPUs first) of the platforms whose name contains {@code platformFilter}. */
    public OpenClBackend(String platformFilter, int deviceIndex) {
        this(pick(platformFilter, deviceIndex));
    }

    public OpenClBackend(OpenClDevice device) {
        this.device = device;
        this.context = OpenCl.createContext(device.device());
        this.queue = OpenCl.createCommandQueue(context, device.device(), device.openCl2());
    }

    /** Whether a device can be opened with the configured platform filter. */
    public static boolean available() {
        try {
            return !OpenClDevice.all(setting(PLATFORM_PROPERTY, PLATFORM_ENV, "")).isEmpty();
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** Whether the configured platforms have a GPU (the device {@code auto} would pick first). */
    public static boolean gpuAvailable() {
        try {
            List<OpenClDevice> devices = OpenClDevice.all(setting(PLATFORM_PROPERTY, PLATFORM_ENV, ""));
            return !devices.isEmpty() && devices.getFirst().kind() == OpenClDevice.Kind.GPU;
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static OpenClDevice pick(String platformFilter, int deviceIndex) {
        List<OpenClDevice> devices = OpenClDevice.all(platformFilter);
        String which = platformFilter == null || platformFilter.isEmpty() ? "" : " on platforms matching \"" + platformFilter + "\"";
        if (devices.isEmpty()) {
            throw new IllegalStateException("no OpenCL device" + which + (OpenCl.loaded() ? "" : " (libOpenCL.so.1 not found)"));
        }
        if (deviceIndex < 0 || deviceIndex >= devices.size()) {
            throw new IllegalArgumentException("OpenCL device index " + deviceIndex + " out of range: " + devices.size() + " device(s)" + which + ": " + devices);
        }
        return devices.get(deviceIndex);
    }

    private static String setting(String property, String env, String fallback) {
        String v = System.getProperty(property);
        if (v == null) v = System.getenv(env);
        return v == null ? fallback : v.strip();
    }

    public OpenClDevice device() { return device; }

    @Override
    public String name() { return NAME; }

    @Override
    public String deviceName() { return device.toString(); }

    // ---- memory -------------------------------------------------------------------------------

    @Override
    public <T extends DeviceArray> Buffer<T> allocate(ElementType<T> type, long length, String label) {
        OpenClBuffer<T> buffer = create(type, length, label);
        if (buffer.byteSize() > 0) OpenCl.enqueueFillBuffer(queue, buffer.mem(), (byte) 0, 0, buffer.byteSize());
        return buffer;
    }

    @Override
    public <T extends DeviceArray> Buffer<T> upload(ElementType<T> type, MemorySegment host, String label) {
        if (host.byteSize() % type.bytes() != 0) {
            throw new IllegalArgumentException("upload of " + label + ": " + host.byteSize() + " bytes is not a whole number of " + type + " elements");
        }
        OpenClBuffer<T> buffer = create(type, host.byteSize() / type.bytes(), label);
        write(buffer, 0, host, buffer.length());
        return buffer;
    }

    private <T extends DeviceArray> OpenClBuffer<T> create(ElementType<T> type, long length, String label) {
        requireOpen();
        long bytes = length * type.bytes();
        MemorySegment mem;
        try {
            mem = OpenCl.createBuffer(context, OpenCl.CL_MEM_READ_WRITE, Math.max(bytes, 4)); // OpenCL refuses empty buffers
        } catch (OpenClException e) {
            throw new OpenClException("clCreateBuffer", e.code(), "allocating " + label + " (" + bytes + " bytes) on " + device.name()
                    + "; device memory " + device.globalMemoryBytes() + " bytes, largest allocation "
                    + OpenCl.deviceInfoLong(device.device(), OpenCl.CL_DEVICE_MAX_MEM_ALLOC_SIZE) + " bytes");
        }
        OpenClBuffer<T> buffer = new OpenClBuffer<>(this, type, length, label, mem);
        buffers.add(buffer);
        return buffer;
    }

    @Override
    public void write(Buffer<?> dst, long dstOffset, MemorySegment src, long count) {
        OpenClBuffer<?> b = own(dst);
        long bytes = checkRange("write", b, dstOffset, count, src);
        if (bytes == 0) return;
        long offset = dstOffset * b.type().bytes();
        if (src.isNative()) {
            OpenCl.enqueueWriteBuffer(queue, b.mem(), offset, bytes, src);
        } else {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment staging = arena.allocate(bytes, 64).copyFrom(src.asSlice(0, bytes));
                OpenCl.enqueueWriteBuffer(queue, b.mem(), offset, bytes, staging);
            }
        }
    }

    @Override
    public void read(Buffer<?> src, long srcOffset, MemorySegment dst, long count) {
        OpenClBuffer<?> b = own(src);
        long bytes = checkRange("read", b, srcOffset, count, dst);
        if (bytes == 0) return;
        long offset = srcOffset * b.type().bytes();
        if (dst.isNative()) {
            OpenCl.enqueueReadBuffer(queue, b.mem(), offset, bytes, dst);
        } else {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment staging = arena.allocate(bytes, 64);
                OpenCl.enqueueReadBuffer(queue, b.mem(), offset, bytes, staging);
                dst.asSlice(0, bytes).copyFrom(staging);
            }
        }
    }

    /** Checks {@code count} elements at {@code offset} fit the buffer and the host segment; returns the bytes. */
    private static long checkRange(String what, OpenClBuffer<?> b, long offset, long count, MemorySegment host) {
        if (offset < 0 || count < 0 || offset + count > b.length()) {
            throw new IllegalArgumentException(what + " of " + count + " elements at " + offset + " is outside " + b);
        }
        long bytes = count * b.type().bytes();
        if (host.byteSize() < bytes) {
            throw new IllegalArgumentException(what + " of " + count + " elements of " + b + ": host memory holds only " + host.byteSize() + " bytes");
        }
        return bytes;
    }

    @Override
    public void free(Buffer<?> buffer) {
        OpenClBuffer<?> b = own(buffer);
        buffers.remove(b);
        OpenCl.releaseMemObject(b.detach());
    }

    private OpenClBuffer<?> own(Buffer<?> buffer) {
        requireOpen();
        if (!(buffer instanceof OpenClBuffer<?> b) || b.owner() != this) {
            throw new IllegalArgumentException("buffer " + buffer + " does not belong to this OpenCL backend (" + device.name() + ")");
        }
        b.mem(); // throws if freed
        return b;
    }

    private void requireOpen() {
        if (closed) throw new IllegalStateException("OpenCL backend on " + device.name() + " is closed");
    }

    // ---- compilation --------------------------------------------------------------------------

    /** One enqueued command of a compiled graph. */
    private sealed interface Step permits Launch, Copy {
        void enqueue(MemorySegment queue);
    }

    /** A kernel with its arguments already set, and its NDRange ({@code size_t[dimensions]} each). */
    private record Launch(String description, MemorySegment kernel, int dimensions, MemorySegment global, MemorySegment local,
                          List<OpenClBuffer<?>> buffers) implements Step {
        @Override
        public void enqueue(MemorySegment queue) {
            for (OpenClBuffer<?> b : buffers) b.mem(); // a freed buffer must not reach the device
            int status = OpenCl.enqueueNDRangeKernel(queue, kernel, dimensions, global, local);
            if (status != 0) throw new OpenClException("clEnqueueNDRangeKernel", status, "launching " + description);
        }
    }

    private record Copy(OpenClBuffer<?> src, long srcByte, OpenClBuffer<?> dst, long dstByte, long bytes) implements Step {
        @Override
        public void enqueue(MemorySegment queue) {
            if (bytes > 0) OpenCl.enqueueCopyBuffer(queue, src.mem(), dst.mem(), srcByte, dstByte, bytes);
        }
    }

    /** The kernels and scratch buffers one compiled graph owns. */
    private record Resources(List<MemorySegment> kernels, List<MemorySegment> mems) {
        void release() {
            kernels.forEach(OpenCl::releaseKernel);
            mems.forEach(OpenCl::releaseMemObject);
        }
    }

    /** Compiled graphs: their steps, and the kernel objects and scratch buffers they own (released once unreachable, see {@link #live}). */
    private final class Compiled implements Executable {
        private final List<Step> steps;

        Compiled(List<Step> steps, List<OpenClBuffer<?>> scratch) {
            this.steps = List.copyOf(steps);
            List<MemorySegment> kernels = new ArrayList<>();
            for (Step s : steps) if (s instanceof Launch l) kernels.add(l.kernel());
            List<MemorySegment> mems = new ArrayList<>();
            for (OpenClBuffer<?> b : scratch) mems.add(b.mem());
            Resources resources = new Resources(List.copyOf(kernels), List.copyOf(mems));
            synchronized (live) {
                live.add(resources);
            }
            CLEANER.register(this, () -> {
                synchronized (live) {
                    if (live.remove(resources)) unreachable.add(resources);
                }
            });
        }

        @Override
        public void run() {
            requireOpen();
            for (Step s : steps) s.enqueue(queue);
        }
    }

    /** Releases the objects of executables found unreachable; call only after a {@code clFinish}. */
    private void releaseUnreachable() {
        List<Resources> done;
        synchronized (live) {
            done = List.copyOf(unreachable);
            unreachable.clear();
        }
        done.forEach(Resources::release);
    }

    /** How many compiled graphs hold native objects (reachable or awaiting release): for tests. */
    int heldExecutables() {
        synchronized (live) {
            return live.size() + unreachable.size();
        }
    }

    @Override
    public synchronized Executable compile(List<TaskGraph> graphs) {
        requireOpen();
        List<Step> steps = new ArrayList<>();
        List<OpenClBuffer<?>> scratch = new ArrayList<>();
        try {
            for (TaskGraph graph : graphs) {
                for (Task task : graph.tasks()) {
                    for (Buffer<?> b : task.buffers()) {
                        try {
                            own(b);
                        } catch (RuntimeException e) {
                            throw new IllegalArgumentException("graph " + graph.name() + ", task " + task + ": " + e.getMessage(), e);
                        }
                    }
                    switch (task) {
                        case KernelTask k -> steps.add(launch(k, graph.name()));
                        case GemmTask g -> {
                            for (Task t : gemmPlan(g, scratch).tasks()) steps.add(launch((KernelTask) t, graph.name() + ": " + g));
                        }
                        case CopyTask c -> steps.add(copy(c));
                    }
                }
            }
        } catch (RuntimeException e) {
            for (Step s : steps) if (s instanceof Launch l) OpenCl.releaseKernel(l.kernel());
            for (OpenClBuffer<?> b : scratch) OpenCl.releaseMemObject(b.detach());
            throw e;
        }
        return new Compiled(steps, scratch);
    }

    /** Compiles one launch of hand-written OpenCL C (for tests and for kernels outside the Java subset). */
    synchronized Executable compile(KernelSource source, String kernelName, Grid grid, List<Arg<?>> args) {
        requireOpen();
        return new Compiled(List.of(launch(source, kernelName, grid, args, kernelName + " " + grid + " " + args)), List.of());
    }

    private Step copy(CopyTask c) {
        int size = c.src().type().bytes();
        return new Copy(own(c.src()), c.srcOffset() * size, own(c.dst()), c.dstOffset() * size, c.count() * size);
    }

    private Launch launch(KernelTask task, String graphName) {
        Map<Integer, Integer> constants = new TreeMap<>();
        for (int i = 0; i < task.args().size(); i++) {
            if (task.args().get(i) instanceof Arg.Scalar<?> s && s.specialised()) constants.put(i, (Integer) s.value());
        }
        KernelSource source = translations.computeIfAbsent(new TranslationKey(task.kernel(), Map.copyOf(constants)),
                key -> KernelCompiler.translate(key.kernel(), Dialect.OPENCL, key.constants()));
        return launch(source, task.kernel().toString(), task.grid(), task.args(), graphName + ": " + task);
    }

    /**
     * A launch of OpenCL C {@code source} (built once per distinct source) with {@code args} passed
     * by the launch ABI of {@link KernelSource}. A grid without a local size is a {@code @Parallel}
     * kernel's: its loops are grid-stride, so the global size is rounded up to a chosen local size.
     */
    private Launch launch(KernelSource source, String kernelName, Grid grid, List<Arg<?>> args, String description) {
        if (source.dialect() != Dialect.OPENCL) throw new IllegalArgumentException(kernelName + ": " + source.dialect() + " source given to the OpenCL backend");
        MemorySegment program = program(source, kernelName);
        MemorySegment kernel = OpenCl.createKernel(program, source.entryName());
        try {
            List<OpenClBuffer<?>> used = setArguments(kernel, args, description);
            long maxGroup = OpenCl.kernelWorkGroupSize(kernel, device.device());
            int dims = grid.dimensions();
            Arena arena = Arena.ofAuto();
            MemorySegment global = arena.allocate(JAVA_LONG, dims);
            MemorySegment local = arena.allocate(JAVA_LONG, dims);
            if (grid.hasLocalSize()) {
                long groupSize = 1;
                for (int d = 0; d < dims; d++) {
                    global.setAtIndex(JAVA_LONG, d, grid.global(d));
                    local.setAtIndex(JAVA_LONG, d, grid.local(d));
                    groupSize *= grid.local(d);
                }
                if (groupSize > maxGroup) {
                    throw new IllegalArgumentException(description + ": work-group of " + groupSize + " work-items exceeds the " + maxGroup
                            + " that kernel " + kernelName + " allows on " + device.name());
                }
            } else {
                long budget = Long.highestOneBit(Math.min(PARALLEL_GROUP, maxGroup));
                for (int d = 0; d < dims; d++) {
                    long size = Math.min(budget, ceilPowerOfTwo(grid.global(d)));
                    budget /= size;
                    local.setAtIndex(JAVA_LONG, d, size);
                    global.setAtIndex(JAVA_LONG, d, (grid.global(d) + size - 1) / size * size);
                }
            }
            return new Launch(description, kernel, dims, global, local, used);
        } catch (RuntimeException e) {
            OpenCl.releaseKernel(kernel);
            throw e;
        }
    }

    private static long ceilPowerOfTwo(long n) {
        return n <= 1 ? 1 : Long.highestOneBit(n - 1) << 1;
    }

    /** Sets the kernel's arguments: buffer -> cl_mem, int length; scalar -> value; specialised constant -> nothing. */
    private List<OpenClBuffer<?>> setArguments(MemorySegment kernel, List<Arg<?>> args, String description) {
        List<OpenClBuffer<?>> used = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            int index = 0;
            for (Arg<?> arg : args) {
                switch (arg) {
                    case Buffer<?> buffer -> {
                        OpenClBuffer<?> b = own(buffer);
                        if (b.length() > Integer.MAX_VALUE) {
                            throw new IllegalArgumentException(description + ": buffer " + b + " exceeds int indexing in kernels");
                        }
                        used.add(b);
                        OpenCl.setKernelArg(kernel, index++, arena.allocateFrom(ADDRESS, b.mem()));
                        OpenCl.setKernelArg(kernel, index++, arena.allocateFrom(JAVA_INT, (int) b.length()));
                    }
                    case Arg.Scalar<?> s when s.specialised() -> { }
                    case Arg.Scalar<?> s when s.value() instanceof Integer v -> OpenCl.setKernelArg(kernel, index++, arena.allocateFrom(JAVA_INT, v));
                    case Arg.Scalar<?> s when s.value() instanceof Float v -> OpenCl.setKernelArg(kernel, index++, arena.allocateFrom(JAVA_FLOAT, v));
                    case Arg.Scalar<?> s -> throw new IllegalArgumentException(description + ": unsupported scalar " + s);
                }
            }
        } catch (OpenClException e) {
            throw new OpenClException(e.call(), e.code(), "setting the arguments of " + description);
        }
        return used;
    }

    /** The built program for {@code source}, built on first use; a failed build names the kernel and carries the build log. */
    private MemorySegment program(KernelSource source, String kernelName) {
        MemorySegment cached = programs.get(source.code());
        if (cached != null) return cached;
        MemorySegment program = OpenCl.createProgramWithSource(context, source.code());
        int status = OpenCl.buildProgram(program, device.device(), "");
        if (status != 0) {
            String log = OpenCl.buildLog(program, device.device());
            OpenCl.releaseProgram(program);
            throw new OpenClException("clBuildProgram", status, "building kernel " + kernelName + " for " + device.name()
                    + ", build log:\n" + log + "\nOpenCL C source:\n" + numbered(source.code()));
        }
        programs.put(source.code(), program);
        return program;
    }

    private static String numbered(String code) {
        StringBuilder sb = new StringBuilder();
        String[] lines = code.split("\n", -1);
        for (int i = 0; i < lines.length; i++) sb.append(String.format("%4d  %s%n", i + 1, lines[i]));
        return sb.toString();
    }

    // ---- GEMM ---------------------------------------------------------------------------------

    /** The Gemm kernel (A and C float32) for each element type of B. */
    private static final Map<ElementType<?>, KernelRef> GEMM_KERNELS = Map.of(
            ElementType.F32, gemmKernel(Gemm::gemmF32F32),
            ElementType.F16, gemmKernel(Gemm::gemmF32F16),
            ElementType.BF16, gemmKernel(Gemm::gemmF32BF16));

    private static <B extends DeviceArray> KernelRef gemmKernel(
            KernelMethods.C14<FloatArray, Integer, Integer, B, Integer, Integer, FloatArray, Integer, Integer, Integer, Integer, Integer, Float, Float> kernel) {
        return KernelRef.of(kernel);
    }

    /**
     * The kernel launches computing {@code g}: the {@link Gemm} kernel for B's type, preceded by a
     * float32 copy of A, and wrapped in a float32 copy of C, where those are not float32. The
     * copies live in scratch buffers added to {@code scratch}.
     */
    private TaskGraph gemmPlan(GemmTask g, List<OpenClBuffer<?>> scratch) {
        KernelRef kernel = GEMM_KERNELS.get(g.b().type());
        if (kernel == null || !isFloat(g.a().type()) || !isFloat(g.c().type())) {
            throw new IllegalArgumentException("OpenCL gemm needs A, B and C in f32, f16 or bf16; given A " + g.a() + ", B " + g.b() + ", C " + g.c());
        }
        int m = g.m(), n = g.n(), k = g.k();
        TaskGraph plan = new TaskGraph("gemm");
        Buffer<FloatArray> a = floatView(plan, g.a(), intOffset(g.aOffset()), g.lda(), m, k, scratch, true);
        Buffer<FloatArray> c = floatView(plan, g.c(), intOffset(g.cOffset()), g.ldc(), m, n, scratch, g.beta() != 0);
        boolean aCopied = a != g.a(), cCopied = c != g.c();
        plan.add(new KernelTask(kernel, Grid.groups(ceilDiv(n, Gemm.TILE), ceilDiv(m, Gemm.TILE), Gemm.THREADS), List.of(
                a, Arg.i32(aCopied ? 0 : intOffset(g.aOffset())), Arg.i32(aCopied ? k : g.lda()),
                g.b(), Arg.i32(intOffset(g.bOffset())), Arg.i32(g.ldb()),
                c, Arg.i32(cCopied ? 0 : intOffset(g.cOffset())), Arg.i32(cCopied ? n : g.ldc()),
                Arg.i32(m), Arg.i32(n), Arg.i32(k), Arg.f32(g.alpha()), Arg.f32(g.beta()))));
        if (cCopied) {
            Arg<Integer> offset = Arg.i32(intOffset(g.cOffset())), ld = Arg.i32(g.ldc()), rows = Arg.i32(m), cols = Arg.i32(n);
            Grid grid = Grid.of(n, m);
            if (g.c().type() == ElementType.F16) plan.parallel(Gemm::narrowHalf, grid, c, typed(g.c(), ElementType.F16), offset, ld, rows, cols);
            else plan.parallel(Gemm::narrowBFloat16, grid, c, typed(g.c(), ElementType.BF16), offset, ld, rows, cols);
        }
        return plan;
    }

    /**
     * {@code matrix} itself if it holds float32, else a scratch float32 [rows, cols] buffer, filled
     * from the sub-matrix by a widen launch added to {@code plan} when {@code read}.
     */
    @SuppressWarnings("unchecked")
    private Buffer<FloatArray> floatView(TaskGraph plan, Buffer<?> matrix, int offset, int ld, int rows, int cols,
                                         List<OpenClBuffer<?>> scratch, boolean read) {
        if (matrix.type() == ElementType.F32) return (Buffer<FloatArray>) matrix;
        OpenClBuffer<FloatArray> copy = create(ElementType.F32, (long) rows * cols, matrix.label() + " as f32 for gemm");
        buffers.remove(copy); // owned by the executable, released with it
        scratch.add(copy);
        if (read) {
            Arg<Integer> o = Arg.i32(offset), l = Arg.i32(ld), r = Arg.i32(rows), c = Arg.i32(cols);
            Grid grid = Grid.of(cols, rows);
            if (matrix.type() == ElementType.F16) plan.parallel(Gemm::widenHalf, grid, typed(matrix, ElementType.F16), o, l, copy, r, c);
            else plan.parallel(Gemm::widenBFloat16, grid, typed(matrix, ElementType.BF16), o, l, copy, r, c);
        }
        return copy;
    }

    private static boolean isFloat(ElementType<?> type) {
        return type == ElementType.F32 || type == ElementType.F16 || type == ElementType.BF16;
    }

    @SuppressWarnings("unchecked")
    private static <T extends DeviceArray> Buffer<T> typed(Buffer<?> buffer, ElementType<T> type) {
        if (buffer.type() != type) throw new IllegalArgumentException(buffer + " is not " + type);
        return (Buffer<T>) buffer;
    }

    private static int ceilDiv(int a, int b) { return (a + b - 1) / b; }

    private static int intOffset(long offset) {
        if (offset > Integer.MAX_VALUE) throw new IllegalArgumentException("gemm offset " + offset + " exceeds int indexing in kernels");
        return (int) offset;
    }

    // ---- queue --------------------------------------------------------------------------------

    @Override
    public synchronized void synchronize() {
        requireOpen();
        OpenCl.finish(queue);
        releaseUnreachable();
    }

    @Override
    public long[] memoryInfo() {
        return new long[] {-1, device.globalMemoryBytes()};
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        OpenCl.finish(queue);
        List<Resources> all;
        synchronized (live) {
            all = new ArrayList<>(live);
            all.addAll(unreachable);
            live.clear(); // executables that become unreachable later have nothing left to release
            unreachable.clear();
        }
        all.forEach(Resources::release);
        for (OpenClBuffer<?> b : buffers) OpenCl.releaseMemObject(b.detach());
        buffers.clear();
        for (MemorySegment p : programs.values()) OpenCl.releaseProgram(p);
        programs.clear();
        OpenCl.releaseCommandQueue(queue);
        OpenCl.releaseContext(context);
        closed = true;
    }

    @Override
    public String toString() { return NAME + " backend on " + deviceName(); }
}
