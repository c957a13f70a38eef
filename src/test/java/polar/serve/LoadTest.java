package polar.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static polar.serve.TestServer.at;
import static polar.serve.TestServer.json;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** 64 concurrent clients send 500 requests (half streamed); every response must be exactly its own. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class LoadTest {
    private static final int CLIENTS = 64, REQUESTS = 500;
    private static final FakeTokenizer TOKENIZER = new FakeTokenizer();

    /** What one request got back. */
    private record Outcome(int index, String id, String text, String finishReason, long completionTokens, long latencyNanos, long firstTextNanos) {}

    static String prompt(int i) { return "load request " + i + " of " + REQUESTS; }

    static int maxTokens(int i) { return 8 + i * 7 % 33; }

    @Test
    void manyConcurrentClientsLoseAndDuplicateNothing() throws Exception {
        FakeBatchModel model = FakeBatchModel.roomy().stepDelay(200);
        try (TestServer server = new TestServer(model, new Scheduler.Config(REQUESTS, 512), Server.Config.defaults());
             ExecutorService clients = Executors.newFixedThreadPool(CLIENTS, Thread.ofVirtual().factory())) {
            AtomicInteger next = new AtomicInteger();
            Map<Integer, Outcome> outcomes = new ConcurrentHashMap<>();
            long start = System.nanoTime();
            List<Future<?>> workers = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                workers.add(clients.submit(() -> {
                    for (int i = next.getAndIncrement(); i < REQUESTS; i = next.getAndIncrement()) {
                        Outcome o = i % 2 == 0 ? whole(server, i) : streamed(server, i);
                        if (outcomes.put(i, o) != null) throw new AssertionError("request " + i + " answered twice");
                    }
                    return null;
                }));
            }
            for (Future<?> w : workers) w.get(25, TimeUnit.SECONDS);
            double seconds = (System.nanoTime() - start) / 1e9;

            assertEquals(REQUESTS, outcomes.size());
            Set<String> ids = new HashSet<>();
            long tokens = 0;
            for (int i = 0; i < REQUESTS; i++) {
                Outcome o = outcomes.get(i);
                int[] expected = FakeBatchModel.referenceGreedy(TOKENIZER.encode(prompt(i), true), maxTokens(i), false);
                assertEquals(TOKENIZER.decode(expected), o.text(), "request " + i + " got its own text");
                assertEquals(expected.length, o.completionTokens(), "request " + i);
                assertEquals(expected[expected.length - 1] == FakeTokenizer.EOS ? "stop" : "length", o.finishReason());
                assertTrue(ids.add(o.id()), "duplicate id " + o.id());
                tokens += o.completionTokens();
            }
            SchedulerTest.waitUntil("blocks freed", () -> model.usedBlocks() == 0);
            Metrics m = server.scheduler.metrics();
            assertEquals(REQUESTS, m.finishedCount(Metrics.Outcome.STOP) + m.finishedCount(Metrics.Outcome.LENGTH));
            assertEquals(0, m.finishedCount(Metrics.Outcome.ERROR) + m.finishedCount(Metrics.Outcome.CANCELLED));

            int[] batches = model.decodeBatchSizes();
            double meanBatch = Arrays.stream(batches).average().orElse(0);
            long[] latency = outcomes.values().stream().mapToLong(Outcome::latencyNanos).sorted().toArray();
            long[] ttft = outcomes.values().stream().filter(o -> o.firstTextNanos() > 0).mapToLong(Outcome::firstTextNanos).sorted().toArray();
            System.out.printf("load: %d clients, %d requests in %.2f s: %.0f requests/s, %.0f generated tokens/s, mean decode batch %.1f (max %d)%n",
                    CLIENTS, REQUESTS, seconds, REQUESTS / seconds, tokens / seconds, meanBatch, Arrays.stream(batches).max().orElse(0));
            System.out.printf("load: latency ms p50 %.1f p90 %.1f p99 %.1f max %.1f; streamed time to first text ms p50 %.1f p99 %.1f%n",
                    ms(latency, 0.5), ms(latency, 0.9), ms(latency, 0.99), ms(latency, 1), ms(ttft, 0.5), ms(ttft, 0.99));
            assertTrue(meanBatch > 2, "continuous batching batches under load: mean " + meanBatch);
        }
    }

    private static double ms(long[] sorted, double q) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)] / 1e6;
    }

    private static String body(int i, boolean stream) {
        return "{\"prompt\": \"" + prompt(i) + "\", \"max_tokens\": " + maxTokens(i) + ", \"temperature\": 0"
                + (stream ? ", \"stream\": true, \"stream_options\": {\"include_usage\": true}" : "") + "}";
    }

    private static Outcome whole(TestServer server, int i) throws Exception {
        long t0 = System.nanoTime();
        HttpResponse<String> r = server.post("/v1/completions", body(i, false));
        long latency = System.nanoTime() - t0;
        assertEquals(200, r.statusCode(), r.body());
        Map<String, Object> w = json(r);
        return new Outcome(i, (String) w.get("id"), at(w, "choices", 0, "text"), at(w, "choices", 0, "finish_reason"),
                at(w, "usage", "completion_tokens"), latency, 0);
    }

    private static Outcome streamed(TestServer server, int i) throws Exception {
        long t0 = System.nanoTime();
        HttpRequest request = HttpRequest.newBuilder(server.uri("/v1/completions")).timeout(Duration.ofSeconds(20))
                .POST(HttpRequest.BodyPublishers.ofString(body(i, true))).build();
        HttpResponse<java.util.stream.Stream<String>> r = server.client.send(request, HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, r.statusCode());
        StringBuilder text = new StringBuilder();
        String[] id = {null}, finish = {null};
        long[] firstText = {0}, completionTokens = {-1};
        boolean[] done = {false};
        r.body().forEach(line -> {
            if (!line.startsWith("data: ")) return;
            String data = line.substring(6);
            if (data.equals("[DONE]")) {
                done[0] = true;
                return;
            }
            Map<String, Object> e = json(data);
            if (id[0] == null) id[0] = (String) e.get("id");
            if (!id[0].equals(e.get("id"))) throw new AssertionError("two ids in one stream");
            if (e.get("usage") != null) completionTokens[0] = at(e, "usage", "completion_tokens");
            List<Object> choices = at(e, "choices");
            if (choices.isEmpty()) return;
            String piece = at(e, "choices", 0, "text");
            if (!piece.isEmpty() && firstText[0] == 0) firstText[0] = System.nanoTime() - t0;
            text.append(piece);
            if (at(e, "choices", 0, "finish_reason") != null) finish[0] = at(e, "choices", 0, "finish_reason");
        });
        assertTrue(done[0], "stream " + i + " ended with [DONE]");
        return new Outcome(i, id[0], text.toString(), finish[0], completionTokens[0], System.nanoTime() - t0, firstText[0]);
    }
}
