package polar.cli;

/** The command line is wrong: reported as one line, exit code 2. */
public final class UsageException extends RuntimeException {
    public UsageException(String message) { super(message); }
}
