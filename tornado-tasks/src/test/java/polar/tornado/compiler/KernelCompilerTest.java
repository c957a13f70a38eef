package polar.tornado.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import polar.tornado.graph.KernelRef;
import polar.tornado.graph.KernelTask;

/** Translations of representative kernels: their shape, their facts, and that device compilers accept them. */
class KernelCompilerTest {
    /** Every kernel of {@link TranslationKernels}; headDots is specialised (headDim = 64). */
    private static final String[] KERNELS = {"scaledAdd", "matmul", "rowSum", "rowMaxWarp", "softmax", "scaleHalf8", "mixedStorage", "headDots", "integers"};

    private static KernelSource translate(String kernel, Dialect dialect) {
        Map<Integer, Integer> constants = kernel.equals("headDots") ? Map.of(3, 64) : Map.of();
        return KernelCompiler.translate(KernelRef.of(TranslationKernels.class, kernel), dialect, constants);
    }

    @Test
    void parallelLoopsBecomeGridStrideLoopsOverXThenY() {
        String cuda = translate("matmul", Dialect.CUDA).code();
        assertTrue(cuda.contains("extern \"C\" __global__ void TranslationKernels_matmul(float* a, int a_size, float* b, int b_size, float* c, int c_size, int m, int n, int k)"), cuda);
        assertTrue(cuda.contains("for (int i = (int) (blockIdx.x * blockDim.x + threadIdx.x); i < m; i += ((int) (gridDim.x * blockDim.x)))"), cuda);
        assertTrue(cuda.contains("for (int j = (int) (blockIdx.y * blockDim.y + threadIdx.y); j < n; j += ((int) (gridDim.y * blockDim.y)))"), cuda);
        String opencl = translate("matmul", Dialect.OPENCL).code();
        assertTrue(opencl.contains("__kernel void TranslationKernels_matmul(__global float* a, int a_size, __global float* b, int b_size, __global float* c, int c_size, int m, int n, int k)"), opencl);
        assertTrue(opencl.contains("for (int i = (int) get_global_id(0); i < m; i += ((int) get_global_size(0)))"), opencl);
        assertTrue(opencl.contains("for (int j = (int) get_global_id(1); j < n; j += ((int) get_global_size(1)))"), opencl);
    }

    @Test
    void specialisedArgumentsBecomeConstantsAndChangeTheEntryName() {
        KernelRef kernel = KernelRef.of(TranslationKernels.class, "headDots");
        KernelSource s64 = KernelCompiler.translate(kernel, Dialect.CUDA, Map.of(3, 64));
        KernelSource s128 = KernelCompiler.translate(kernel, Dialect.CUDA, Map.of(3, 128));
        assertEquals("TranslationKernels_headDots_c3_64", s64.entryName());
        assertEquals("TranslationKernels_headDots_c3_128", s128.entryName());
        assertTrue(s64.code().contains("void TranslationKernels_headDots_c3_64(unsigned short* q, int q_size, unsigned short* k, int k_size, float* out, int out_size) {"), s64.code());
        assertTrue(s64.code().contains("const int headDim = 64;"), s64.code());
        assertTrue(s64.code().contains("__shared__ float partial[64];"), s64.code());
        assertTrue(s128.code().contains("__shared__ float partial[128];"), s128.code());
        assertSame(s64, KernelCompiler.translate(kernel, Dialect.CUDA, Map.of(3, 64)), "translations are cached");
        String opencl = KernelCompiler.translate(kernel, Dialect.OPENCL, Map.of(3, 64)).code();
        assertTrue(opencl.contains("__local float partial[64];"), opencl);
        assertTrue(opencl.contains("vload_half("), opencl);
    }

    @Test
    void deviceFunctionsTakeLocalArraysInTheirAddressSpace() {
        String opencl = translate("softmax", Dialect.OPENCL).code();
        assertTrue(opencl.contains("float fn_TranslationKernels_blockReduce(__local float* scratch, float value, bool max_)"), opencl);
        assertTrue(opencl.contains("float fn_TranslationKernels_localMax(__global float* x, int x_size, int base, int cols)"), opencl);
        String cuda = translate("softmax", Dialect.CUDA).code();
        assertTrue(cuda.contains("static __device__ float fn_TranslationKernels_blockReduce(float* scratch, float value, bool max_)"), cuda);
        assertTrue(cuda.indexOf("fn_TranslationKernels_blockReduce(") < cuda.indexOf("__global__"), "device functions come before the kernel");
    }

    @Test
    void floatMathComputesInFloat() {
        String cuda = translate("softmax", Dialect.CUDA).code();
        assertTrue(cuda.contains("float e = expf(x[base + j] - m);"), cuda);
        assertTrue(cuda.contains("fmaxf(m, x[base + j])"), cuda);
        String integers = translate("integers", Dialect.CUDA).code();
        assertTrue(integers.contains("double d = sqrt((double) bits) + 3.141592653589793;"), "double stays double: " + integers);
        assertTrue(translate("integers", Dialect.OPENCL).code().contains("#pragma OPENCL EXTENSION cl_khr_fp64 : enable"));
        assertTrue(!translate("softmax", Dialect.OPENCL).code().contains("cl_khr_fp64"), "no fp64 unless used");
    }

    @Test
    void staticImportsAndOtherKernelClassesResolve() {
        String cuda = translate("integers", Dialect.CUDA).code();
        assertTrue(cuda.contains("static __device__ int fn_SemanticsKernels_digitSum(int value)"), cuda);
        assertTrue(cuda.contains("fn_SemanticsKernels_digitSum(abs(q)) % 2"), cuda);
        assertTrue(translate("rowMaxWarp", Dialect.CUDA).code().contains("__shared__ float warpMax[8];"));
    }

    @Test
    void warpOperationsUseShufflesOnCudaAndAnEmulationOnOpenCl() {
        String cuda = translate("rowMaxWarp", Dialect.CUDA).code();
        assertTrue(cuda.contains("__shfl_xor_sync(0xffffffffu, v, m)"), cuda);
        assertTrue(cuda.contains("__shfl_sync(0xffffffffu, v, 0)"), cuda);
        String opencl = translate("rowMaxWarp", Dialect.OPENCL).code();
        assertTrue(opencl.contains("__local float polar_warp_scratch[1024];"), opencl);
        assertTrue(opencl.contains("polar_warp_reduce_max(polar_warp_scratch, m)"), opencl);
    }

    @Test
    void analyzeReportsLoopsBarriersWarpsAndLocalMemory() {
        assertEquals(new KernelInfo(1, false, false, 0), info("scaledAdd"));
        assertEquals(new KernelInfo(2, false, false, 0), info("matmul"));
        assertEquals(new KernelInfo(0, true, false, 256 * 4), info("rowSum"));
        assertEquals(new KernelInfo(0, true, true, 8 * 4), info("rowMaxWarp"));
        assertEquals(new KernelInfo(0, true, false, 256 * 4), info("softmax"), "barriers inside device functions count");
        assertEquals(new KernelInfo(1, false, false, 0), info("scaleHalf8"));
    }

    private static KernelInfo info(String kernel) {
        return KernelCompiler.analyze(KernelRef.of(TranslationKernels.class, kernel));
    }

    @Test
    void printReturnsTheTranslation() {
        KernelRef kernel = KernelRef.of(TranslationKernels.class, "scaledAdd");
        assertEquals(KernelCompiler.translate(kernel, Dialect.OPENCL, Map.of()).code(), KernelCompiler.print(kernel, Dialect.OPENCL, Map.of()));
        assertNotEquals(KernelCompiler.print(kernel, Dialect.CUDA, Map.of()), KernelCompiler.print(kernel, Dialect.OPENCL, Map.of()));
    }

    /** Every kernel of TranslationKernels (headDots specialised twice), translated into one unit. */
    private static List<KernelSource> unit(Dialect dialect) {
        List<KernelTask> tasks = new ArrayList<>();
        for (String k : KERNELS) {
            KernelRef kernel = KernelRef.of(TranslationKernels.class, k);
            tasks.add(TestTasks.task(kernel, k.equals("headDots") ? Map.of(3, 64) : Map.of()));
            if (k.equals("headDots")) tasks.add(TestTasks.task(kernel, Map.of(3, 128)));
        }
        tasks.add(tasks.getFirst()); // a repeated kernel gets one entry
        return KernelCompiler.translate(tasks, dialect);
    }

    @Test
    void severalKernelsShareOneUnit() {
        List<KernelSource> sources = unit(Dialect.CUDA);
        assertEquals(KERNELS.length + 1, sources.size());
        String code = sources.getFirst().code();
        for (KernelSource s : sources) {
            assertSame(code, s.code());
            assertEquals(1, count(code, "void " + s.entryName() + "("), s.entryName());
        }
        assertEquals("TranslationKernels_headDots_c3_128", sources.get(KERNELS.length - 1).entryName());
        assertEquals(1, count(code, "float polar_h2f("), "helpers are defined once");
        assertEquals(1, count(code, "float fn_TranslationKernels_blockReduce("), "device functions are defined once");
    }

    private static int count(String text, String part) {
        int n = 0;
        for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) n++;
        return n;
    }

    /** TranslationKernels and SemanticsKernels (run on OpenCL by SemanticsTest) in one unit. */
    private static String everything(Dialect dialect) {
        List<KernelTask> tasks = new ArrayList<>();
        for (String k : KERNELS) tasks.add(TestTasks.task(KernelRef.of(TranslationKernels.class, k), k.equals("headDots") ? Map.of(3, 64) : Map.of()));
        for (String k : new String[] {"integerOps", "floatOps", "storage", "warps"}) tasks.add(TestTasks.task(KernelRef.of(SemanticsKernels.class, k), Map.of()));
        return KernelCompiler.translate(tasks, dialect).getFirst().code();
    }

    @Test
    void cudaTranslationBuildsWithNvcc() throws Exception {
        assumeTrue(DeviceCompilers.hasNvcc(), "nvcc not installed");
        String code = everything(Dialect.CUDA);
        Optional<String> log = DeviceCompilers.buildCuda(code);
        if (log.isPresent()) fail("nvcc rejected the unit:\n" + log.get() + "\n" + code);
    }

    @Test
    void openClTranslationBuilds() throws Throwable {
        assumeTrue(DeviceCompilers.hasOpenCl(), "no OpenCL platform");
        String code = everything(Dialect.OPENCL);
        Optional<String> log = DeviceCompilers.buildOpenCl(code);
        if (log.isPresent()) fail("OpenCL rejected the unit:\n" + log.get() + "\n" + code);
    }
}
