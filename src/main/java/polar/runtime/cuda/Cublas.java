package polar.runtime.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Optional;
import polar.tornado.types.ElementType;

/**
 * cuBLAS ({@code libcublas.so.13}, else {@code .12}) through FFM: one handle bound to a stream
 * with its own workspace (so that its calls can be captured into a CUDA graph) and
 * {@code cublasGemmEx} with float32 accumulation. Matrices are column-major, as cuBLAS sees them.
 */
public final class Cublas implements AutoCloseable {
    public static final String[] LIBRARIES = {"libcublas.so.13", "libcublas.so.12"};

    public static final int OP_N = 0, OP_T = 1;
    /** {@code CUBLAS_COMPUTE_32F}. */
    public static final int COMPUTE_32F = 68;
    /** {@code CUBLAS_GEMM_DEFAULT}. */
    private static final int GEMM_DEFAULT = -1;
    /** {@code CUBLAS_DEFAULT_MATH}: tensor cores for float16/bfloat16 inputs, true float32 for float32 inputs. */
    private static final int DEFAULT_MATH = 0;

    /** {@code cudaDataType} of an element type, for GemmEx. */
    public static int dataType(ElementType<?> type) {
        if (type == ElementType.F32) return 0;   // CUDA_R_32F
        if (type == ElementType.F16) return 2;   // CUDA_R_16F
        if (type == ElementType.BF16) return 14; // CUDA_R_16BF
        throw new IllegalArgumentException("cuBLAS GEMM takes f32, f16 or bf16 matrices, not " + type);
    }

    private static final Object LOCK = new Object();
    private static volatile Functions functions;

    /** The library's entry points, bound once per process. */
    private record Functions(MethodHandle create, MethodHandle destroy, MethodHandle setStream, MethodHandle setWorkspace,
                             MethodHandle setMathMode, MethodHandle gemmEx, Optional<MethodHandle> statusName, String library) {}

    private final Functions f;
    private final MemorySegment handle;
    private final Arena arena = Arena.ofShared();

    private Cublas(Functions f, MemorySegment handle) {
        this.f = f;
        this.handle = handle;
    }

    private static Functions functions() {
        Functions fs = functions;
        if (fs != null) return fs;
        synchronized (LOCK) {
            if (functions == null) {
                NativeLibrary lib = NativeLibrary.open(LIBRARIES);
                functions = new Functions(
                        lib.function("cublasCreate_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                        lib.function("cublasDestroy_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                        lib.function("cublasSetStream_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS)),
                        lib.function("cublasSetWorkspace_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG)),
                        lib.function("cublasSetMathMode", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT)),
                        lib.function("cublasGemmEx", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT,
                                JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT,
                                ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT)),
                        lib.optionalFunction("cublasGetStatusName", FunctionDescriptor.of(ADDRESS, JAVA_INT)),
                        lib.name());
            }
            return functions;
        }
    }

    /**
     * A handle whose work goes on {@code stream} and uses the {@code workspaceBytes} of device
     * memory at {@code workspace} (a graph capture cannot allocate). The current context must be set.
     */
    public static Cublas create(MemorySegment stream, long workspace, long workspaceBytes) {
        Functions f = functions();
        MemorySegment handle;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check(f, (int) f.create.invokeExact(out), "cublasCreate_v2");
            handle = out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        Cublas cublas = new Cublas(f, handle);
        try {
            check(f, (int) f.setStream.invokeExact(handle, stream), "cublasSetStream_v2");
            check(f, (int) f.setWorkspace.invokeExact(handle, workspace, workspaceBytes), "cublasSetWorkspace_v2(" + workspaceBytes + " bytes)");
            check(f, (int) f.setMathMode.invokeExact(handle, DEFAULT_MATH), "cublasSetMathMode");
        } catch (Throwable t) {
            cublas.close();
            throw NativeLibrary.rethrow(t);
        }
        return cublas;
    }

    public String library() { return f.library; }

    /** A float scalar (alpha, beta) in native memory that lives as long as this handle; cuBLAS reads it at enqueue. */
    public MemorySegment scalar(float value) {
        MemorySegment s = arena.allocate(JAVA_FLOAT);
        s.set(JAVA_FLOAT, 0, value);
        return s;
    }

    /**
     * {@code cublasGemmEx}, column-major: {@code C = alpha * op(A) * op(B) + beta * C} with
     * {@code op(A)} m x k, {@code op(B)} k x n, C m x n; pointers are device addresses and
     * alpha/beta host floats (compute type 32F). {@code what} labels an error.
     */
    public void gemmEx(int transA, int transB, int m, int n, int k, MemorySegment alpha,
                       long a, int aType, int lda, long b, int bType, int ldb, MemorySegment beta,
                       long c, int cType, int ldc, String what) {
        int rc;
        try {
            rc = (int) f.gemmEx.invokeExact(handle, transA, transB, m, n, k, alpha, a, aType, lda, b, bType, ldb, beta, c, cType, ldc,
                    COMPUTE_32F, GEMM_DEFAULT);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != 0) {
            check(f, rc, "cublasGemmEx(" + what + ": " + (transA == OP_T ? "T" : "N") + (transB == OP_T ? "T" : "N")
                    + " m=" + m + " n=" + n + " k=" + k + " lda=" + lda + " ldb=" + ldb + " ldc=" + ldc
                    + " types " + aType + "/" + bType + "->" + cType + ")");
        }
    }

    @Override
    public void close() {
        try {
            check(f, (int) f.destroy.invokeExact(handle), "cublasDestroy_v2");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        } finally {
            arena.close();
        }
    }

    private static void check(Functions f, int status, String call) {
        if (status != 0) throw new CudaException(call, status, statusName(f, status));
    }

    private static String statusName(Functions f, int status) {
        if (f.statusName.isPresent()) {
            try {
                return NativeLibrary.string((MemorySegment) f.statusName.get().invokeExact(status), "cublasStatus " + status);
            } catch (Throwable t) {
                throw NativeLibrary.rethrow(t);
            }
        }
        return switch (status) {
            case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
            case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
            case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
            case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
            default -> "cublasStatus " + status;
        };
    }
}
