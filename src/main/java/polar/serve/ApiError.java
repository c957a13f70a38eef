package polar.serve;

/** Every error a client can get, with its HTTP status and the OpenAI-style {@code type} and {@code code}. */
public enum ApiError {
    INVALID_JSON(400, "invalid_request_error", "invalid_json"),
    INVALID_FIELD(400, "invalid_request_error", "invalid_value"),
    UNSUPPORTED_FIELD(400, "invalid_request_error", "unsupported_parameter"),
    CONTEXT_LENGTH_EXCEEDED(400, "invalid_request_error", "context_length_exceeded"),
    /** The request could never fit the KV cache, even alone. */
    EXCEEDS_KV_CACHE(400, "invalid_request_error", "kv_cache_exceeded"),
    UNAUTHORIZED(401, "invalid_request_error", "invalid_api_key"),
    NOT_FOUND(404, "invalid_request_error", "not_found"),
    MODEL_NOT_FOUND(404, "invalid_request_error", "model_not_found"),
    METHOD_NOT_ALLOWED(405, "invalid_request_error", "method_not_allowed"),
    BODY_TOO_LARGE(413, "invalid_request_error", "request_too_large"),
    QUEUE_FULL(429, "rate_limit_error", "queue_full"),
    INTERNAL(500, "server_error", "internal_error"),
    SHUTTING_DOWN(503, "server_error", "shutting_down");

    public final int status;
    public final String type;
    public final String code;

    ApiError(int status, String type, String code) {
        this.status = status;
        this.type = type;
        this.code = code;
    }

    public ServeException with(String message) { return new ServeException(this, message); }

    /** An error that reaches the client as {@code {"error":{"message":..,"type":..,"code":..}}}. */
    public static final class ServeException extends RuntimeException {
        public final ApiError error;

        public ServeException(ApiError error, String message) {
            super(message);
            this.error = error;
        }
    }
}
