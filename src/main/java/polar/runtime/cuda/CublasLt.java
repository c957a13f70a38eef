package polar.runtime.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * cuBLASLt ({@code libcublasLt.so.13}, else {@code .12}) through FFM: column-major
 * {@code D = alpha * op(A) * op(B) + beta * C} with float32 compute and scale, where the algorithm
 * is chosen by the caller from the library's heuristic candidates ({@link Matmul#candidates}).
 * cuBLAS's own {@code cublasGemmEx} always runs the first candidate; {@link CudaBackend} times a few
 * on the step's real operands and keeps the fastest, which for decode-shaped GEMMs (a few to a few
 * hundred rows against a 7B model's weights) is often a different tile or split-K.
 *
 * <p>Descriptors live as long as their {@link Matmul}; calls go on the stream given, with the
 * workspace given (so they can be captured into a CUDA graph).
 */
final class CublasLt implements AutoCloseable {
    static final String[] LIBRARIES = {"libcublasLt.so.13", "libcublasLt.so.12"};

    private static final int DESC_TRANSA = 3, DESC_TRANSB = 4;
    private static final int PREF_MAX_WORKSPACE_BYTES = 1;
    /** {@code CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES}; B, C and D follow. */
    private static final int PREF_MIN_ALIGNMENT_A_BYTES = 5;
    /** {@code cublasLtMatmulAlgo_t}: 8 x uint64. */
    static final long ALGO_BYTES = 64;
    /** {@code cublasLtMatmulHeuristicResult_t}: algo, size_t workspaceSize, status, float wavesCount, int[4]. */
    private static final long RESULT_BYTES = ALGO_BYTES + 8 + 4 + 4 + 16;
    private static final int CUDA_R_32F = 0;

    private static final Object LOCK = new Object();
    private static volatile Functions functions;

    private record Functions(MethodHandle create, MethodHandle destroy, MethodHandle descCreate, MethodHandle descSet, MethodHandle descDestroy,
                             MethodHandle layoutCreate, MethodHandle layoutDestroy, MethodHandle prefCreate, MethodHandle prefSet,
                             MethodHandle prefDestroy, MethodHandle heuristic, MethodHandle matmul) {}

    private final Functions f;
    private final MemorySegment handle;

    private CublasLt(Functions f, MemorySegment handle) {
        this.f = f;
        this.handle = handle;
    }

    /** Whether the library loads here (its absence only means GEMMs stay on {@code cublasGemmEx}). */
    static boolean available() {
        try {
            functions();
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static Functions functions() {
        Functions fs = functions;
        if (fs != null) return fs;
        synchronized (LOCK) {
            if (functions == null) {
                NativeLibrary lib = NativeLibrary.open(LIBRARIES);
                functions = new Functions(
                        lib.function("cublasLtCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                        lib.function("cublasLtDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                        lib.function("cublasLtMatmulDescCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT)),
                        lib.function("cublasLtMatmulDescSetAttribute", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG)),
                        lib.function("cublasLtMatmulDescDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                        lib.function("cublasLtMatrixLayoutCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG)),
                        lib.function("cublasLtMatrixLayoutDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                        lib.function("cublasLtMatmulPreferenceCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                        lib.function("cublasLtMatmulPreferenceSetAttribute", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG)),
                        lib.function("cublasLtMatmulPreferenceDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                        lib.function("cublasLtMatmulAlgoGetHeuristic", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                                ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS)),
                        lib.function("cublasLtMatmul", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG,
                                ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS)));
            }
            return functions;
        }
    }

    static CublasLt create() {
        Functions f = functions();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check((int) f.create.invokeExact(out), "cublasLtCreate");
            return new CublasLt(f, out.get(ADDRESS, 0));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /**
     * The descriptors of one GEMM shape: {@code op(A) m x k}, {@code op(B) k x n}, C and D {@code m x n}
     * (column-major, leading dimensions as given), types as {@link Cublas#dataType}; {@code align*}
     * are the byte alignments of the pointers it will run on (candidates are filtered by them).
     */
    Matmul matmul(int transA, int transB, int m, int n, int k, int aType, int lda, int bType, int ldb, int cType, int ldc,
                  int alignA, int alignB, int alignC, long workspaceBytes) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment desc = create(arena, out -> (int) f.descCreate.invokeExact(out, Cublas.COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
            Matmul mm = new Matmul(arena, desc);
            setInt(arena, f.descSet, desc, DESC_TRANSA, transA, "TRANSA");
            setInt(arena, f.descSet, desc, DESC_TRANSB, transB, "TRANSB");
            mm.a = layout(arena, aType, transA == Cublas.OP_N ? m : k, transA == Cublas.OP_N ? k : m, lda);
            mm.b = layout(arena, bType, transB == Cublas.OP_N ? k : n, transB == Cublas.OP_N ? n : k, ldb);
            mm.c = layout(arena, cType, m, n, ldc);
            mm.pref = create(arena, out -> (int) f.prefCreate.invokeExact(out), "cublasLtMatmulPreferenceCreate");
            MemorySegment ws = arena.allocate(JAVA_LONG);
            ws.set(JAVA_LONG, 0, workspaceBytes);
            check((int) f.prefSet.invokeExact(mm.pref, PREF_MAX_WORKSPACE_BYTES, ws, 8L), "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)");
            int[] aligns = {alignA, alignB, alignC, alignC};
            for (int i = 0; i < 4; i++) setInt(arena, f.prefSet, mm.pref, PREF_MIN_ALIGNMENT_A_BYTES + i, aligns[i], "MIN_ALIGNMENT");
            return mm;
        } catch (Throwable t) {
            arena.close();
            throw NativeLibrary.rethrow(t);
        }
    }

    private interface Creator {
        int call(MemorySegment out) throws Throwable;
    }

    private static MemorySegment create(Arena arena, Creator creator, String what) throws Throwable {
        MemorySegment out = arena.allocate(ADDRESS);
        check(creator.call(out), what);
        return out.get(ADDRESS, 0);
    }

    private MemorySegment layout(Arena arena, int type, long rows, long cols, long ld) throws Throwable {
        return create(arena, out -> (int) f.layoutCreate.invokeExact(out, type, rows, cols, ld), "cublasLtMatrixLayoutCreate");
    }

    private static void setInt(Arena arena, MethodHandle setter, MemorySegment target, int attribute, int value, String what) throws Throwable {
        MemorySegment v = arena.allocate(JAVA_INT);
        v.set(JAVA_INT, 0, value);
        check((int) setter.invokeExact(target, attribute, v, 4L), "cublasLt set attribute " + what);
    }

    /** One GEMM shape's descriptors and the algorithm chosen for it. */
    final class Matmul implements AutoCloseable {
        private final Arena arena;
        private final MemorySegment desc;
        private MemorySegment a, b, c, pref;

        private Matmul(Arena arena, MemorySegment desc) {
            this.arena = arena;
            this.desc = desc;
        }

        /** Up to {@code count} algorithms the heuristic offers, best guess first, each with the workspace it needs (within the preference's limit). */
        List<MemorySegment> candidates(int count) {
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment results = tmp.allocate(RESULT_BYTES * count, 16);
                MemorySegment returned = tmp.allocate(JAVA_INT);
                int rc = (int) f.heuristic.invokeExact(handle, desc, a, b, c, c, pref, count, results, returned);
                if (rc != 0) return List.of(); // no heuristic for this configuration: the caller keeps cublasGemmEx
                List<MemorySegment> algos = new ArrayList<>();
                for (int i = 0; i < returned.get(JAVA_INT, 0); i++) {
                    MemorySegment r = results.asSlice(RESULT_BYTES * i, RESULT_BYTES);
                    if (r.get(JAVA_INT, ALGO_BYTES + 8) != 0) continue; // this candidate's state is not SUCCESS
                    MemorySegment algo = arena.allocate(ALGO_BYTES, 8);
                    algo.copyFrom(r.asSlice(0, ALGO_BYTES));
                    algos.add(algo);
                }
                return algos;
            } catch (Throwable t) {
                throw NativeLibrary.rethrow(t);
            }
        }

        /** A float scalar (alpha, beta) in native memory that lives as long as these descriptors. */
        MemorySegment scalar(float value) {
            MemorySegment s = arena.allocate(JAVA_FLOAT);
            s.set(JAVA_FLOAT, 0, value);
            return s;
        }

        /** Enqueues {@code D = alpha op(A) op(B) + beta C} with {@code algo}; returns the cuBLAS status (0: success). */
        int run(MemorySegment algo, MemorySegment alpha, long aPtr, long bPtr, MemorySegment beta, long cPtr, long dPtr,
                long workspace, long workspaceBytes, MemorySegment stream) {
            try {
                return (int) f.matmul.invokeExact(handle, desc, alpha, aPtr, a, bPtr, b, beta, cPtr, c, dPtr, c, algo, workspace, workspaceBytes, stream);
            } catch (Throwable t) {
                throw NativeLibrary.rethrow(t);
            }
        }

        @Override
        public void close() {
            try {
                if (pref != null) check((int) f.prefDestroy.invokeExact(pref), "cublasLtMatmulPreferenceDestroy");
                for (MemorySegment l : new MemorySegment[] {a, b, c}) if (l != null) check((int) f.layoutDestroy.invokeExact(l), "cublasLtMatrixLayoutDestroy");
                check((int) f.descDestroy.invokeExact(desc), "cublasLtMatmulDescDestroy");
            } catch (Throwable t) {
                throw NativeLibrary.rethrow(t);
            } finally {
                arena.close();
            }
        }
    }

    @Override
    public void close() {
        try {
            check((int) f.destroy.invokeExact(handle), "cublasLtDestroy");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    static void check(int status, String call) {
        if (status != 0) throw new CudaException(call, status, "cublasStatus " + status);
    }
}
