package polar.serve;

/**
 * A finished generation.
 *
 * @param text             the output text (without the stop sequence that ended it)
 * @param tokens           every generated token, including a final EOS or stop token
 * @param promptTokens     prompt length in tokens
 * @param timeToFirstToken nanoseconds from submission to the first generated token
 * @param elapsed          nanoseconds from submission to the end
 */
public record Completion(String text, int[] tokens, FinishReason finishReason, int promptTokens,
                         long timeToFirstToken, long elapsed) {

    public int completionTokens() { return tokens.length; }

    public int totalTokens() { return promptTokens + tokens.length; }
}
