package polar.runtime.opencl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The OpenCL 1.2/3.0 host calls Polar needs, bound through FFM to the ICD loader
 * ({@code libOpenCL.so.1}). Handles ({@code cl_platform_id}, {@code cl_mem}, ...) are plain
 * {@link MemorySegment} addresses. Every failing call throws an {@link OpenClException} naming
 * the call and the CL error.
 */
public final class OpenCl {
    private OpenCl() {}

    // cl.h constants used by Polar.
    public static final long CL_DEVICE_TYPE_CPU = 1 << 1, CL_DEVICE_TYPE_GPU = 1 << 2, CL_DEVICE_TYPE_ACCELERATOR = 1 << 3;
    public static final long CL_DEVICE_TYPE_ALL = 0xFFFFFFFFL;
    public static final int CL_PLATFORM_VERSION = 0x0901, CL_PLATFORM_NAME = 0x0902, CL_PLATFORM_VENDOR = 0x0903;
    public static final int CL_DEVICE_TYPE = 0x1000, CL_DEVICE_MAX_COMPUTE_UNITS = 0x1002, CL_DEVICE_MAX_WORK_GROUP_SIZE = 0x1004,
            CL_DEVICE_MAX_MEM_ALLOC_SIZE = 0x1010, CL_DEVICE_GLOBAL_MEM_SIZE = 0x101F, CL_DEVICE_LOCAL_MEM_SIZE = 0x1023,
            CL_DEVICE_NAME = 0x102B, CL_DEVICE_VENDOR = 0x102C, CL_DRIVER_VERSION = 0x102D, CL_DEVICE_VERSION = 0x102F,
            CL_DEVICE_EXTENSIONS = 0x1030;
    public static final long CL_MEM_READ_WRITE = 1;
    public static final int CL_PROGRAM_BUILD_LOG = 0x1183;
    public static final int CL_KERNEL_WORK_GROUP_SIZE = 0x11B0;

    private static final int CL_SUCCESS = 0, CL_TRUE = 1;
    private static final MemorySegment NULL = MemorySegment.NULL;
    /** size_t; Polar runs on 64-bit hosts only. */
    private static final MemoryLayout SIZE_T = JAVA_LONG;

    private static final SymbolLookup LIBRARY = load();
    private static final String LOAD_FAILURE = LIBRARY == null ? "OpenCL ICD loader not found (libOpenCL.so.1): install ocl-icd-libopencl1 and a driver (e.g. pocl-opencl-icd)" : null;

    private static final MethodHandle
            GET_PLATFORM_IDS = bind("clGetPlatformIDs", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS),
            GET_PLATFORM_INFO = bind("clGetPlatformInfo", JAVA_INT, ADDRESS, JAVA_INT, SIZE_T, ADDRESS, ADDRESS),
            GET_DEVICE_IDS = bind("clGetDeviceIDs", JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS),
            GET_DEVICE_INFO = bind("clGetDeviceInfo", JAVA_INT, ADDRESS, JAVA_INT, SIZE_T, ADDRESS, ADDRESS),
            CREATE_CONTEXT = bind("clCreateContext", ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS),
            CREATE_QUEUE_WITH_PROPERTIES = bind("clCreateCommandQueueWithProperties", ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS),
            CREATE_QUEUE = bind("clCreateCommandQueue", ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS),
            CREATE_BUFFER = bind("clCreateBuffer", ADDRESS, ADDRESS, JAVA_LONG, SIZE_T, ADDRESS, ADDRESS),
            ENQUEUE_WRITE_BUFFER = bind("clEnqueueWriteBuffer", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, SIZE_T, SIZE_T, ADDRESS, JAVA_INT, ADDRESS, ADDRESS),
            ENQUEUE_READ_BUFFER = bind("clEnqueueReadBuffer", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, SIZE_T, SIZE_T, ADDRESS, JAVA_INT, ADDRESS, ADDRESS),
            ENQUEUE_COPY_BUFFER = bind("clEnqueueCopyBuffer", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, SIZE_T, SIZE_T, SIZE_T, JAVA_INT, ADDRESS, ADDRESS),
            ENQUEUE_FILL_BUFFER = bind("clEnqueueFillBuffer", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, SIZE_T, SIZE_T, SIZE_T, JAVA_INT, ADDRESS, ADDRESS),
            CREATE_PROGRAM_WITH_SOURCE = bind("clCreateProgramWithSource", ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS),
            BUILD_PROGRAM = bind("clBuildProgram", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS),
            GET_PROGRAM_BUILD_INFO = bind("clGetProgramBuildInfo", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, SIZE_T, ADDRESS, ADDRESS),
            CREATE_KERNEL = bind("clCreateKernel", ADDRESS, ADDRESS, ADDRESS, ADDRESS),
            SET_KERNEL_ARG = bind("clSetKernelArg", JAVA_INT, ADDRESS, JAVA_INT, SIZE_T, ADDRESS),
            GET_KERNEL_WORK_GROUP_INFO = bind("clGetKernelWorkGroupInfo", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, SIZE_T, ADDRESS, ADDRESS),
            ENQUEUE_ND_RANGE_KERNEL = bind("clEnqueueNDRangeKernel", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS),
            FINISH = bind("clFinish", JAVA_INT, ADDRESS),
            RELEASE_MEM_OBJECT = bind("clReleaseMemObject", JAVA_INT, ADDRESS),
            RELEASE_KERNEL = bind("clReleaseKernel", JAVA_INT, ADDRESS),
            RELEASE_PROGRAM = bind("clReleaseProgram", JAVA_INT, ADDRESS),
            RELEASE_COMMAND_QUEUE = bind("clReleaseCommandQueue", JAVA_INT, ADDRESS),
            RELEASE_CONTEXT = bind("clReleaseContext", JAVA_INT, ADDRESS);

    private static SymbolLookup load() {
        for (String name : new String[] {"libOpenCL.so.1", "libOpenCL.so", System.mapLibraryName("OpenCL")}) {
            try {
                return SymbolLookup.libraryLookup(name, Arena.global());
            } catch (IllegalArgumentException notFound) {
                // try the next name
            }
        }
        return null;
    }

    private static MethodHandle bind(String name, MemoryLayout result, MemoryLayout... args) {
        if (LIBRARY == null) return null;
        return LIBRARY.find(name)
                .map(symbol -> Linker.nativeLinker().downcallHandle(symbol, FunctionDescriptor.of(result, args)))
                .orElse(null);
    }

    /** Whether the OpenCL loader could be loaded (platforms may still be absent). */
    public static boolean loaded() {
        return LIBRARY != null;
    }

    // ---- the error-code helper ----------------------------------------------------------------

    /** A call returning a {@code cl_int} error code. */
    @FunctionalInterface
    interface StatusCall {
        int invoke() throws Throwable;
    }

    /** A call returning a handle and reporting its error through a {@code cl_int* errcode_ret}. */
    @FunctionalInterface
    interface HandleCall {
        MemorySegment invoke(MemorySegment errcodeRet) throws Throwable;
    }

    /** Runs {@code call} and throws an {@link OpenClException} naming {@code name} unless it returns CL_SUCCESS. */
    static void check(String name, StatusCall call) {
        int status = status(name, call);
        if (status != CL_SUCCESS) throw new OpenClException(name, status, null);
    }

    /** Runs {@code call} and returns its raw status (for calls whose failure needs more context). */
    static int status(String name, StatusCall call) {
        requireLoaded(name);
        try {
            return call.invoke();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new OpenClException(name + " failed", t);
        }
    }

    /** Runs a handle-creating {@code call} and returns the handle, or throws naming {@code name} and the error. */
    static MemorySegment create(String name, HandleCall call) {
        requireLoaded(name);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment errcode = arena.allocate(JAVA_INT);
            MemorySegment handle;
            try {
                handle = call.invoke(errcode);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new OpenClException(name + " failed", t);
            }
            int status = errcode.get(JAVA_INT, 0);
            if (status != CL_SUCCESS) throw new OpenClException(name, status, null);
            return handle;
        }
    }

    private static void requireLoaded(String name) {
        if (LIBRARY == null) throw new OpenClException(name + ": " + LOAD_FAILURE, null);
    }

    // ---- platforms and devices ----------------------------------------------------------------

    /** All platforms of the ICD loader; empty when none is installed. */
    public static List<MemorySegment> platformIds() {
        if (LIBRARY == null) return List.of();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(JAVA_INT);
            int status = status("clGetPlatformIDs", () -> (int) GET_PLATFORM_IDS.invokeExact(0, NULL, count));
            if (status == CL_PLATFORM_NOT_FOUND_KHR) return List.of();
            if (status != CL_SUCCESS) throw new OpenClException("clGetPlatformIDs", status, null);
            int n = count.get(JAVA_INT, 0);
            MemorySegment ids = arena.allocate(ADDRESS, Math.max(1, n));
            check("clGetPlatformIDs", () -> (int) GET_PLATFORM_IDS.invokeExact(n, ids, NULL));
            return handles(ids, n);
        }
    }

    public static String platformInfo(MemorySegment platform, int param) {
        return string("clGetPlatformInfo", (size, value, sizeRet) -> (int) GET_PLATFORM_INFO.invokeExact(platform, param, size, value, sizeRet));
    }

    /** Devices of {@code type} on {@code platform}; empty when it has none of that type. */
    public static List<MemorySegment> deviceIds(MemorySegment platform, long type) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(JAVA_INT);
            int status = status("clGetDeviceIDs", () -> (int) GET_DEVICE_IDS.invokeExact(platform, type, 0, NULL, count));
            if (status == CL_DEVICE_NOT_FOUND) return List.of();
            if (status != CL_SUCCESS) throw new OpenClException("clGetDeviceIDs", status, null);
            int n = count.get(JAVA_INT, 0);
            MemorySegment ids = arena.allocate(ADDRESS, Math.max(1, n));
            check("clGetDeviceIDs", () -> (int) GET_DEVICE_IDS.invokeExact(platform, type, n, ids, NULL));
            return handles(ids, n);
        }
    }

    public static String deviceInfoString(MemorySegment device, int param) {
        return string("clGetDeviceInfo", (size, value, sizeRet) -> (int) GET_DEVICE_INFO.invokeExact(device, param, size, value, sizeRet));
    }

    /** A {@code cl_ulong}, {@code cl_uint} or {@code size_t} device property, widened to long. */
    public static long deviceInfoLong(MemorySegment device, int param) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(JAVA_LONG);
            MemorySegment sizeRet = arena.allocate(SIZE_T);
            check("clGetDeviceInfo", () -> (int) GET_DEVICE_INFO.invokeExact(device, param, 8L, value, sizeRet));
            return sizeRet.get(JAVA_LONG, 0) == 4 ? Integer.toUnsignedLong(value.get(JAVA_INT, 0)) : value.get(JAVA_LONG, 0);
        }
    }

    // ---- context, queue, memory ---------------------------------------------------------------

    public static MemorySegment createContext(MemorySegment device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment devices = arena.allocate(ADDRESS);
            devices.set(ADDRESS, 0, device);
            return create("clCreateContext", err -> (MemorySegment) CREATE_CONTEXT.invokeExact(NULL, 1, devices, NULL, NULL, err));
        }
    }

    /** An in-order queue without profiling: {@code clCreateCommandQueueWithProperties} (2.0+), else the 1.2 call. */
    public static MemorySegment createCommandQueue(MemorySegment context, MemorySegment device, boolean openCl2) {
        if (openCl2 && CREATE_QUEUE_WITH_PROPERTIES != null) {
            return create("clCreateCommandQueueWithProperties", err -> (MemorySegment) CREATE_QUEUE_WITH_PROPERTIES.invokeExact(context, device, NULL, err));
        }
        return create("clCreateCommandQueue", err -> (MemorySegment) CREATE_QUEUE.invokeExact(context, device, 0L, err));
    }

    public static MemorySegment createBuffer(MemorySegment context, long flags, long bytes) {
        return create("clCreateBuffer", err -> (MemorySegment) CREATE_BUFFER.invokeExact(context, flags, bytes, NULL, err));
    }

    /** Blocking write of {@code bytes} from {@code host} (native memory) to {@code mem} at byte {@code offset}. */
    public static void enqueueWriteBuffer(MemorySegment queue, MemorySegment mem, long offset, long bytes, MemorySegment host) {
        check("clEnqueueWriteBuffer", () -> (int) ENQUEUE_WRITE_BUFFER.invokeExact(queue, mem, CL_TRUE, offset, bytes, host, 0, NULL, NULL));
    }

    /** Blocking read of {@code bytes} of {@code mem} from byte {@code offset} into {@code host} (native memory). */
    public static void enqueueReadBuffer(MemorySegment queue, MemorySegment mem, long offset, long bytes, MemorySegment host) {
        check("clEnqueueReadBuffer", () -> (int) ENQUEUE_READ_BUFFER.invokeExact(queue, mem, CL_TRUE, offset, bytes, host, 0, NULL, NULL));
    }

    public static void enqueueCopyBuffer(MemorySegment queue, MemorySegment src, MemorySegment dst, long srcOffset, long dstOffset, long bytes) {
        check("clEnqueueCopyBuffer", () -> (int) ENQUEUE_COPY_BUFFER.invokeExact(queue, src, dst, srcOffset, dstOffset, bytes, 0, NULL, NULL));
    }

    /** Fills {@code bytes} of {@code mem} from {@code offset} with a repeated byte. */
    public static void enqueueFillBuffer(MemorySegment queue, MemorySegment mem, byte value, long offset, long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pattern = arena.allocate(JAVA_BYTE);
            pattern.set(JAVA_BYTE, 0, value);
            check("clEnqueueFillBuffer", () -> (int) ENQUEUE_FILL_BUFFER.invokeExact(queue, mem, pattern, 1L, offset, bytes, 0, NULL, NULL));
            // The pattern may be read asynchronously; it lives in this arena, so wait for it.
            finish(queue);
        }
    }

    public static void finish(MemorySegment queue) {
        check("clFinish", () -> (int) FINISH.invokeExact(queue));
    }

    // ---- programs and kernels -----------------------------------------------------------------

    public static MemorySegment createProgramWithSource(MemorySegment context, String source) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment strings = arena.allocate(ADDRESS);
            strings.set(ADDRESS, 0, arena.allocateFrom(source));
            return create("clCreateProgramWithSource", err -> (MemorySegment) CREATE_PROGRAM_WITH_SOURCE.invokeExact(context, 1, strings, NULL, err));
        }
    }

    /** Builds {@code program} for {@code device}; returns the status, so the caller can add the build log and its context. */
    public static int buildProgram(MemorySegment program, MemorySegment device, String options) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment devices = arena.allocate(ADDRESS);
            devices.set(ADDRESS, 0, device);
            MemorySegment opts = arena.allocateFrom(options);
            return status("clBuildProgram", () -> (int) BUILD_PROGRAM.invokeExact(program, 1, devices, opts, NULL, NULL));
        }
    }

    public static String buildLog(MemorySegment program, MemorySegment device) {
        return string("clGetProgramBuildInfo", (size, value, sizeRet) -> (int) GET_PROGRAM_BUILD_INFO.invokeExact(program, device, CL_PROGRAM_BUILD_LOG, size, value, sizeRet));
    }

    public static MemorySegment createKernel(MemorySegment program, String entryName) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment name = arena.allocateFrom(entryName);
            return create("clCreateKernel", err -> (MemorySegment) CREATE_KERNEL.invokeExact(program, name, err));
        }
    }

    /** Sets argument {@code index} to the {@code value.byteSize()} bytes of {@code value}. */
    public static void setKernelArg(MemorySegment kernel, int index, MemorySegment value) {
        int status = status("clSetKernelArg", () -> (int) SET_KERNEL_ARG.invokeExact(kernel, index, value.byteSize(), value));
        if (status != CL_SUCCESS) throw new OpenClException("clSetKernelArg", status, "argument " + index + " (" + value.byteSize() + " bytes)");
    }

    /** The largest work-group the kernel can be launched with on {@code device}. */
    public static long kernelWorkGroupSize(MemorySegment kernel, MemorySegment device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(SIZE_T);
            check("clGetKernelWorkGroupInfo", () -> (int) GET_KERNEL_WORK_GROUP_INFO.invokeExact(kernel, device, CL_KERNEL_WORK_GROUP_SIZE, 8L, value, NULL));
            return value.get(JAVA_LONG, 0);
        }
    }

    /**
     * Enqueues {@code kernel} over {@code dimensions} dimensions; {@code global} and {@code local} hold
     * that many {@code size_t} values ({@code local} may be NULL). Returns the raw status so the caller
     * can name the launch in its error.
     */
    public static int enqueueNDRangeKernel(MemorySegment queue, MemorySegment kernel, int dimensions, MemorySegment global, MemorySegment local) {
        return status("clEnqueueNDRangeKernel", () -> (int) ENQUEUE_ND_RANGE_KERNEL.invokeExact(queue, kernel, dimensions, NULL, global, local, 0, NULL, NULL));
    }

    // ---- release ------------------------------------------------------------------------------

    public static void releaseMemObject(MemorySegment mem) { check("clReleaseMemObject", () -> (int) RELEASE_MEM_OBJECT.invokeExact(mem)); }

    public static void releaseKernel(MemorySegment kernel) { check("clReleaseKernel", () -> (int) RELEASE_KERNEL.invokeExact(kernel)); }

    public static void releaseProgram(MemorySegment program) { check("clReleaseProgram", () -> (int) RELEASE_PROGRAM.invokeExact(program)); }

    public static void releaseCommandQueue(MemorySegment queue) { check("clReleaseCommandQueue", () -> (int) RELEASE_COMMAND_QUEUE.invokeExact(queue)); }

    public static void releaseContext(MemorySegment context) { check("clReleaseContext", () -> (int) RELEASE_CONTEXT.invokeExact(context)); }

    // ---- helpers ------------------------------------------------------------------------------

    /** A {@code clGet*Info} call: {@code (param_value_size, param_value, param_value_size_ret)}. */
    @FunctionalInterface
    private interface InfoCall {
        int invoke(long size, MemorySegment value, MemorySegment sizeRet) throws Throwable;
    }

    /** Queries a string property: first its size, then its bytes (NUL-terminated). */
    private static String string(String name, InfoCall call) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sizeRet = arena.allocate(SIZE_T);
            check(name, () -> call.invoke(0, NULL, sizeRet));
            long size = sizeRet.get(JAVA_LONG, 0);
            if (size == 0) return "";
            MemorySegment value = arena.allocate(size + 1);
            check(name, () -> call.invoke(size, value, NULL));
            return value.getString(0, StandardCharsets.UTF_8).strip();
        }
    }

    private static List<MemorySegment> handles(MemorySegment array, int n) {
        List<MemorySegment> r = new ArrayList<>(n);
        for (int i = 0; i < n; i++) r.add(array.getAtIndex(ADDRESS, i));
        return List.copyOf(r);
    }

    // ---- error names --------------------------------------------------------------------------

    private static final int CL_DEVICE_NOT_FOUND = -1, CL_PLATFORM_NOT_FOUND_KHR = -1001;

    private static final Map<Integer, String> ERROR_NAMES = Map.ofEntries(
            Map.entry(0, "CL_SUCCESS"),
            Map.entry(-1, "CL_DEVICE_NOT_FOUND"),
            Map.entry(-2, "CL_DEVICE_NOT_AVAILABLE"),
            Map.entry(-3, "CL_COMPILER_NOT_AVAILABLE"),
            Map.entry(-4, "CL_MEM_OBJECT_ALLOCATION_FAILURE"),
            Map.entry(-5, "CL_OUT_OF_RESOURCES"),
            Map.entry(-6, "CL_OUT_OF_HOST_MEMORY"),
            Map.entry(-7, "CL_PROFILING_INFO_NOT_AVAILABLE"),
            Map.entry(-8, "CL_MEM_COPY_OVERLAP"),
            Map.entry(-9, "CL_IMAGE_FORMAT_MISMATCH"),
            Map.entry(-10, "CL_IMAGE_FORMAT_NOT_SUPPORTED"),
            Map.entry(-11, "CL_BUILD_PROGRAM_FAILURE"),
            Map.entry(-12, "CL_MAP_FAILURE"),
            Map.entry(-13, "CL_MISALIGNED_SUB_BUFFER_OFFSET"),
            Map.entry(-14, "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST"),
            Map.entry(-15, "CL_COMPILE_PROGRAM_FAILURE"),
            Map.entry(-16, "CL_LINKER_NOT_AVAILABLE"),
            Map.entry(-17, "CL_LINK_PROGRAM_FAILURE"),
            Map.entry(-18, "CL_DEVICE_PARTITION_FAILED"),
            Map.entry(-19, "CL_KERNEL_ARG_INFO_NOT_AVAILABLE"),
            Map.entry(-30, "CL_INVALID_VALUE"),
            Map.entry(-31, "CL_INVALID_DEVICE_TYPE"),
            Map.entry(-32, "CL_INVALID_PLATFORM"),
            Map.entry(-33, "CL_INVALID_DEVICE"),
            Map.entry(-34, "CL_INVALID_CONTEXT"),
            Map.entry(-35, "CL_INVALID_QUEUE_PROPERTIES"),
            Map.entry(-36, "CL_INVALID_COMMAND_QUEUE"),
            Map.entry(-37, "CL_INVALID_HOST_PTR"),
            Map.entry(-38, "CL_INVALID_MEM_OBJECT"),
            Map.entry(-39, "CL_INVALID_IMAGE_FORMAT_DESCRIPTOR"),
            Map.entry(-40, "CL_INVALID_IMAGE_SIZE"),
            Map.entry(-41, "CL_INVALID_SAMPLER"),
            Map.entry(-42, "CL_INVALID_BINARY"),
            Map.entry(-43, "CL_INVALID_BUILD_OPTIONS"),
            Map.entry(-44, "CL_INVALID_PROGRAM"),
            Map.entry(-45, "CL_INVALID_PROGRAM_EXECUTABLE"),
            Map.entry(-46, "CL_INVALID_KERNEL_NAME"),
            Map.entry(-47, "CL_INVALID_KERNEL_DEFINITION"),
            Map.entry(-48, "CL_INVALID_KERNEL"),
            Map.entry(-49, "CL_INVALID_ARG_INDEX"),
            Map.entry(-50, "CL_INVALID_ARG_VALUE"),
            Map.entry(-51, "CL_INVALID_ARG_SIZE"),
            Map.entry(-52, "CL_INVALID_KERNEL_ARGS"),
            Map.entry(-53, "CL_INVALID_WORK_DIMENSION"),
            Map.entry(-54, "CL_INVALID_WORK_GROUP_SIZE"),
            Map.entry(-55, "CL_INVALID_WORK_ITEM_SIZE"),
            Map.entry(-56, "CL_INVALID_GLOBAL_OFFSET"),
            Map.entry(-57, "CL_INVALID_EVENT_WAIT_LIST"),
            Map.entry(-58, "CL_INVALID_EVENT"),
            Map.entry(-59, "CL_INVALID_OPERATION"),
            Map.entry(-60, "CL_INVALID_GL_OBJECT"),
            Map.entry(-61, "CL_INVALID_BUFFER_SIZE"),
            Map.entry(-62, "CL_INVALID_MIP_LEVEL"),
            Map.entry(-63, "CL_INVALID_GLOBAL_WORK_SIZE"),
            Map.entry(-64, "CL_INVALID_PROPERTY"),
            Map.entry(-65, "CL_INVALID_IMAGE_DESCRIPTOR"),
            Map.entry(-66, "CL_INVALID_COMPILER_OPTIONS"),
            Map.entry(-67, "CL_INVALID_LINKER_OPTIONS"),
            Map.entry(-68, "CL_INVALID_DEVICE_PARTITION_COUNT"),
            Map.entry(-69, "CL_INVALID_PIPE_SIZE"),
            Map.entry(-70, "CL_INVALID_DEVICE_QUEUE"),
            Map.entry(-71, "CL_INVALID_SPEC_ID"),
            Map.entry(-72, "CL_MAX_SIZE_RESTRICTION_EXCEEDED"),
            Map.entry(-1001, "CL_PLATFORM_NOT_FOUND_KHR"));

    /** The name of a CL error code, e.g. {@code -54 -> CL_INVALID_WORK_GROUP_SIZE}. */
    public static String errorName(int code) {
        return ERROR_NAMES.getOrDefault(code, "CL_UNKNOWN_ERROR");
    }
}
