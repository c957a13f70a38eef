package polar.runtime.opencl;

/** An OpenCL call failed: the message names the call and the error, e.g. {@code clBuildProgram: CL_BUILD_PROGRAM_FAILURE (-11)}. */
public final class OpenClException extends RuntimeException {
    private final String call;
    private final int code;

    public OpenClException(String call, int code, String detail) {
        super(call + ": " + OpenCl.errorName(code) + " (" + code + ")" + (detail == null || detail.isEmpty() ? "" : "\n" + detail));
        this.call = call;
        this.code = code;
    }

    public OpenClException(String message, Throwable cause) {
        super(message, cause);
        this.call = null;
        this.code = 0;
    }

    /** The OpenCL function that failed, e.g. {@code clEnqueueNDRangeKernel}. */
    public String call() { return call; }

    /** The CL error code (negative), 0 when the failure was not a CL error. */
    public int code() { return code; }
}
