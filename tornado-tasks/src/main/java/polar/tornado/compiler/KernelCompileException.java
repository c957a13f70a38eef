package polar.tornado.compiler;

/** A kernel uses Java outside the supported subset; the message names the source file and line. */
public final class KernelCompileException extends RuntimeException {
    private final String file;
    private final long line;

    public KernelCompileException(String file, long line, String message) {
        super(file + ":" + line + ": " + message);
        this.file = file;
        this.line = line;
    }

    public String file() { return file; }

    public long line() { return line; }
}
