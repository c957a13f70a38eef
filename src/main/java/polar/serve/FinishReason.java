package polar.serve;

/** Why a generation ended, with the OpenAI API's {@code finish_reason} string. */
public enum FinishReason {
    /** An end-of-sequence token or a stop sequence. */
    STOP("stop"),
    /** {@code max_tokens} reached (or the context is full). */
    LENGTH("length");

    public final String apiName;

    FinishReason(String apiName) { this.apiName = apiName; }
}
