package polar.runtime.jvm;

/** A kernel threw while running in the JVM; the message names the kernel and, for KernelContext kernels, the work-item. */
public final class KernelFailedException extends RuntimeException {
    KernelFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
