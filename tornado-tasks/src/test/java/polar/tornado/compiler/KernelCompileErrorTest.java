package polar.tornado.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import polar.tornado.graph.KernelRef;

/** Constructs outside the kernel subset fail with an error naming the Java file and the exact line. */
class KernelCompileErrorTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            objectAllocation          | object allocation is not supported in kernels: new java.util.Random(i)
            arrayOfVariableSize       | object allocation is not supported in kernels: private arrays need a positive compile-time constant size
            recursion                 | recursion is not supported in kernels: UnsupportedKernels.factorial calls itself
            mutualRecursion           | recursion is not supported in kernels: UnsupportedKernels.isEven
            throwing                  | exceptions are not supported in kernels (throw)
            catching                  | exceptions are not supported in kernels (try/catch)
            virtualCall               | instance method calls are not supported in kernels: regs.hashCode()
            bufferMethod              | instance method FloatArray.fill is not supported in kernels
            localMemoryOfVariableSize | local memory size must be a compile-time constant
            localMemoryInLoop         | allocate local arrays at the top level of the kernel body
            localMemoryInHelper       | local arrays must be allocated in the kernel method itself
            strings                   | strings are not supported in kernels
            lambdas                   | type Runnable is not supported in kernels
            fieldWrite                | field writes are not supported in kernels
            fieldRead                 | field UnsupportedKernels.counter is not a static final constant
            arrayConstant             | field UnsupportedKernels.TABLE is not a primitive constant
            returnInParallelLoop      | return inside a @Parallel loop would end the whole kernel
            breakInParallelLoop       | break out of a @Parallel loop is not supported
            parallelStep              | a @Parallel loop has the form for (@Parallel int i = start; i < bound; i++)
            fourParallelLoops         | at most 3 nested @Parallel loops are supported
            unknownMethod             | Math.ulp is not supported in kernels
            libraryCall               | Objects.hash is not supported in kernels
            objectVariable            | type Object is not supported in kernels
            synchronizedBlock         | synchronized is not supported in kernels
            objectParameter           | type Object is not supported in kernels
            barrierAfterEarlyReturn   | barrier under a condition that differs between work-items of the group
            barrierInBranch           | barrier under a condition that differs between work-items of the group
            barrierInDivergentLoop    | barrier under a condition that differs between work-items of the group
            barrierAfterDivergentContinue | barrier under a condition that differs between work-items of the group
            helperBarrierInBranch     | call of UnsupportedKernels.sync (which has barriers) under a condition that differs
            warpOpInLaneBranch        | warp operation under a condition that differs between lanes
            warpOpInTernary           | warp operation under a condition that differs between lanes
            """)
    void namesFileAndLine(String kernel, String message) throws IOException {
        for (Dialect dialect : Dialect.values()) {
            KernelCompileException e = assertThrows(KernelCompileException.class,
                    () -> KernelCompiler.translate(KernelRef.of(UnsupportedKernels.class, kernel), dialect, Map.of()));
            assertEquals("UnsupportedKernels.java", e.file());
            assertEquals(markedLine(kernel), e.line(), e.getMessage());
            assertTrue(e.getMessage().startsWith("UnsupportedKernels.java:" + e.line() + ": "), e.getMessage());
            assertTrue(e.getMessage().contains(message), e.getMessage());
        }
    }

    @Test
    void warpOperationsUnderWarpUniformConditionsAreCudaOnly() throws IOException {
        KernelRef kernel = KernelRef.of(UnsupportedKernels.class, "warpOpInWarpBranch");
        assertTrue(KernelCompiler.translate(kernel, Dialect.CUDA, Map.of()).code().contains("polar_warp_reduce_max("));
        KernelCompileException e = assertThrows(KernelCompileException.class, () -> KernelCompiler.translate(kernel, Dialect.OPENCL, Map.of()));
        assertEquals(markedLine("warpOpInWarpBranch"), e.line());
        assertTrue(e.getMessage().contains("OpenCL emulates warp operations with group barriers"), e.getMessage());
    }

    @Test
    void barriersUnderUniformConditionsAreAccepted() {
        KernelRef kernel = KernelRef.of(UnsupportedKernels.class, "uniformConditions");
        for (Dialect d : Dialect.values()) assertTrue(KernelCompiler.translate(kernel, d, Map.of()).code().contains("shared[0]"));
    }

    @Test
    void analyzeReportsTheSameErrors() {
        KernelCompileException e = assertThrows(KernelCompileException.class,
                () -> KernelCompiler.analyze(KernelRef.of(UnsupportedKernels.class, "recursion")));
        assertTrue(e.getMessage().contains("recursion"), e.getMessage());
    }

    @Test
    void localMemorySizedBySpecialisedParameterIsAccepted() {
        KernelRef kernel = KernelRef.of(UnsupportedKernels.class, "localMemoryOfVariableSize");
        String cuda = KernelCompiler.translate(kernel, Dialect.CUDA, Map.of(1, 128)).code();
        assertTrue(cuda.contains("__shared__ float shared[128];"), cuda);
        assertEquals(4, KernelCompiler.analyze(kernel).localMemoryBytes(), "sized at specialisation: one element before");
        assertEquals(128 * 4, KernelCompiler.analyze(kernel, Map.of(1, 128)).localMemoryBytes());
    }

    @Test
    void rejectsSpecialisingAnArgumentThatIsNotInt() {
        KernelRef kernel = KernelRef.of(UnsupportedKernels.class, "localMemoryOfVariableSize");
        assertThrows(IllegalArgumentException.class, () -> KernelCompiler.translate(kernel, Dialect.CUDA, Map.of(0, 1)));
        assertThrows(IllegalArgumentException.class, () -> KernelCompiler.translate(kernel, Dialect.CUDA, Map.of(2, 1)));
    }

    /** The 1-based line of UnsupportedKernels.java that ends with {@code // error: <kernel>}. */
    private static long markedLine(String kernel) throws IOException {
        try (InputStream in = UnsupportedKernels.class.getResourceAsStream("UnsupportedKernels.java")) {
            List<String> lines = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
            for (int i = 0; i < lines.size(); i++) {
                if (lines.get(i).endsWith("// error: " + kernel)) return i + 1;
            }
        }
        throw new AssertionError("no line marked // error: " + kernel);
    }
}
