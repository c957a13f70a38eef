package polar.tornado.compiler;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Builds generated code with real device compilers, for tests: CUDA C with {@code nvcc --ptx}
 * and OpenCL C with the first OpenCL platform (PoCL in CI), through FFM. Each returns the
 * compiler's log when the build fails, empty when it succeeds; absent tools are reported by
 * {@link #hasNvcc()} and {@link #hasOpenCl()} so tests can skip.
 */
final class DeviceCompilers {
    private DeviceCompilers() {}

    // ---- CUDA

    static Optional<Path> nvcc() {
        for (String p : new String[] {"/usr/local/cuda/bin/nvcc", "/usr/local/bin/nvcc", "/usr/bin/nvcc"}) {
            if (Files.isExecutable(Path.of(p))) return Optional.of(Path.of(p));
        }
        return Optional.empty();
    }

    static boolean hasNvcc() { return nvcc().isPresent(); }

    /** {@code nvcc --ptx -arch=sm_90} on {@code code}; the log on failure. */
    static Optional<String> buildCuda(String code) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("polar-nvcc");
        try {
            Path src = Files.writeString(dir.resolve("kernel.cu"), code);
            Process p = new ProcessBuilder(nvcc().orElseThrow().toString(), "--ptx", "-arch=sm_90", "-Werror", "all-warnings",
                    "-o", dir.resolve("kernel.ptx").toString(), src.toString()).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(120, TimeUnit.SECONDS)) p.destroyForcibly();
            return p.exitValue() == 0 ? Optional.empty() : Optional.of(log);
        } finally {
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dir);
        }
    }

    // ---- OpenCL

    private static final int CL_SUCCESS = 0;
    private static final long CL_DEVICE_TYPE_ALL = 0xFFFFFFFFL;
    private static final int CL_PROGRAM_BUILD_LOG = 0x1183;

    private record OpenCl(MethodHandle getPlatformIds, MethodHandle getDeviceIds, MethodHandle createContext,
                          MethodHandle createProgram, MethodHandle build, MethodHandle buildInfo,
                          MethodHandle releaseProgram, MethodHandle releaseContext) {}

    private static final Optional<OpenCl> OPENCL = loadOpenCl();

    private static Optional<OpenCl> loadOpenCl() {
        SymbolLookup lib;
        try {
            lib = SymbolLookup.libraryLookup("libOpenCL.so.1", Arena.global());
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
        Linker linker = Linker.nativeLinker();
        ValueLayout.OfInt i = ValueLayout.JAVA_INT;
        ValueLayout.OfLong l = ValueLayout.JAVA_LONG;
        var ptr = ValueLayout.ADDRESS;
        java.util.function.BiFunction<String, FunctionDescriptor, MethodHandle> f =
                (name, d) -> linker.downcallHandle(lib.find(name).orElseThrow(), d);
        return Optional.of(new OpenCl(
                f.apply("clGetPlatformIDs", FunctionDescriptor.of(i, i, ptr, ptr)),
                f.apply("clGetDeviceIDs", FunctionDescriptor.of(i, ptr, l, i, ptr, ptr)),
                f.apply("clCreateContext", FunctionDescriptor.of(ptr, ptr, i, ptr, ptr, ptr, ptr)),
                f.apply("clCreateProgramWithSource", FunctionDescriptor.of(ptr, ptr, i, ptr, ptr, ptr)),
                f.apply("clBuildProgram", FunctionDescriptor.of(i, ptr, i, ptr, ptr, ptr, ptr)),
                f.apply("clGetProgramBuildInfo", FunctionDescriptor.of(i, ptr, ptr, i, l, ptr, ptr)),
                f.apply("clReleaseProgram", FunctionDescriptor.of(i, ptr)),
                f.apply("clReleaseContext", FunctionDescriptor.of(i, ptr))));
    }

    static boolean hasOpenCl() {
        if (OPENCL.isEmpty()) return false;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
            int err = (int) OPENCL.get().getPlatformIds.invokeExact(0, MemorySegment.NULL, count);
            return err == CL_SUCCESS && count.get(ValueLayout.JAVA_INT, 0) > 0;
        } catch (Throwable t) {
            return false;
        }
    }

    /** Builds {@code code} as OpenCL C 1.2 for the first device of the first platform; the build log on failure. */
    static Optional<String> buildOpenCl(String code) throws Throwable {
        OpenCl cl = OPENCL.orElseThrow();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment platform = arena.allocate(ValueLayout.ADDRESS);
            check((int) cl.getPlatformIds.invokeExact(1, platform, MemorySegment.NULL), "clGetPlatformIDs");
            MemorySegment device = arena.allocate(ValueLayout.ADDRESS);
            check((int) cl.getDeviceIds.invokeExact(platform.get(ValueLayout.ADDRESS, 0), CL_DEVICE_TYPE_ALL, 1, device, MemorySegment.NULL), "clGetDeviceIDs");
            MemorySegment err = arena.allocate(ValueLayout.JAVA_INT);
            MemorySegment context = (MemorySegment) cl.createContext.invokeExact(MemorySegment.NULL, 1, device, MemorySegment.NULL, MemorySegment.NULL, err);
            check(err.get(ValueLayout.JAVA_INT, 0), "clCreateContext");
            try {
                MemorySegment strings = arena.allocate(ValueLayout.ADDRESS);
                strings.set(ValueLayout.ADDRESS, 0, arena.allocateFrom(code));
                MemorySegment program = (MemorySegment) cl.createProgram.invokeExact(context, 1, strings, MemorySegment.NULL, err);
                check(err.get(ValueLayout.JAVA_INT, 0), "clCreateProgramWithSource");
                try {
                    int built = (int) cl.build.invokeExact(program, 1, device, arena.allocateFrom("-cl-std=CL1.2 -Werror"), MemorySegment.NULL, MemorySegment.NULL);
                    if (built == CL_SUCCESS) return Optional.empty();
                    MemorySegment size = arena.allocate(ValueLayout.JAVA_LONG);
                    MemorySegment dev = device.get(ValueLayout.ADDRESS, 0);
                    check((int) cl.buildInfo.invokeExact(program, dev, CL_PROGRAM_BUILD_LOG, 0L, MemorySegment.NULL, size), "clGetProgramBuildInfo");
                    MemorySegment log = arena.allocate(Math.max(1, size.get(ValueLayout.JAVA_LONG, 0)));
                    check((int) cl.buildInfo.invokeExact(program, dev, CL_PROGRAM_BUILD_LOG, log.byteSize(), log, MemorySegment.NULL), "clGetProgramBuildInfo");
                    return Optional.of("clBuildProgram error " + built + ":\n" + log.getString(0));
                } finally {
                    int ignored = (int) cl.releaseProgram.invokeExact(program);
                }
            } finally {
                int ignored = (int) cl.releaseContext.invokeExact(context);
            }
        }
    }

    private static void check(int err, String call) {
        if (err != CL_SUCCESS) throw new IllegalStateException(call + " failed with OpenCL error " + err);
    }
}
