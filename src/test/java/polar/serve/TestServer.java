package polar.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import polar.formats.Json;

/** A server on 127.0.0.1 (ephemeral port) over a {@link FakeBatchModel}, with a client and SSE parsing. */
final class TestServer implements AutoCloseable {
    final FakeBatchModel model;
    final Scheduler scheduler;
    final Server server;
    final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    TestServer(FakeBatchModel model, Scheduler.Config schedulerConfig, Server.Config serverConfig) throws IOException {
        this.model = model;
        this.scheduler = new Scheduler(model, schedulerConfig);
        this.server = Server.start(scheduler, serverConfig.withPort(0));
    }

    TestServer(FakeBatchModel model) throws IOException {
        this(model, new Scheduler.Config(256, 256), Server.Config.defaults());
    }

    URI uri(String path) { return server.baseUri().resolve(path); }

    HttpResponse<String> post(String path, String body, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(15))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) b.headers(headers);
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(15)).GET();
        if (headers.length > 0) b.headers(headers);
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The value of a metric line {@code name value} (name may carry labels) in {@code /metrics}. */
    double metric(String name) throws IOException, InterruptedException {
        for (String line : get("/metrics").body().split("\n"))
            if (line.startsWith(name + " ")) return Double.parseDouble(line.substring(name.length() + 1));
        throw new AssertionError("no metric " + name);
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> json(String text) { return (Map<String, Object>) Json.parse(text, "response"); }

    @SuppressWarnings("unchecked")
    static Map<String, Object> json(HttpResponse<String> response) { return json(response.body()); }

    /** The JSON events of a server-sent-event body, checking it ends with {@code data: [DONE]}. */
    static List<Map<String, Object>> events(String body) {
        List<Map<String, Object>> out = new ArrayList<>();
        String[] blocks = body.split("\n\n");
        for (int i = 0; i < blocks.length; i++) {
            if (!blocks[i].startsWith("data: ")) throw new AssertionError("not an SSE data line: " + blocks[i]);
            String data = blocks[i].substring("data: ".length());
            if (i == blocks.length - 1) assertEquals("[DONE]", data, "the stream ends with [DONE]");
            else out.add(json(data));
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    static <T> T at(Object json, Object... path) {
        Object v = json;
        for (Object key : path) v = key instanceof Integer i ? ((List<Object>) v).get(i) : ((Map<String, Object>) v).get(key);
        return (T) v;
    }

    @Override
    public void close() { server.shutdown(Duration.ofSeconds(1)); }
}
