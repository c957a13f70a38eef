package polar.serve;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.logging.Level;
import java.util.logging.Logger;
import polar.formats.FormatException;
import polar.formats.Json;
import polar.serve.ApiError.ServeException;

/**
 * The OpenAI-compatible HTTP server over a {@link Scheduler}, on the JDK's {@code com.sun.net.httpserver}, one
 * virtual thread per exchange.
 *
 * <p>Routes: {@code POST /v1/completions}, {@code POST /v1/chat/completions} (both with {@code stream: true} as
 * server-sent events ending with {@code data: [DONE]}), {@code GET /v1/models}, {@code GET /health},
 * {@code GET /metrics} (Prometheus text). With an API key, the {@code /v1/} routes need
 * {@code Authorization: Bearer KEY}; {@code /health} and {@code /metrics} stay open for probes and scrapers.
 *
 * <p>A streaming client that goes away is noticed on the next write; its generation is cancelled, which frees its
 * sequence and KV blocks at the scheduler's next step. A non-streaming client that goes away is only noticed when
 * its response is written.
 */
public final class Server implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Server.class.getName());
    /** A body over the limit is read and dropped up to this many bytes (so the client sees the 413), then the connection closes. */
    private static final long DRAIN_LIMIT = 64L << 20;
    private static final String SSE_DONE = "data: [DONE]\n\n";
    /** Keep-alive connections the JDK server keeps idle (its default, 200, is below the clients of a load test). */
    private static final String MAX_IDLE_CONNECTIONS = "sun.net.httpserver.maxIdleConnections";

    static {
        // Beyond the limit the JDK server closes a connection as its response ends, and a client that sends its next
        // request on it at that moment fails ("header parser received no bytes"). Read once, when the first server starts.
        if (System.getProperty(MAX_IDLE_CONNECTIONS) == null) System.setProperty(MAX_IDLE_CONNECTIONS, "65536");
    }

    /**
     * @param host         address to bind (127.0.0.1 unless told otherwise)
     * @param port         port (0 for any free one)
     * @param apiKey       required bearer token for {@code /v1/} routes, or null
     * @param maxBodyBytes largest request body; larger ones get 413
     */
    public record Config(String host, int port, String apiKey, int maxBodyBytes) {
        public static final String DEFAULT_HOST = "127.0.0.1";
        public static final int DEFAULT_PORT = 8080;
        public static final int DEFAULT_MAX_BODY = 4 << 20;

        public static Config defaults() { return new Config(DEFAULT_HOST, DEFAULT_PORT, null, DEFAULT_MAX_BODY); }

        public Config withPort(int p) { return new Config(host, p, apiKey, maxBodyBytes); }

        public Config withApiKey(String key) { return new Config(host, port, key, maxBodyBytes); }

        public Config withMaxBodyBytes(int n) { return new Config(host, port, apiKey, n); }
    }

    @FunctionalInterface
    private interface Handler {
        void handle(HttpExchange exchange) throws IOException;
    }

    private record Route(String method, Handler handler) {}

    private final Scheduler scheduler;
    private final BatchModel model;
    private final Config config;
    private final ChatTemplate chatTemplate;
    private final Metrics metrics;
    private final HttpServer http;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final Map<String, Route> routes = new LinkedHashMap<>();
    private final String idPrefix = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    private final long startedEpochSeconds = System.currentTimeMillis() / 1000;

    private Server(Scheduler scheduler, Config config) throws IOException {
        this.scheduler = scheduler;
        this.model = scheduler.model();
        this.config = config;
        this.metrics = scheduler.metrics();
        this.chatTemplate = ChatTemplate.recognise(model.chatTemplate());
        if (model.chatTemplate() != null && chatTemplate == ChatTemplate.PLAIN)
            LOG.warning("the model's chat_template is not a Llama 3 or ChatML template; chat uses the plain template (see ChatTemplate.PLAIN)");
        routes.put("/v1/completions", new Route("POST", ex -> generate(ex, false)));
        routes.put("/v1/chat/completions", new Route("POST", ex -> generate(ex, true)));
        routes.put("/v1/models", new Route("GET", this::models));
        routes.put("/health", new Route("GET", this::health));
        routes.put("/metrics", new Route("GET", this::metrics));
        // A deep accept queue: hundreds of clients connecting at once must not see dropped SYNs (1 s retries).
        this.http = HttpServer.create(new InetSocketAddress(config.host(), config.port()), 1024);
        http.createContext("/", this::dispatch);
        http.setExecutor(executor);
    }

    /** Binds and starts serving. */
    public static Server start(Scheduler scheduler, Config config) throws IOException {
        Server server = new Server(scheduler, config);
        server.http.start();
        return server;
    }

    public InetSocketAddress address() { return http.getAddress(); }

    /** {@code http://host:port} of the running server. */
    public URI baseUri() {
        InetSocketAddress a = address();
        return URI.create("http://" + a.getHostString() + ":" + a.getPort());
    }

    public ChatTemplate chatTemplate() { return chatTemplate; }

    /**
     * Graceful shutdown: new requests get 503 at once; queued and running ones get {@code grace} to finish (then
     * fail with 503 / an error event); the model is released; then the listener closes.
     */
    public void shutdown(Duration grace) {
        scheduler.shutdown(grace);
        try {
            if (!scheduler.awaitTermination(grace.plusSeconds(10))) LOG.warning("the scheduler did not end in time");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        http.stop(1); // lets handlers write the responses of the requests that just ended
        executor.shutdownNow();
    }

    @Override
    public void close() { shutdown(Duration.ZERO); }

    // ---- routing ----

    private void dispatch(HttpExchange ex) {
        try (ex) {
            try {
                String path = ex.getRequestURI().getPath();
                Route route = routes.get(path);
                if (route == null) throw ApiError.NOT_FOUND.with("no route " + ex.getRequestMethod() + " " + path);
                if (!route.method().equals(ex.getRequestMethod())) {
                    ex.getResponseHeaders().set("Allow", route.method());
                    throw ApiError.METHOD_NOT_ALLOWED.with(path + " takes " + route.method() + ", not " + ex.getRequestMethod());
                }
                if (path.startsWith("/v1/") && !authorized(ex)) {
                    ex.getResponseHeaders().set("WWW-Authenticate", "Bearer");
                    throw ApiError.UNAUTHORIZED.with("missing or wrong API key (send 'Authorization: Bearer KEY')");
                }
                route.handler().handle(ex);
            } catch (ServeException e) {
                sendError(ex, e);
            } catch (FormatException e) {
                sendError(ex, ApiError.INVALID_FIELD.with(e.getMessage()));
            } catch (IllegalArgumentException e) {
                sendError(ex, ApiError.INVALID_FIELD.with("request body: " + e.getMessage()));
            } catch (IOException e) {
                LOG.log(Level.FINE, "client connection failed", e);
            } catch (RuntimeException e) {
                LOG.log(Level.SEVERE, "request failed", e);
                sendError(ex, ApiError.INTERNAL.with("internal error: " + e));
            }
        }
    }

    private boolean authorized(HttpExchange ex) {
        if (config.apiKey() == null) return true;
        String header = ex.getRequestHeaders().getFirst("Authorization");
        byte[] expected = ("Bearer " + config.apiKey()).getBytes(StandardCharsets.UTF_8);
        return header != null && MessageDigest.isEqual(header.getBytes(StandardCharsets.UTF_8), expected);
    }

    // ---- routes ----

    private void generate(HttpExchange ex, boolean chat) throws IOException {
        if (scheduler.isShuttingDown()) throw ApiError.SHUTTING_DOWN.with("the server is shutting down");
        String body = readBody(ex);
        ApiRequest request = chat ? ApiRequest.chat(body, model, chatTemplate) : ApiRequest.completion(body, model);
        Generation generation = scheduler.submit(request.generation());
        Response response = new Response(chat, idPrefix, generation.id(), System.currentTimeMillis() / 1000, model.id());
        if (request.generation().stream()) stream(ex, generation, response, request.includeUsage());
        else respondWhole(ex, generation, response);
    }

    private void respondWhole(HttpExchange ex, Generation generation, Response response) throws IOException {
        Completion completion;
        try {
            completion = generation.result().get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof ServeException se ? se : ApiError.INTERNAL.with("generation failed: " + e.getCause());
        } catch (InterruptedException | CancellationException e) {
            generation.cancel();
            throw ApiError.SHUTTING_DOWN.with("the request was cancelled");
        }
        try {
            sendJson(ex, 200, response.whole(completion));
        } catch (IOException gone) {
            LOG.log(Level.FINE, "client left before its response was written", gone);
        }
    }

    private void stream(HttpExchange ex, Generation generation, Response response, boolean includeUsage) throws IOException {
        try {
            ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
            ex.getResponseHeaders().set("Cache-Control", "no-cache");
            ex.sendResponseHeaders(200, 0);
            metrics.response(200);
            OutputStream out = ex.getResponseBody();
            if (response.chat()) sendEvent(out, Json.write(response.roleChunk()));
            while (true) {
                switch (generation.nextEvent()) {
                    case Generation.Text t -> sendEvent(out, Json.write(response.textChunk(t.text())));
                    case Generation.Done d -> {
                        sendEvent(out, Json.write(response.finalChunk(d.completion())));
                        if (includeUsage) sendEvent(out, Json.write(response.usageChunk(d.completion())));
                        send(out, SSE_DONE);
                        return;
                    }
                    case Generation.Failed f -> {
                        sendEvent(out, Json.write(errorBody(f.error())));
                        send(out, SSE_DONE);
                        return;
                    }
                }
            }
        } catch (IOException | InterruptedException gone) {
            // The client disconnected (or the server is stopping): free the sequence and its KV blocks now.
            generation.cancel();
            if (gone instanceof InterruptedException) Thread.currentThread().interrupt();
        }
    }

    private void models(HttpExchange ex) throws IOException {
        Map<String, Object> card = new LinkedHashMap<>();
        card.put("id", model.id());
        card.put("object", "model");
        card.put("created", startedEpochSeconds);
        card.put("owned_by", "polar");
        card.put("max_model_len", model.contextLength());
        card.put("vocab_size", model.tokenizer().vocabSize()); // prompt ids must lie below it (load generators draw them)
        sendJson(ex, 200, Map.of("object", "list", "data", List.of(card)));
    }

    private void health(HttpExchange ex) throws IOException {
        boolean stopping = scheduler.isShuttingDown();
        sendJson(ex, stopping ? 503 : 200, Map.of("status", stopping ? "shutting_down" : "ok"));
    }

    private void metrics(HttpExchange ex) throws IOException {
        send(ex, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.prometheus().getBytes(StandardCharsets.UTF_8));
    }

    // ---- bodies and responses ----

    private String readBody(HttpExchange ex) throws IOException {
        InputStream in = ex.getRequestBody();
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        long declared = -1;
        if (length != null) {
            try {
                declared = Long.parseLong(length.trim());
            } catch (NumberFormatException e) {
                throw ApiError.INVALID_FIELD.with("bad Content-Length '" + length + "'");
            }
        }
        byte[] body = declared > config.maxBodyBytes() ? null : in.readNBytes(config.maxBodyBytes() + 1);
        if (body == null || body.length > config.maxBodyBytes()) {
            // Read what the client sends before refusing it, so it sees the 413 rather than a reset connection.
            long drained = in.skip(DRAIN_LIMIT);
            if (drained >= DRAIN_LIMIT || in.read() >= 0) ex.getResponseHeaders().set("Connection", "close");
            throw ApiError.BODY_TOO_LARGE.with("the request body is larger than " + config.maxBodyBytes() + " bytes");
        }
        return new String(body, StandardCharsets.UTF_8);
    }

    private static Map<String, Object> errorBody(ServeException e) {
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("message", e.getMessage());
        error.put("type", e.error.type);
        error.put("param", null);
        error.put("code", e.error.code);
        return Map.of("error", error);
    }

    private void sendError(HttpExchange ex, ServeException e) {
        if (ex.getResponseCode() != -1) return; // a stream is under way; nothing more can be said
        if (e.error == ApiError.QUEUE_FULL || e.error == ApiError.SHUTTING_DOWN) ex.getResponseHeaders().set("Retry-After", "1");
        try {
            sendJson(ex, e.error.status, errorBody(e));
        } catch (IOException gone) {
            LOG.log(Level.FINE, "client left before its error was written", gone);
        }
    }

    private void sendJson(HttpExchange ex, int status, Object body) throws IOException {
        send(ex, status, "application/json", Json.write(body).getBytes(StandardCharsets.UTF_8));
    }

    private void send(HttpExchange ex, int status, String contentType, byte[] bytes) throws IOException {
        ex.getResponseHeaders().set("Content-Type", contentType);
        ex.sendResponseHeaders(status, bytes.length);
        metrics.response(status);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static void sendEvent(OutputStream out, String json) throws IOException {
        send(out, "data: " + json + "\n\n");
    }

    private static void send(OutputStream out, String text) throws IOException {
        out.write(text.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** The JSON objects of one request's response, as the OpenAI API shapes them. */
    private record Response(boolean chat, String id, long created, String model) {
        Response(boolean chat, String prefix, long generationId, long created, String model) {
            this(chat, (chat ? "chatcmpl-" : "cmpl-") + prefix + "-" + generationId, created, model);
        }

        Map<String, Object> whole(Completion c) {
            Map<String, Object> choice = new LinkedHashMap<>();
            choice.put("index", 0);
            if (chat) choice.put("message", Map.of("role", "assistant", "content", c.text()));
            else {
                choice.put("text", c.text());
                choice.put("logprobs", null);
            }
            choice.put("finish_reason", c.finishReason().apiName);
            Map<String, Object> out = head(chat ? "chat.completion" : "text_completion", List.of(choice));
            out.put("usage", usage(c));
            return out;
        }

        Map<String, Object> roleChunk() { return chunk(Map.of("role", "assistant", "content", ""), null); }

        Map<String, Object> textChunk(String text) { return chunk(chat ? Map.of("content", text) : text, null); }

        Map<String, Object> finalChunk(Completion c) { return chunk(chat ? Map.of() : "", c.finishReason().apiName); }

        Map<String, Object> usageChunk(Completion c) {
            Map<String, Object> out = head(chat ? "chat.completion.chunk" : "text_completion", List.of());
            out.put("usage", usage(c));
            return out;
        }

        /** A streamed chunk: {@code delta} for chat, {@code text} for completions. */
        private Map<String, Object> chunk(Object content, String finishReason) {
            Map<String, Object> choice = new LinkedHashMap<>();
            choice.put("index", 0);
            if (chat) choice.put("delta", content);
            else {
                choice.put("text", content);
                choice.put("logprobs", null);
            }
            choice.put("finish_reason", finishReason);
            return head(chat ? "chat.completion.chunk" : "text_completion", List.of(choice));
        }

        private Map<String, Object> head(String object, List<Object> choices) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("id", id);
            out.put("object", object);
            out.put("created", created);
            out.put("model", model);
            out.put("choices", choices);
            return out;
        }

        private static Map<String, Object> usage(Completion c) {
            Map<String, Object> u = new LinkedHashMap<>();
            u.put("prompt_tokens", c.promptTokens());
            u.put("completion_tokens", c.completionTokens());
            u.put("total_tokens", c.totalTokens());
            return u;
        }
    }
}
