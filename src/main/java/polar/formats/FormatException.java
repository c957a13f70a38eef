package polar.formats;

/** Bad input in a model, tokenizer or config file; the message names the file and the tensor or field. */
public class FormatException extends RuntimeException {
    public FormatException(String message) { super(message); }

    public FormatException(String message, Throwable cause) { super(message, cause); }
}
