package polar.tornado.compiler;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Optional;
import polar.tornado.types.DeviceArray;

/**
 * Just enough OpenCL, through FFM, to build a translation unit and run its kernels on the first
 * device of the first platform (PoCL in CI): tests compare the results with the same Java kernel
 * run in the JVM. Not a backend: no reuse of buffers, queues or programs.
 */
final class OpenClRunner implements AutoCloseable {
    private static final int CL_SUCCESS = 0;
    private static final long CL_DEVICE_TYPE_ALL = 0xFFFFFFFFL;
    private static final int CL_PROGRAM_BUILD_LOG = 0x1183;
    private static final long CL_MEM_READ_WRITE = 1, CL_MEM_COPY_HOST_PTR = 1 << 5;
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;
    private static final java.lang.foreign.AddressLayout P = ValueLayout.ADDRESS;

    private record Api(MethodHandle getPlatformIds, MethodHandle getDeviceIds, MethodHandle createContext, MethodHandle createQueue,
                       MethodHandle createProgram, MethodHandle build, MethodHandle buildInfo, MethodHandle createKernel,
                       MethodHandle createBuffer, MethodHandle setArg, MethodHandle enqueueKernel, MethodHandle readBuffer,
                       MethodHandle finish, MethodHandle releaseMem, MethodHandle releaseKernel, MethodHandle releaseProgram,
                       MethodHandle releaseQueue, MethodHandle releaseContext) {}

    private static final Optional<Api> API = load();

    private static Optional<Api> load() {
        SymbolLookup lib;
        try {
            lib = SymbolLookup.libraryLookup("libOpenCL.so.1", Arena.global());
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
        Linker linker = Linker.nativeLinker();
        java.util.function.BiFunction<String, FunctionDescriptor, MethodHandle> f = (name, d) -> linker.downcallHandle(lib.find(name).orElseThrow(), d);
        return Optional.of(new Api(
                f.apply("clGetPlatformIDs", FunctionDescriptor.of(I, I, P, P)),
                f.apply("clGetDeviceIDs", FunctionDescriptor.of(I, P, L, I, P, P)),
                f.apply("clCreateContext", FunctionDescriptor.of(P, P, I, P, P, P, P)),
                f.apply("clCreateCommandQueue", FunctionDescriptor.of(P, P, P, L, P)),
                f.apply("clCreateProgramWithSource", FunctionDescriptor.of(P, P, I, P, P, P)),
                f.apply("clBuildProgram", FunctionDescriptor.of(I, P, I, P, P, P, P)),
                f.apply("clGetProgramBuildInfo", FunctionDescriptor.of(I, P, P, I, L, P, P)),
                f.apply("clCreateKernel", FunctionDescriptor.of(P, P, P, P)),
                f.apply("clCreateBuffer", FunctionDescriptor.of(P, P, L, L, P, P)),
                f.apply("clSetKernelArg", FunctionDescriptor.of(I, P, I, L, P)),
                f.apply("clEnqueueNDRangeKernel", FunctionDescriptor.of(I, P, P, I, P, P, P, I, P, P)),
                f.apply("clEnqueueReadBuffer", FunctionDescriptor.of(I, P, P, I, L, L, P, I, P, P)),
                f.apply("clFinish", FunctionDescriptor.of(I, P)),
                f.apply("clReleaseMemObject", FunctionDescriptor.of(I, P)),
                f.apply("clReleaseKernel", FunctionDescriptor.of(I, P)),
                f.apply("clReleaseProgram", FunctionDescriptor.of(I, P)),
                f.apply("clReleaseCommandQueue", FunctionDescriptor.of(I, P)),
                f.apply("clReleaseContext", FunctionDescriptor.of(I, P))));
    }

    /** Whether an OpenCL platform with a device is there. */
    static boolean available() {
        if (API.isEmpty()) return false;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(I);
            int err = (int) API.get().getPlatformIds.invokeExact(0, MemorySegment.NULL, count);
            return err == CL_SUCCESS && count.get(I, 0) > 0;
        } catch (Throwable t) {
            return false;
        }
    }

    private final Api cl = API.orElseThrow();
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment device, context, queue;
    private MemorySegment program = MemorySegment.NULL;

    OpenClRunner() throws Throwable {
        MemorySegment platform = arena.allocate(P);
        check((int) cl.getPlatformIds.invokeExact(1, platform, MemorySegment.NULL), "clGetPlatformIDs");
        MemorySegment devices = arena.allocate(P);
        check((int) cl.getDeviceIds.invokeExact(platform.get(P, 0), CL_DEVICE_TYPE_ALL, 1, devices, MemorySegment.NULL), "clGetDeviceIDs");
        device = devices.get(P, 0);
        MemorySegment err = arena.allocate(I);
        context = (MemorySegment) cl.createContext.invokeExact(MemorySegment.NULL, 1, devices, MemorySegment.NULL, MemorySegment.NULL, err);
        check(err.get(I, 0), "clCreateContext");
        queue = (MemorySegment) cl.createQueue.invokeExact(context, device, 0L, err);
        check(err.get(I, 0), "clCreateCommandQueue");
    }

    /** Builds {@code code} as OpenCL C 1.2 with warnings as errors; the build log if it fails. */
    Optional<String> build(String code) throws Throwable {
        MemorySegment err = arena.allocate(I);
        MemorySegment strings = arena.allocate(P);
        strings.set(P, 0, arena.allocateFrom(code));
        program = (MemorySegment) cl.createProgram.invokeExact(context, 1, strings, MemorySegment.NULL, err);
        check(err.get(I, 0), "clCreateProgramWithSource");
        MemorySegment devices = arena.allocate(P);
        devices.set(P, 0, device);
        int built = (int) cl.build.invokeExact(program, 1, devices, arena.allocateFrom("-cl-std=CL1.2 -Werror"), MemorySegment.NULL, MemorySegment.NULL);
        if (built == CL_SUCCESS) return Optional.empty();
        MemorySegment size = arena.allocate(L);
        check((int) cl.buildInfo.invokeExact(program, device, CL_PROGRAM_BUILD_LOG, 0L, MemorySegment.NULL, size), "clGetProgramBuildInfo");
        MemorySegment log = arena.allocate(Math.max(1, size.get(L, 0)));
        check((int) cl.buildInfo.invokeExact(program, device, CL_PROGRAM_BUILD_LOG, log.byteSize(), log, MemorySegment.NULL), "clGetProgramBuildInfo");
        return Optional.of("clBuildProgram error " + built + ":\n" + log.getString(0));
    }

    /**
     * Runs entry {@code entry} of the built program with the launch ABI of {@link KernelSource}:
     * each array becomes a buffer (copied in, and back out afterwards) followed by its length;
     * Integer and Float arguments pass as themselves.
     */
    void run(String entry, long[] global, long[] local, List<Object> args) throws Throwable {
        MemorySegment err = arena.allocate(I);
        MemorySegment kernel = (MemorySegment) cl.createKernel.invokeExact(program, arena.allocateFrom(entry), err);
        check(err.get(I, 0), "clCreateKernel " + entry);
        MemorySegment[] buffers = new MemorySegment[args.size()];
        try {
            int index = 0;
            for (int a = 0; a < args.size(); a++) {
                switch (args.get(a)) {
                    case DeviceArray array -> {
                        buffers[a] = (MemorySegment) cl.createBuffer.invokeExact(context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                                Math.max(1, array.byteSize()), array.segment(), err);
                        check(err.get(I, 0), "clCreateBuffer");
                        MemorySegment handle = arena.allocate(P);
                        handle.set(P, 0, buffers[a]);
                        check((int) cl.setArg.invokeExact(kernel, index++, P.byteSize(), handle), "clSetKernelArg");
                        check((int) cl.setArg.invokeExact(kernel, index++, 4L, arena.allocateFrom(I, array.getSize())), "clSetKernelArg");
                    }
                    case Integer i -> check((int) cl.setArg.invokeExact(kernel, index++, 4L, arena.allocateFrom(I, i)), "clSetKernelArg");
                    case Float f -> check((int) cl.setArg.invokeExact(kernel, index++, 4L, arena.allocateFrom(ValueLayout.JAVA_FLOAT, f)), "clSetKernelArg");
                    default -> throw new IllegalArgumentException("argument " + args.get(a));
                }
            }
            MemorySegment g = arena.allocateFrom(L, global);
            MemorySegment l = local == null ? MemorySegment.NULL : arena.allocateFrom(L, local);
            check((int) cl.enqueueKernel.invokeExact(queue, kernel, global.length, MemorySegment.NULL, g, l, 0, MemorySegment.NULL, MemorySegment.NULL), "clEnqueueNDRangeKernel");
            for (int a = 0; a < args.size(); a++) {
                if (args.get(a) instanceof DeviceArray array) {
                    check((int) cl.readBuffer.invokeExact(queue, buffers[a], 1, 0L, array.byteSize(), array.segment(), 0, MemorySegment.NULL, MemorySegment.NULL), "clEnqueueReadBuffer");
                }
            }
            check((int) cl.finish.invokeExact(queue), "clFinish");
        } finally {
            for (MemorySegment b : buffers) if (b != null) check((int) cl.releaseMem.invokeExact(b), "clReleaseMemObject");
            check((int) cl.releaseKernel.invokeExact(kernel), "clReleaseKernel");
        }
    }

    @Override
    public void close() throws Exception {
        try {
            if (!program.equals(MemorySegment.NULL)) check((int) cl.releaseProgram.invokeExact(program), "clReleaseProgram");
            check((int) cl.releaseQueue.invokeExact(queue), "clReleaseCommandQueue");
            check((int) cl.releaseContext.invokeExact(context), "clReleaseContext");
        } catch (Exception | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        } finally {
            arena.close();
        }
    }

    private static void check(int err, String call) {
        if (err != CL_SUCCESS) throw new IllegalStateException(call + " failed with OpenCL error " + err);
    }
}
