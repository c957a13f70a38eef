package polar.tornado.compiler;

/**
 * An outermost {@code @Parallel} loop of a kernel: its variable and the source line of its
 * {@code for}. The JVM backend uses it to find the loop in the kernel's bytecode and split it
 * over the cores.
 */
public record ParallelLoop(String variable, long line) {}
