package polar.engine;

/** A sequence (for example a prompt) would grow past the engine's context length. */
public final class ContextOverflowException extends IllegalArgumentException {
    public ContextOverflowException(String message) { super(message); }
}
