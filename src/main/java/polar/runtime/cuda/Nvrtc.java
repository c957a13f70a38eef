package polar.runtime.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * NVRTC (CUDA's run-time compiler, {@code libnvrtc.so.13}, else {@code .12} or {@code .11.2}) through FFM: CUDA C
 * to a CUBIN for the device's own architecture ({@code sm_90} on an H100), or to PTX where this
 * NVRTC does not know the device. A failed compile throws with the program's log.
 */
public final class Nvrtc {
    /** CUDA 13, 12; then Debian's NVRTC 11.8 (non-free {@code libnvrtc11.2}), which compiles for sm_90 on machines without a GPU. */
    public static final String[] LIBRARIES = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"};

    /** A compiled module image for {@code cuModuleLoadData}: a CUBIN, or NUL-terminated PTX. */
    public record Image(String programName, String target, boolean cubin, byte[] bytes) {}

    private static final Object LOCK = new Object();
    private static volatile Nvrtc instance;

    private final String library;
    private final MethodHandle nvrtcGetErrorString, nvrtcVersion, nvrtcGetNumSupportedArchs, nvrtcGetSupportedArchs,
            nvrtcCreateProgram, nvrtcCompileProgram, nvrtcGetCUBINSize, nvrtcGetCUBIN, nvrtcGetPTXSize, nvrtcGetPTX,
            nvrtcGetProgramLogSize, nvrtcGetProgramLog, nvrtcDestroyProgram;
    private final int[] supportedArchs;
    private final List<String> includeOptions;

    private Nvrtc(NativeLibrary lib) {
        library = lib.name();
        nvrtcGetErrorString = lib.function("nvrtcGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        nvrtcVersion = lib.function("nvrtcVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        nvrtcGetNumSupportedArchs = lib.function("nvrtcGetNumSupportedArchs", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        nvrtcGetSupportedArchs = lib.function("nvrtcGetSupportedArchs", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        nvrtcCreateProgram = lib.function("nvrtcCreateProgram",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        nvrtcCompileProgram = lib.function("nvrtcCompileProgram", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        FunctionDescriptor size = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
        nvrtcGetCUBINSize = lib.function("nvrtcGetCUBINSize", size);
        nvrtcGetCUBIN = lib.function("nvrtcGetCUBIN", size);
        nvrtcGetPTXSize = lib.function("nvrtcGetPTXSize", size);
        nvrtcGetPTX = lib.function("nvrtcGetPTX", size);
        nvrtcGetProgramLogSize = lib.function("nvrtcGetProgramLogSize", size);
        nvrtcGetProgramLog = lib.function("nvrtcGetProgramLog", size);
        nvrtcDestroyProgram = lib.function("nvrtcDestroyProgram", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        supportedArchs = readSupportedArchs();
        includeOptions = cudaIncludeOptions();
    }

    /** NVRTC, loaded on first use; throws {@link CudaException} where it is not installed. */
    public static Nvrtc get() {
        Nvrtc n = instance;
        if (n != null) return n;
        synchronized (LOCK) {
            if (instance == null) instance = new Nvrtc(NativeLibrary.open(LIBRARIES));
            return instance;
        }
    }

    public String library() { return library; }

    /** "major.minor". */
    public String version() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment major = arena.allocate(JAVA_INT), minor = arena.allocate(JAVA_INT);
            check((int) nvrtcVersion.invokeExact(major, minor), "nvrtcVersion");
            return major.get(JAVA_INT, 0) + "." + minor.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /**
     * Compiles {@code source} for a device of compute capability {@code major.minor}: a CUBIN
     * ({@code --gpu-architecture=sm_XY}) when this NVRTC knows the architecture, else PTX for the
     * newest one it knows (the driver finishes it). {@code programName} names the kernel in errors.
     */
    public Image compile(String source, String programName, int major, int minor, List<String> extraOptions) {
        int cc = major * 10 + minor;
        int arch = 0;
        for (int a : supportedArchs) if (a <= cc && a > arch) arch = a;
        if (arch == 0) throw new CudaException("NVRTC " + version() + " supports no architecture up to sm_" + cc, null);
        boolean cubin = arch == cc;
        String target = (cubin ? "sm_" : "compute_") + arch;
        List<String> options = new ArrayList<>();
        options.add("--gpu-architecture=" + target);
        options.add("--std=c++17");
        options.addAll(includeOptions);
        options.addAll(extraOptions);

        try (Arena arena = Arena.ofConfined()) {
            MemorySegment progOut = arena.allocate(ADDRESS);
            check((int) nvrtcCreateProgram.invokeExact(progOut, arena.allocateFrom(source), arena.allocateFrom(programName + ".cu"),
                    0, MemorySegment.NULL, MemorySegment.NULL), "nvrtcCreateProgram(" + programName + ")");
            MemorySegment prog = progOut.get(ADDRESS, 0);
            try {
                MemorySegment optionArray = arena.allocate(ADDRESS, options.size());
                for (int i = 0; i < options.size(); i++) optionArray.setAtIndex(ADDRESS, i, arena.allocateFrom(options.get(i)));
                int rc = (int) nvrtcCompileProgram.invokeExact(prog, options.size(), optionArray);
                if (rc != 0) {
                    throw new CudaException("nvrtcCompileProgram(" + programName + ", " + String.join(" ", options) + ")", rc,
                            errorString(rc), "log:\n" + programLog(prog, arena) + "\nsource:\n" + numbered(source));
                }
                MethodHandle sizeOf = cubin ? nvrtcGetCUBINSize : nvrtcGetPTXSize;
                MethodHandle get = cubin ? nvrtcGetCUBIN : nvrtcGetPTX;
                MemorySegment size = arena.allocate(JAVA_LONG);
                check((int) sizeOf.invokeExact(prog, size), (cubin ? "nvrtcGetCUBINSize(" : "nvrtcGetPTXSize(") + programName + ")");
                MemorySegment image = arena.allocate(size.get(JAVA_LONG, 0));
                check((int) get.invokeExact(prog, image), (cubin ? "nvrtcGetCUBIN(" : "nvrtcGetPTX(") + programName + ")");
                return new Image(programName, target, cubin, image.toArray(JAVA_BYTE));
            } finally {
                MemorySegment progPtr = arena.allocate(ADDRESS);
                progPtr.set(ADDRESS, 0, prog);
                int ignored = (int) nvrtcDestroyProgram.invokeExact(progPtr);
            }
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    private String programLog(MemorySegment prog, Arena arena) throws Throwable {
        MemorySegment size = arena.allocate(JAVA_LONG);
        if ((int) nvrtcGetProgramLogSize.invokeExact(prog, size) != 0) return "(no log)";
        MemorySegment log = arena.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
        if ((int) nvrtcGetProgramLog.invokeExact(prog, log) != 0) return "(no log)";
        return log.getString(0);
    }

    private static String numbered(String source) {
        StringBuilder b = new StringBuilder();
        String[] lines = source.split("\n", -1);
        for (int i = 0; i < lines.length; i++) b.append(String.format("%4d  %s%n", i + 1, lines[i]));
        return b.toString();
    }

    private int[] readSupportedArchs() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment n = arena.allocate(JAVA_INT);
            check((int) nvrtcGetNumSupportedArchs.invokeExact(n), "nvrtcGetNumSupportedArchs");
            MemorySegment archs = arena.allocate(JAVA_INT, Math.max(1, n.get(JAVA_INT, 0)));
            check((int) nvrtcGetSupportedArchs.invokeExact(archs), "nvrtcGetSupportedArchs");
            return archs.asSlice(0, 4L * n.get(JAVA_INT, 0)).toArray(JAVA_INT);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** {@code --include-path} for a CUDA toolkit's headers (cuda_fp16.h, ...) where one is installed. */
    private static List<String> cudaIncludeOptions() {
        List<String> result = new ArrayList<>();
        for (String home : new String[] {System.getenv("CUDA_HOME"), System.getenv("CUDA_PATH"), "/usr/local/cuda"}) {
            if (home == null) continue;
            for (Path dir : List.of(Path.of(home, "include"), Path.of(home, "targets", "x86_64-linux", "include"))) {
                if (Files.exists(dir.resolve("cuda_fp16.h"))) {
                    result.add("--include-path=" + dir);
                    return result;
                }
            }
        }
        return result;
    }

    private String errorString(int status) {
        try {
            return NativeLibrary.string((MemorySegment) nvrtcGetErrorString.invokeExact(status), "nvrtcResult " + status);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    private void check(int status, String call) {
        if (status != 0) throw new CudaException(call, status, errorString(status));
    }
}
