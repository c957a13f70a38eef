package polar.runtime.nccl;

/**
 * NCCL could not be used: a call returned an error (the message names the call, NCCL's text for the
 * result and, where NCCL has one, its last error message), the library is absent, or the
 * environment is unsafe (NVLink multicast not switched off).
 */
public final class NcclException extends RuntimeException {
    private final int result;

    NcclException(String call, int result, String detail) {
        super(call + ": " + detail + " (ncclResult_t " + result + ")");
        this.result = result;
    }

    NcclException(String message, Throwable cause) {
        super(message, cause);
        this.result = -1;
    }

    /** NCCL's {@code ncclResult_t}, or -1 when no call failed. */
    public int result() { return result; }
}
