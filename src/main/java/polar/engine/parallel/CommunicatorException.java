package polar.engine.parallel;

/** A collective failed: ranks disagreed, one rank aborted the group, or the wait timed out. */
public final class CommunicatorException extends RuntimeException {
    public CommunicatorException(String message, Throwable cause) {
        super(message, cause);
    }
}
