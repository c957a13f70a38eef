package polar.tornado.compiler;

import java.util.Map;
import polar.tornado.graph.KernelRef;

/**
 * Translates a kernel's Java source (the subset in {@code docs/kernels.md}) to CUDA C or OpenCL C.
 * PLACEHOLDER SIGNATURES: the implementation is being written.
 */
public final class KernelCompiler {
    private KernelCompiler() {}

    /**
     * Translates {@code kernel} for {@code dialect}.
     *
     * @param constants values of specialised arguments, by argument index (context excluded)
     * @throws KernelCompileException naming the Java file and line of an unsupported construct
     */
    public static KernelSource translate(KernelRef kernel, Dialect dialect, Map<Integer, Integer> constants) {
        throw new UnsupportedOperationException("kernel compiler not yet implemented");
    }

    /** Facts about the kernel's body (cached). */
    public static KernelInfo analyze(KernelRef kernel) {
        throw new UnsupportedOperationException("kernel compiler not yet implemented");
    }
}
