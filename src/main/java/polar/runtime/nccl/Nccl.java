package polar.runtime.nccl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import polar.tornado.types.ElementType;

/**
 * NVIDIA's collective library ({@code libnccl.so.2}) through FFM: communicators over the GPUs of
 * one host and all-reduce on a CUDA stream. Pointers are {@code CUdeviceptr}s, streams {@code
 * CUstream}s (the same handles as CUDA runtime pointers and streams).
 *
 * <p>The library is found through {@value #LIBRARY_VARIABLE} (the file, or its folder), then the
 * dynamic loader's search ({@code LD_LIBRARY_PATH}, the ldconfig cache), then the NVIDIA wheel of a
 * Python environment ({@code $VIRTUAL_ENV} or {@value #TORCH_VENV}: {@code
 * lib/python3.x/site-packages/nvidia/nccl/lib}), which is where PyTorch's copy lives on the GPU hosts.
 *
 * <p>NVLink multicast (NVLS) must stay off: communicators are only made when the process was
 * started with {@code NCCL_NVLS_ENABLE=0}. Java cannot set its own process environment portably
 * (and NCCL reads it with {@code getenv}), so the launcher exports it.
 */
public final class Nccl {
    public static final String LIBRARY = "libnccl.so.2";
    /** Names the library file, or the folder holding it. */
    public static final String LIBRARY_VARIABLE = "POLAR_NCCL_LIB";
    /** NCCL's switch for NVLink SHARP / multicast; must be {@code "0"}. */
    public static final String NVLS_VARIABLE = "NCCL_NVLS_ENABLE";
    /** The PyTorch environment of the GPU hosts. */
    public static final String TORCH_VENV = "/opt/torch/.venv";

    /** {@code ncclDataType_t} of the element types Polar sums. */
    public enum DataType {
        FLOAT16(6), FLOAT32(7), BFLOAT16(9);

        final int code;

        DataType(int code) { this.code = code; }

        public static DataType of(ElementType<?> type) {
            if (type == ElementType.F32) return FLOAT32;
            if (type == ElementType.F16) return FLOAT16;
            if (type == ElementType.BF16) return BFLOAT16;
            throw new IllegalArgumentException("NCCL sums f32, f16 or bf16 values here, not " + type);
        }
    }

    private static final int NCCL_SUM = 0;
    private static final int UNIQUE_ID_BYTES = 128;
    private static final MemoryLayout UNIQUE_ID = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(UNIQUE_ID_BYTES, JAVA_BYTE).withName("internal"));

    private static final Object LOCK = new Object();
    private static volatile Nccl instance;
    private static volatile NcclException loadFailure;

    private final String path;
    private final MethodHandle getVersion, getUniqueId, commInitAll, commInitRank, commDestroy, commCount, commCuDevice, commUserRank,
            allReduce, groupStart, groupEnd, getErrorString;
    private final Optional<MethodHandle> commAbort, getLastError;

    private Nccl(String path, SymbolLookup lookup) {
        this.path = path;
        Linker linker = Linker.nativeLinker();
        Lookup l = new Lookup(linker, lookup, path);
        getVersion = l.function("ncclGetVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        getUniqueId = l.function("ncclGetUniqueId", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        commInitAll = l.function("ncclCommInitAll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        commInitRank = l.function("ncclCommInitRank", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, UNIQUE_ID, JAVA_INT));
        commDestroy = l.function("ncclCommDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        commCount = l.function("ncclCommCount", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        commCuDevice = l.function("ncclCommCuDevice", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        commUserRank = l.function("ncclCommUserRank", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        allReduce = l.function("ncclAllReduce", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        groupStart = l.function("ncclGroupStart", FunctionDescriptor.of(JAVA_INT));
        groupEnd = l.function("ncclGroupEnd", FunctionDescriptor.of(JAVA_INT));
        getErrorString = l.function("ncclGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        commAbort = l.optional("ncclCommAbort", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        getLastError = l.optional("ncclGetLastError", FunctionDescriptor.of(ADDRESS, ADDRESS));
    }

    private record Lookup(Linker linker, SymbolLookup lookup, String path) {
        MethodHandle function(String name, FunctionDescriptor d) {
            return optional(name, d).orElseThrow(() -> new NcclException(path + " has no function " + name + " (NCCL too old?)", null));
        }

        Optional<MethodHandle> optional(String name, FunctionDescriptor d) {
            return lookup.find(name).map(a -> linker.downcallHandle(a, d));
        }
    }

    /** The library, loaded on first use; throws {@link NcclException} (listing the places tried) where there is none. */
    public static Nccl get() {
        Nccl n = instance;
        if (n != null) return n;
        synchronized (LOCK) {
            if (instance != null) return instance;
            if (loadFailure != null) throw loadFailure;
            List<String> tried = new ArrayList<>();
            for (String candidate : candidates(System.getenv())) {
                try {
                    instance = new Nccl(candidate, SymbolLookup.libraryLookup(candidate, Arena.global()));
                    return instance;
                } catch (IllegalArgumentException notThere) {
                    tried.add(candidate);
                }
            }
            loadFailure = new NcclException("cannot load " + LIBRARY + " (tried " + String.join(", ", tried) + "); set "
                    + LIBRARY_VARIABLE + " to the file or its folder", null);
            throw loadFailure;
        }
    }

    /** Whether the library loads. */
    public static boolean available() {
        try {
            get();
            return true;
        } catch (NcclException e) {
            return false;
        }
    }

    /** Why {@link #available()} is false ("" when it is true), for skip messages. */
    public static String unavailableReason() {
        try {
            get();
            return "";
        } catch (NcclException e) {
            return e.getMessage();
        }
    }

    /** Where the library is looked for, in order, given the process environment {@code env}. */
    static List<String> candidates(Map<String, String> env) {
        Set<String> result = new LinkedHashSet<>();
        String named = env.get(LIBRARY_VARIABLE);
        if (named != null && !named.isBlank()) {
            Path p = Path.of(named);
            result.add((Files.isDirectory(p) ? p.resolve(LIBRARY) : p).toString());
        }
        result.add(LIBRARY);
        List<Path> environments = new ArrayList<>();
        String venv = env.get("VIRTUAL_ENV");
        if (venv != null && !venv.isBlank()) environments.add(Path.of(venv));
        environments.add(Path.of(TORCH_VENV));
        for (Path e : environments) {
            Path lib = e.resolve("lib");
            if (!Files.isDirectory(lib)) continue;
            try (DirectoryStream<Path> pythons = Files.newDirectoryStream(lib, "python3*")) {
                for (Path python : pythons) {
                    Path file = python.resolve("site-packages/nvidia/nccl/lib").resolve(LIBRARY);
                    if (Files.exists(file)) result.add(file.toString());
                }
            } catch (IOException unreadable) {
                // an environment we cannot list holds no library for us
            }
        }
        return List.copyOf(result);
    }

    /** Fails unless {@code env} switches NVLink multicast off ({@value #NVLS_VARIABLE}{@code =0}). */
    public static void requireNvlsOff(Map<String, String> env) {
        String value = env.get(NVLS_VARIABLE);
        if (!"0".equals(value)) {
            throw new NcclException(NVLS_VARIABLE + " is " + (value == null ? "not set" : "\"" + value + "\"") + ": NVLink multicast must stay off, "
                    + "so Polar starts NCCL only with " + NVLS_VARIABLE + "=0. Export it before starting Java (export " + NVLS_VARIABLE
                    + "=0); a running JVM cannot set its own environment portably.", null);
        }
    }

    /** The file the library was loaded from (or its soname, when the loader found it). */
    public String path() { return path; }

    /** {@code ncclGetVersion}: major * 10000 + minor * 100 + patch (e.g. 22105 for 2.21.5). */
    public int version() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check("ncclGetVersion", call(() -> (int) getVersion.invokeExact(out)), null);
            return out.get(JAVA_INT, 0);
        }
    }

    /** A version code as text, e.g. {@code 2.21.5}. */
    public static String versionString(int code) {
        return code / 10000 + "." + code / 100 % 100 + "." + code % 100;
    }

    /** NCCL's text for a result code. */
    public String errorString(int result) {
        try {
            MemorySegment s = (MemorySegment) getErrorString.invokeExact(result);
            return string(s, "ncclResult_t " + result);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code ncclGetUniqueId}: the 128 bytes that let several processes join one communicator ({@link #commInitRank}). */
    public byte[] uniqueId() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment id = arena.allocate(UNIQUE_ID);
            check("ncclGetUniqueId", call(() -> (int) getUniqueId.invokeExact(id)), null);
            return id.toArray(JAVA_BYTE);
        }
    }

    /** {@code ncclCommInitAll}: one communicator per device, all in this process; rank {@code i} is {@code devices[i]}. */
    public MemorySegment[] commInitAll(int[] devices) {
        requireNvlsOff(System.getenv());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment comms = arena.allocate(ADDRESS, devices.length);
            MemorySegment list = arena.allocateFrom(JAVA_INT, devices);
            check("ncclCommInitAll(" + devices.length + " devices " + java.util.Arrays.toString(devices) + ")",
                    call(() -> (int) commInitAll.invokeExact(comms, devices.length, list)), null);
            MemorySegment[] result = new MemorySegment[devices.length];
            for (int i = 0; i < devices.length; i++) result[i] = comms.getAtIndex(ADDRESS, i);
            return result;
        }
    }

    /**
     * {@code ncclCommInitRank}: this process's rank of {@code ranks}, joined through the {@code id}
     * that rank 0 made. Call it with the rank's device current; blocks until every rank joined.
     */
    public MemorySegment commInitRank(int ranks, byte[] id, int rank) {
        requireNvlsOff(System.getenv());
        if (id.length != UNIQUE_ID_BYTES) throw new IllegalArgumentException("an NCCL unique id has " + UNIQUE_ID_BYTES + " bytes, not " + id.length);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            MemorySegment idStruct = arena.allocate(UNIQUE_ID);
            MemorySegment.copy(id, 0, idStruct, JAVA_BYTE, 0, id.length);
            check("ncclCommInitRank(rank " + rank + " of " + ranks + ")", call(() -> (int) commInitRank.invokeExact(out, ranks, idStruct, rank)), null);
            return out.get(ADDRESS, 0);
        }
    }

    /**
     * {@code ncclAllReduce} with sum: {@code recv[i] = sum over ranks of send[i]} for {@code count}
     * elements, enqueued on {@code stream} ({@code send == recv} works in place).
     */
    public void allReduce(long send, long recv, long count, DataType type, MemorySegment comm, MemorySegment stream) {
        check("ncclAllReduce(" + count + " " + type + ", sum)", call(() -> (int) allReduce.invokeExact(send, recv, count, type.code, NCCL_SUM, comm, stream)), comm);
    }

    /** {@code ncclGroupStart}: collectives until {@link #groupEnd} are issued together (one thread driving several ranks). */
    public void groupStart() {
        check("ncclGroupStart", call(() -> (int) groupStart.invokeExact()), null);
    }

    public void groupEnd() {
        check("ncclGroupEnd", call(() -> (int) groupEnd.invokeExact()), null);
    }

    /** Ranks in the communicator. */
    public int commCount(MemorySegment comm) {
        return intOut("ncclCommCount", comm, commCount);
    }

    /** The CUDA device ordinal of the communicator's rank. */
    public int commCuDevice(MemorySegment comm) {
        return intOut("ncclCommCuDevice", comm, commCuDevice);
    }

    /** The communicator's rank. */
    public int commUserRank(MemorySegment comm) {
        return intOut("ncclCommUserRank", comm, commUserRank);
    }

    /** {@code ncclCommDestroy}: after the work queued on the communicator finishes. */
    public void commDestroy(MemorySegment comm) {
        check("ncclCommDestroy", call(() -> (int) commDestroy.invokeExact(comm)), null);
    }

    /** {@code ncclCommAbort}: frees the communicator at once, stopping pending work (falls back to destroy on very old NCCL). */
    public void commAbort(MemorySegment comm) {
        if (commAbort.isEmpty()) {
            commDestroy(comm);
            return;
        }
        MethodHandle h = commAbort.get();
        check("ncclCommAbort", call(() -> (int) h.invokeExact(comm)), null);
    }

    private int intOut(String name, MemorySegment comm, MethodHandle h) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check(name, call(() -> (int) h.invokeExact(comm, out)), comm);
            return out.get(JAVA_INT, 0);
        }
    }

    /** Throws unless {@code result} is {@code ncclSuccess}; adds the communicator's last error message where NCCL keeps one. */
    private void check(String call, int result, MemorySegment comm) {
        if (result == 0) return;
        String detail = errorString(result);
        if (getLastError.isPresent()) {
            try {
                MemorySegment last = (MemorySegment) getLastError.get().invokeExact(comm == null ? MemorySegment.NULL : comm);
                String text = string(last, "");
                if (!text.isBlank()) detail += ": " + text.strip();
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }
        throw new NcclException(call, result, detail);
    }

    @FunctionalInterface
    private interface Call {
        int run() throws Throwable;
    }

    private static int call(Call c) {
        try {
            return c.run();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static String string(MemorySegment address, String fallback) {
        if (address == null || address.equals(MemorySegment.NULL)) return fallback;
        return address.reinterpret(Long.MAX_VALUE).getString(0);
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    @Override
    public String toString() { return "NCCL " + versionString(version()) + " from " + path; }
}
