package polar.runtime.cuda;

/**
 * A failed call into the CUDA driver, NVRTC or cuBLAS. The message names the call (with the
 * arguments that matter) and the library's name for the error, e.g.
 * {@code cuMemAlloc_v2(1099511627776 bytes): CUDA_ERROR_OUT_OF_MEMORY (2)}.
 */
public class CudaException extends RuntimeException {
    private final String call;
    private final int code;
    private final String errorName;

    public CudaException(String call, int code, String errorName) {
        this(call, code, errorName, null);
    }

    /** {@code detail} (a compiler log, say) is appended to the message on its own lines. */
    public CudaException(String call, int code, String errorName, String detail) {
        super(call + ": " + errorName + " (" + code + ")" + (detail == null || detail.isBlank() ? "" : "\n" + detail.strip()));
        this.call = call;
        this.code = code;
        this.errorName = errorName;
    }

    /** A failure that is not a library status, e.g. a library that cannot be loaded. */
    public CudaException(String message, Throwable cause) {
        super(message, cause);
        this.call = "";
        this.code = -1;
        this.errorName = "";
    }

    /** The call that failed, e.g. {@code cuLaunchKernel(Basics_add)}. */
    public String call() { return call; }

    /** The library's status code. */
    public int code() { return code; }

    /** The library's name for the status, e.g. {@code CUDA_ERROR_INVALID_VALUE}. */
    public String errorName() { return errorName; }
}
