package polar.serve;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.IntFunction;
import java.util.stream.IntStream;
import polar.formats.Json;
import polar.formats.JsonFields;

/**
 * Load on an OpenAI-compatible server (Polar's or any other): {@code clients} concurrent clients, each with one
 * request in flight, send requests to {@code POST /v1/completions} until {@code requests} are sent or the time
 * limit passes. A streamed request is timed per server-sent event: time to first token (TTFT), the gaps between
 * tokens (inter-token latency, ITL) and the whole request (end to end); a whole response only end to end.
 * {@code polar bench serve} ({@link ServeBench}) runs it from the command line; the load test runs it against the
 * fake model and checks every answer.
 */
public final class LoadGenerator {

    /**
     * One request: a text prompt, or token ids (exact prompt lengths, no tokenizer needed), greedy.
     *
     * @param ignoreEos ask the server to go on past EOS (Polar and vLLM honour it), so outputs have fixed lengths
     */
    public record Request(String text, int[] tokens, int maxTokens, boolean stream, boolean ignoreEos) {
        public static Request text(String prompt, int maxTokens, boolean stream) {
            return new Request(prompt, null, maxTokens, stream, false);
        }

        public static Request tokens(int[] ids, int maxTokens, boolean stream) {
            return new Request(null, ids, maxTokens, stream, true);
        }

        /** The JSON body, naming {@code model} unless it is null. */
        String body(String model) {
            Map<String, Object> b = new LinkedHashMap<>();
            if (model != null) b.put("model", model);
            b.put("prompt", text != null ? text : IntStream.of(tokens).boxed().toList());
            b.put("max_tokens", maxTokens);
            b.put("temperature", 0);
            if (ignoreEos) b.put("ignore_eos", true);
            if (stream) {
                b.put("stream", true);
                b.put("stream_options", Map.of("include_usage", true));
            }
            return Json.write(b);
        }
    }

    /**
     * What one request got back. Times are {@link System#nanoTime()} values.
     *
     * @param error      null when the request succeeded, else what went wrong (status and body, or the exception)
     * @param tokenNanos arrival of each streamed event that carried text (empty for whole responses)
     */
    public record Outcome(int index, String error, String id, String text, String finishReason, long completionTokens,
                          long startNanos, long endNanos, long[] tokenNanos) {
        public boolean ok() { return error == null; }

        public long latencyNanos() { return endNanos - startNanos; }

        /** Time to the first streamed text, or -1 when there was none. */
        public long firstTokenNanos() { return tokenNanos.length > 0 ? tokenNanos[0] - startNanos : -1; }

        static Outcome failed(int index, String error, long start) {
            return new Outcome(index, error, null, null, null, 0, start, System.nanoTime(), new long[0]);
        }
    }

    /**
     * @param base    the server, e.g. {@code http://127.0.0.1:8080}
     * @param apiKey  sent as a bearer token, or null
     * @param model   the {@code model} field of each request, or null to leave it out
     * @param timeout per request
     */
    public record Target(URI base, String apiKey, String model, Duration timeout) {
        public Target {
            String s = base.toString();
            if (s.endsWith("/")) base = URI.create(s.substring(0, s.length() - 1));
        }

        URI uri(String path) { return URI.create(base + path); }

        HttpRequest.Builder request(String path) {
            HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(timeout);
            if (apiKey != null) b.header("Authorization", "Bearer " + apiKey);
            return b;
        }
    }

    /** The outcomes of the requests that were sent (in index order) and the wall time from the first send to the last answer. */
    public record Run(List<Outcome> outcomes, long wallNanos) {}

    private final Target target;
    private final HttpClient client;

    public LoadGenerator(Target target) {
        this.target = target;
        this.client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
    }

    /**
     * Sends requests {@code 0 .. requests-1} ({@code request.apply(i)}) from {@code clients} concurrent clients; after
     * {@code limit} (null: none) no new request starts, and those running finish.
     */
    public Run run(int clients, int requests, IntFunction<Request> request, Duration limit) throws InterruptedException {
        if (clients < 1 || requests < 0) throw new IllegalArgumentException("clients must be >= 1 and requests >= 0, got " + clients + ", " + requests);
        AtomicInteger next = new AtomicInteger();
        AtomicReferenceArray<Outcome> outcomes = new AtomicReferenceArray<>(requests);
        long start = System.nanoTime();
        long stopNanos = limit == null ? Long.MAX_VALUE : limit.toNanos();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> workers = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                workers.add(pool.submit(() -> {
                    for (int i = next.getAndIncrement(); i < requests && System.nanoTime() - start < stopNanos; i = next.getAndIncrement()) {
                        outcomes.set(i, send(i, request.apply(i)));
                    }
                    return null;
                }));
            }
            for (Future<?> w : workers) {
                try {
                    w.get();
                } catch (ExecutionException e) {
                    throw new IllegalStateException("a load client failed: " + e.getCause(), e.getCause());
                }
            }
        }
        long end = start;
        List<Outcome> sent = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            Outcome o = outcomes.get(i);
            if (o != null) {
                sent.add(o);
                end = Math.max(end, o.endNanos());
            }
        }
        return new Run(sent, end - start);
    }

    /** {@code GET /v1/models}: the first model card, or null when the server answers with none; throws when it cannot be reached. */
    public JsonFields firstModel() throws IOException, InterruptedException {
        HttpResponse<String> r = client.send(target.request("/v1/models").GET().build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) throw new IOException("GET " + target.uri("/v1/models") + ": HTTP " + r.statusCode() + ": " + r.body());
        List<JsonFields> cards = JsonFields.of(Json.parse(r.body(), "/v1/models"), "/v1/models").objects("data");
        return cards.isEmpty() ? null : cards.getFirst();
    }

    /** Polls {@code GET /v1/models} until it answers 200 or {@code wait} passes; returns whether it answered. */
    public boolean awaitReady(Duration wait) throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            try {
                if (client.send(target.request("/v1/models").GET().build(), HttpResponse.BodyHandlers.discarding()).statusCode() == 200) return true;
            } catch (IOException notYet) {
                // not listening yet
            }
            if (System.nanoTime() - deadline >= 0) return false;
            Thread.sleep(500);
        }
    }

    private Outcome send(int index, Request r) throws InterruptedException {
        long start = System.nanoTime();
        HttpRequest http = target.request("/v1/completions").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(r.body(target.model()))).build();
        try {
            return r.stream() ? streamed(index, http, start) : whole(index, http, start);
        } catch (IOException | RuntimeException e) {
            return Outcome.failed(index, e.getClass().getSimpleName() + ": " + e.getMessage(), start);
        }
    }

    private Outcome whole(int index, HttpRequest http, long start) throws IOException, InterruptedException {
        HttpResponse<String> r = client.send(http, HttpResponse.BodyHandlers.ofString());
        long end = System.nanoTime();
        if (r.statusCode() != 200) return Outcome.failed(index, "HTTP " + r.statusCode() + ": " + r.body(), start);
        JsonFields f = JsonFields.of(Json.parse(r.body(), "response"), "response");
        JsonFields choice = f.objects("choices").getFirst();
        return new Outcome(index, null, f.string("id"), choice.string("text"), choice.string("finish_reason", null),
                f.object("usage").integer("completion_tokens"), start, end, new long[0]);
    }

    private Outcome streamed(int index, HttpRequest http, long start) throws IOException, InterruptedException {
        HttpResponse<java.util.stream.Stream<String>> r = client.send(http, HttpResponse.BodyHandlers.ofLines());
        if (r.statusCode() != 200) {
            String body = String.join("\n", r.body().toList());
            return Outcome.failed(index, "HTTP " + r.statusCode() + ": " + body, start);
        }
        StringBuilder text = new StringBuilder();
        long[] times = new long[16];
        int count = 0;
        String id = null, finish = null, error = null;
        long completionTokens = -1;
        boolean done = false;
        for (var lines = r.body().iterator(); lines.hasNext(); ) {
            String line = lines.next();
            if (!line.startsWith("data: ")) continue;
            long now = System.nanoTime();
            String data = line.substring("data: ".length());
            if (data.equals("[DONE]")) {
                done = true;
                break;
            }
            JsonFields e = JsonFields.of(Json.parse(data, "event"), "event");
            if (e.has("error")) {
                error = "error event: " + e.object("error").string("message", data);
                continue;
            }
            if (id == null) id = e.string("id");
            else if (!id.equals(e.string("id"))) error = "two ids in one stream: " + id + ", " + e.string("id");
            if (e.get("usage") != null) completionTokens = e.object("usage").integer("completion_tokens");
            List<JsonFields> choices = e.objects("choices");
            if (choices.isEmpty()) continue;
            String piece = choices.getFirst().string("text", "");
            if (!piece.isEmpty()) {
                if (count == times.length) times = Arrays.copyOf(times, 2 * count);
                times[count++] = now;
                text.append(piece);
            }
            String reason = choices.getFirst().string("finish_reason", null);
            if (reason != null) finish = reason;
        }
        long end = System.nanoTime();
        if (error == null && !done) error = "the stream ended without [DONE]";
        if (error != null) return Outcome.failed(index, error, start);
        return new Outcome(index, null, id, text.toString(), finish, completionTokens, start, end, Arrays.copyOf(times, count));
    }

    // ---- the report ----

    /** Summary statistics of a sample (milliseconds here); nearest-rank percentiles. NaN when the sample is empty. */
    public record Percentiles(int count, double mean, double p50, double p90, double p99, double max) {
        public static Percentiles of(double[] values) {
            double[] v = values.clone();
            Arrays.sort(v);
            if (v.length == 0) return new Percentiles(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
            return new Percentiles(v.length, Arrays.stream(v).average().orElseThrow(), rank(v, 0.5), rank(v, 0.9), rank(v, 0.99), v[v.length - 1]);
        }

        /** The smallest value with at least {@code q} of the sample at or below it. */
        static double rank(double[] sorted, double q) {
            return sorted[Math.max(0, Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1))];
        }

        Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("count", count);
            m.put("mean", round(mean));
            m.put("p50", round(p50));
            m.put("p90", round(p90));
            m.put("p99", round(p99));
            m.put("max", round(max));
            return m;
        }
    }

    /**
     * What a run measured.
     *
     * @param tpotMs per streamed request of 2+ tokens: (end to end - TTFT) / (tokens - 1)
     * @param errors the distinct errors (at most 5)
     */
    public record Report(int clients, int sent, int done, int failed, double seconds, long outputTokens, Percentiles ttftMs,
                         Percentiles itlMs, Percentiles tpotMs, Percentiles latencyMs, List<String> errors) {

        public static Report of(int clients, Run run) {
            List<Outcome> ok = run.outcomes().stream().filter(Outcome::ok).toList();
            LinkedHashSet<String> errors = new LinkedHashSet<>();
            run.outcomes().stream().filter(o -> !o.ok()).forEach(o -> {
                if (errors.size() < 5) errors.add(o.error().length() > 300 ? o.error().substring(0, 300) + "..." : o.error());
            });
            List<Double> itl = new ArrayList<>(), tpot = new ArrayList<>();
            for (Outcome o : ok) {
                long[] t = o.tokenNanos();
                for (int i = 1; i < t.length; i++) itl.add((t[i] - t[i - 1]) / 1e6);
                if (t.length > 0 && o.completionTokens() > 1)
                    tpot.add((o.endNanos() - t[0]) / 1e6 / (o.completionTokens() - 1));
            }
            return new Report(clients, run.outcomes().size(), ok.size(), run.outcomes().size() - ok.size(), run.wallNanos() / 1e9,
                    ok.stream().mapToLong(o -> Math.max(0, o.completionTokens())).sum(),
                    Percentiles.of(ok.stream().filter(o -> o.firstTokenNanos() >= 0).mapToDouble(o -> o.firstTokenNanos() / 1e6).toArray()),
                    Percentiles.of(itl.stream().mapToDouble(Double::doubleValue).toArray()),
                    Percentiles.of(tpot.stream().mapToDouble(Double::doubleValue).toArray()),
                    Percentiles.of(ok.stream().mapToDouble(o -> o.latencyNanos() / 1e6).toArray()), List.copyOf(errors));
        }

        public double outputTokensPerSecond() { return seconds > 0 ? outputTokens / seconds : 0; }

        public double requestsPerSecond() { return seconds > 0 ? done / seconds : 0; }

        public Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("clients", clients);
            m.put("requests_sent", sent);
            m.put("requests_done", done);
            m.put("requests_failed", failed);
            m.put("seconds", round(seconds));
            m.put("output_tokens", outputTokens);
            m.put("output_tokens_per_s", round(outputTokensPerSecond()));
            m.put("requests_per_s", round(requestsPerSecond()));
            m.put("ttft_ms", ttftMs.json());
            m.put("itl_ms", itlMs.json());
            m.put("tpot_ms", tpotMs.json());
            m.put("e2e_ms", latencyMs.json());
            m.put("errors", errors);
            return m;
        }

        /** A few lines for people. */
        public String text() {
            StringBuilder s = new StringBuilder(String.format(java.util.Locale.ROOT,
                    "%d clients: %d requests done, %d failed in %.1f s: %.0f output tokens/s, %.2f requests/s%n",
                    clients, done, failed, seconds, outputTokensPerSecond(), requestsPerSecond()));
            line(s, "TTFT", ttftMs);
            line(s, "ITL", itlMs);
            line(s, "TPOT", tpotMs);
            line(s, "end to end", latencyMs);
            for (String e : errors) s.append("  error: ").append(e).append('\n');
            return s.toString();
        }

        private static void line(StringBuilder s, String what, Percentiles p) {
            s.append(String.format(java.util.Locale.ROOT, "  %-10s ms  p50 %9.2f  p90 %9.2f  p99 %9.2f  max %9.2f  (%d)%n",
                    what, p.p50(), p.p90(), p.p99(), p.max(), p.count()));
        }
    }

    /** NaN and infinities as null (JSON has neither); else 3 decimals. */
    private static Object round(double v) {
        return Double.isFinite(v) ? Math.round(v * 1000) / 1000.0 : null;
    }
}
