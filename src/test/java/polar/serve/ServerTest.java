package polar.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static polar.serve.TestServer.at;
import static polar.serve.TestServer.events;
import static polar.serve.TestServer.json;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import polar.formats.Json;
import polar.serve.ChatTemplate.Message;
import polar.serve.ChatTemplate.Role;

@Timeout(value = 20, unit = TimeUnit.SECONDS)
class ServerTest {
    private static final FakeTokenizer TOKENIZER = new FakeTokenizer();
    private static TestServer shared;

    @BeforeAll
    static void start() throws Exception {
        shared = new TestServer(FakeBatchModel.roomy(), new Scheduler.Config(256, 256), Server.Config.defaults().withMaxBodyBytes(64 << 10));
    }

    @AfterAll
    static void stop() { shared.close(); }

    /** Posts the same request whole and streamed; checks they agree; returns the whole response. */
    private static Map<String, Object> wholeAndStreamedAgree(String path, String fields) throws Exception {
        boolean chat = path.contains("chat");
        HttpResponse<String> whole = shared.post(path, "{" + fields + "}");
        assertEquals(200, whole.statusCode(), whole.body());
        assertEquals("application/json", whole.headers().firstValue("Content-Type").orElse(""));
        Map<String, Object> w = json(whole);
        HttpResponse<String> streamed = shared.post(path, "{" + fields + ", \"stream\": true, \"stream_options\": {\"include_usage\": true}}");
        assertEquals(200, streamed.statusCode(), streamed.body());
        assertTrue(streamed.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        List<Map<String, Object>> events = events(streamed.body());

        StringBuilder text = new StringBuilder();
        String finish = null;
        for (int i = 0; i < events.size() - 1; i++) {
            Map<String, Object> e = events.get(i);
            assertEquals(chat ? "chat.completion.chunk" : "text_completion", e.get("object"));
            assertEquals(events.getFirst().get("id"), e.get("id"), "one id for the whole stream");
            if (chat && i == 0) assertEquals("assistant", at(e, "choices", 0, "delta", "role"));
            String piece = chat ? at(e, "choices", 0, "delta", "content") : at(e, "choices", 0, "text");
            if (piece != null) text.append(piece);
            if (at(e, "choices", 0, "finish_reason") != null) finish = at(e, "choices", 0, "finish_reason");
        }
        Map<String, Object> usageChunk = events.getLast();
        assertEquals(List.of(), usageChunk.get("choices"));
        assertEquals(w.get("usage"), usageChunk.get("usage"), "streamed usage equals the whole response's");
        String wholeText = chat ? at(w, "choices", 0, "message", "content") : at(w, "choices", 0, "text");
        assertEquals(wholeText, text.toString(), "streamed text equals the whole response's");
        assertEquals((String) at(w, "choices", 0, "finish_reason"), finish);
        return w;
    }

    @Test
    void completionsWholeAndStreamedGiveTheReferenceTokens() throws Exception {
        String prompt = "once upon a time";
        Map<String, Object> w = wholeAndStreamedAgree("/v1/completions",
                "\"model\": \"fake-model\", \"prompt\": \"" + prompt + "\", \"max_tokens\": 20, \"temperature\": 0");
        int[] promptIds = TOKENIZER.encode(prompt, true);
        int[] expected = FakeBatchModel.referenceGreedy(promptIds, 20, false);
        assertEquals(TOKENIZER.decode(expected), at(w, "choices", 0, "text"));
        assertEquals(expected[expected.length - 1] == FakeTokenizer.EOS ? "stop" : "length", at(w, "choices", 0, "finish_reason"));
        assertEquals(Map.of("prompt_tokens", (long) promptIds.length, "completion_tokens", (long) expected.length,
                "total_tokens", (long) (promptIds.length + expected.length)), w.get("usage"));
        assertTrue(((String) w.get("id")).startsWith("cmpl-"));
        assertEquals("text_completion", w.get("object"));
        assertEquals("fake-model", w.get("model"));
        assertTrue(Math.abs((Long) w.get("created") - System.currentTimeMillis() / 1000) < 60);
        // Sampling with a seed: the same in both forms.
        wholeAndStreamedAgree("/v1/completions", "\"prompt\": \"the fox\", \"max_tokens\": 24, \"temperature\": 0.8, \"top_p\": 0.9, \"seed\": 11");
        // Token ids as the prompt.
        HttpResponse<String> ids = shared.post("/v1/completions", "{\"prompt\": " + Json.write(promptIds) + ", \"max_tokens\": 20, \"temperature\": 0}");
        assertEquals((String) at(w, "choices", 0, "text"), (String) at(json(ids), "choices", 0, "text"));
    }

    @Test
    void chatWholeAndStreamedAgreeAndUseTheTemplate() throws Exception {
        String messages = "[{\"role\": \"system\", \"content\": \"be kind\"}, {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"tell a story\"}]}]";
        Map<String, Object> w = wholeAndStreamedAgree("/v1/chat/completions", "\"messages\": " + messages + ", \"max_tokens\": 16, \"temperature\": 0");
        assertTrue(((String) w.get("id")).startsWith("chatcmpl-"));
        assertEquals("chat.completion", w.get("object"));
        assertEquals("assistant", at(w, "choices", 0, "message", "role"));
        int[] prompt = TOKENIZER.encode(ChatTemplate.PLAIN.render(List.of(new Message(Role.SYSTEM, "be kind"), new Message(Role.USER, "tell a story"))), true);
        int[] expected = FakeBatchModel.referenceGreedy(prompt, 16, false);
        assertEquals(TOKENIZER.decode(expected), at(w, "choices", 0, "message", "content"));
        assertEquals((long) prompt.length, (Long) at(w, "usage", "prompt_tokens"));
    }

    @Test
    void chatUsesTheModelsLlama3Template() throws Exception {
        try (TestServer llama = new TestServer(FakeBatchModel.roomy().chatTemplate(ChatTemplateTest.LLAMA3_JINJA))) {
            assertEquals(ChatTemplate.LLAMA3, llama.server.chatTemplate());
            HttpResponse<String> r = llama.post("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 5}");
            assertEquals(200, r.statusCode(), r.body());
            int[] prompt = TOKENIZER.encode(ChatTemplate.LLAMA3.render(List.of(new Message(Role.USER, "hi"))), true);
            assertEquals((long) prompt.length, (Long) at(json(r), "usage", "prompt_tokens"));
        }
    }

    private static void assertError(HttpResponse<String> r, int status, ApiError error) {
        assertEquals(status, r.statusCode(), r.body());
        Map<String, Object> e = at(json(r), "error");
        assertEquals(error.code, e.get("code"), r.body());
        assertEquals(error.type, e.get("type"));
        assertTrue(e.get("message") instanceof String m && !m.isEmpty());
    }

    @Test
    void badRequestsGetTheirStatus() throws Exception {
        String c = "/v1/completions", chat = "/v1/chat/completions";
        assertError(shared.post(c, "{\"prompt\": \"x\""), 400, ApiError.INVALID_JSON);
        assertError(shared.post(c, "[1, 2]"), 400, ApiError.INVALID_JSON);
        assertError(shared.post(c, "{\"prompt\": 5}"), 400, ApiError.INVALID_FIELD);
        assertError(shared.post(c, "{\"max_tokens\": 5}"), 400, ApiError.INVALID_FIELD);
        assertError(shared.post(c, "{\"prompt\": \"x\", \"max_tokens\": \"ten\"}"), 400, ApiError.INVALID_FIELD);
        assertError(shared.post(c, "{\"prompt\": \"x\", \"max_tokens\": 0}"), 400, ApiError.INVALID_FIELD);
        assertError(shared.post(c, "{\"prompt\": \"x\", \"temperature\": 3}"), 400, ApiError.INVALID_FIELD);
        assertError(shared.post(c, "{\"prompt\": \"x\", \"top_p\": 0}"), 400, ApiError.INVALID_FIELD);
        assertError(shared.post(c, "{\"prompt\": \"x\", \"stop\": [\"\"]}"), 400, ApiError.INVALID_FIELD);
        assertError(shared.post(c, "{\"prompt\": \"x\", \"stream\": \"yes\"}"), 400, ApiError.INVALID_FIELD);
        assertError(shared.post(c, "{\"prompt\": [1, 99999]}"), 400, ApiError.INVALID_FIELD);
        assertError(shared.post(c, "{\"prompt\": \"x\", \"n\": 2}"), 400, ApiError.UNSUPPORTED_FIELD);
        assertError(shared.post(c, "{\"prompt\": \"x\", \"logprobs\": 3}"), 400, ApiError.UNSUPPORTED_FIELD);
        assertError(shared.post(c, "{\"prompt\": \"x\", \"model\": \"gpt-9\"}"), 404, ApiError.MODEL_NOT_FOUND);
        assertError(shared.post(c, "{\"prompt\": \"x y z\", \"max_tokens\": 253}"), 400, ApiError.CONTEXT_LENGTH_EXCEEDED);
        assertError(shared.post(chat, "{\"messages\": []}"), 400, ApiError.INVALID_FIELD);
        assertError(shared.post(chat, "{\"messages\": [{\"role\": \"wizard\", \"content\": \"x\"}]}"), 400, ApiError.INVALID_FIELD);
        assertError(shared.post(chat, "{\"messages\": [{\"role\": \"user\"}]}"), 400, ApiError.INVALID_FIELD);
        assertError(shared.post(chat, "{\"prompt\": \"x\"}"), 400, ApiError.INVALID_FIELD);
        assertError(shared.post(c, "{\"prompt\": \"" + "a".repeat(100_000) + "\"}"), 413, ApiError.BODY_TOO_LARGE);
        HttpResponse<String> get = shared.get(c);
        assertError(get, 405, ApiError.METHOD_NOT_ALLOWED);
        assertEquals("POST", get.headers().firstValue("Allow").orElse(""));
        assertError(shared.post("/v1/models", "{}"), 405, ApiError.METHOD_NOT_ALLOWED);
        assertError(shared.get("/v1/nothing"), 404, ApiError.NOT_FOUND);
        // The server still works after all that.
        assertEquals(200, shared.post(c, "{\"prompt\": \"x\", \"max_tokens\": 2}").statusCode());
    }

    @Test
    void anApiKeyGuardsTheV1Routes() throws Exception {
        try (TestServer guarded = new TestServer(FakeBatchModel.roomy(), new Scheduler.Config(8, 64), Server.Config.defaults().withApiKey("sesame"))) {
            String body = "{\"prompt\": \"x\", \"max_tokens\": 3}";
            HttpResponse<String> none = guarded.post("/v1/completions", body);
            assertError(none, 401, ApiError.UNAUTHORIZED);
            assertEquals("Bearer", none.headers().firstValue("WWW-Authenticate").orElse(""));
            assertError(guarded.post("/v1/completions", body, "Authorization", "Bearer sesame2"), 401, ApiError.UNAUTHORIZED);
            assertError(guarded.get("/v1/models", "Authorization", "sesame"), 401, ApiError.UNAUTHORIZED);
            assertEquals(200, guarded.post("/v1/completions", body, "Authorization", "Bearer sesame").statusCode());
            assertEquals(200, guarded.get("/v1/models", "Authorization", "Bearer sesame").statusCode());
            assertEquals(200, guarded.get("/health").statusCode(), "probes need no key");
        }
    }

    @Test
    void aFullQueueGets429WithRetryAfter() throws Exception {
        FakeBatchModel model = new FakeBatchModel(256, 1, 4, 64).stepDelay(2000);
        try (TestServer small = new TestServer(model, new Scheduler.Config(1, 64), Server.Config.defaults())) {
            String body = "{\"prompt\": \"x\", \"max_tokens\": 40, \"ignore_eos\": true}";
            CompletableFuture<HttpResponse<String>> running = CompletableFuture.supplyAsync(() -> post(small, body));
            SchedulerTest.waitUntil("one running", () -> small.scheduler.metrics().running() == 1);
            CompletableFuture<HttpResponse<String>> queued = CompletableFuture.supplyAsync(() -> post(small, body));
            SchedulerTest.waitUntil("one queued", () -> small.scheduler.metrics().queueLength() == 1);
            HttpResponse<String> refused = small.post("/v1/completions", body);
            assertError(refused, 429, ApiError.QUEUE_FULL);
            assertEquals("1", refused.headers().firstValue("Retry-After").orElse(""));
            assertEquals(200, running.get(10, TimeUnit.SECONDS).statusCode());
            assertEquals(200, queued.get(10, TimeUnit.SECONDS).statusCode());
            assertEquals(1, small.metric("polar_rejected_total{code=\"queue_full\"}"));
        }
    }

    private static HttpResponse<String> post(TestServer server, String body) {
        try {
            return server.post("/v1/completions", body);
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    @Test
    void aClientLeavingMidStreamFreesItsBlocks() throws Exception {
        FakeBatchModel model = FakeBatchModel.roomy().stepDelay(5000);
        try (TestServer server = new TestServer(model)) {
            String body = "{\"prompt\": \"a long story\", \"max_tokens\": 200, \"ignore_eos\": true, \"stream\": true}";
            try (Socket socket = new Socket("127.0.0.1", server.server.address().getPort())) {
                OutputStream out = socket.getOutputStream();
                out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: "
                        + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
                out.flush();
                BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
                assertTrue(in.readLine().startsWith("HTTP/1.1 200"));
                int events = 0;
                for (String line = in.readLine(); line != null && events < 3; line = in.readLine()) if (line.startsWith("data: {")) events++;
                assertEquals(3, events);
                assertEquals(1, server.metric("polar_running_sequences"));
                assertTrue(server.metric("polar_kv_blocks_used") > 0);
            }
            long closed = System.nanoTime();
            SchedulerTest.waitUntil("blocks freed", () -> {
                try {
                    return server.metric("polar_kv_blocks_used") == 0 && server.metric("polar_running_sequences") == 0;
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            long freedMs = (System.nanoTime() - closed) / 1_000_000;
            System.out.println("disconnect to blocks freed: " + freedMs + " ms");
            assertTrue(freedMs < 500, "freed within a few steps of 5 ms, not after the remaining ~190 tokens: " + freedMs + " ms");
            assertEquals(1, server.metric("polar_requests_total{outcome=\"cancelled\"}"));
            assertEquals(0, server.metric("polar_requests_total{outcome=\"length\"}"));
        }
    }

    @Test
    void modelsHealthAndMetrics() throws Exception {
        Map<String, Object> models = json(shared.get("/v1/models"));
        assertEquals("list", models.get("object"));
        assertEquals("fake-model", at(models, "data", 0, "id"));
        assertEquals("model", at(models, "data", 0, "object"));
        assertEquals(256L, (Long) at(models, "data", 0, "max_model_len"));
        assertEquals(Map.of("status", "ok"), json(shared.get("/health")));

        shared.post("/v1/completions", "{\"prompt\": \"count me\", \"max_tokens\": 3}");
        HttpResponse<String> metrics = shared.get("/metrics");
        assertTrue(metrics.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
        for (String name : List.of("polar_queue_length", "polar_running_sequences", "polar_kv_blocks_used", "polar_tokens_per_second"))
            assertTrue(metrics.body().contains("# TYPE " + name + " gauge\n" + name + " "), name);
        assertEquals(512, shared.metric("polar_kv_blocks_total"));
        assertTrue(shared.metric("polar_generated_tokens_total") >= 3);
        assertTrue(shared.metric("polar_http_responses_total{status=\"200\"}") >= 1);
        assertTrue(shared.metric("polar_requests_total{outcome=\"stop\"}") + shared.metric("polar_requests_total{outcome=\"length\"}") >= 1);
    }

    @Test
    void gracefulShutdownFinishesRunningRequestsAndRefusesNewOnes() throws Exception {
        FakeBatchModel model = FakeBatchModel.roomy().stepDelay(3000);
        TestServer server = new TestServer(model);
        String body = "{\"prompt\": \"last words\", \"max_tokens\": 60, \"ignore_eos\": true, \"stream\": true}";
        CompletableFuture<HttpResponse<String>> running = CompletableFuture.supplyAsync(() -> post(server, body));
        SchedulerTest.waitUntil("running", () -> server.scheduler.metrics().running() == 1);
        CompletableFuture<Void> shutdown = CompletableFuture.runAsync(() -> server.server.shutdown(Duration.ofSeconds(10)));
        SchedulerTest.waitUntil("draining", server.scheduler::isShuttingDown);
        HttpResponse<String> refused = server.post("/v1/completions", "{\"prompt\": \"too late\"}");
        assertError(refused, 503, ApiError.SHUTTING_DOWN);
        assertNotNull(refused.headers().firstValue("Retry-After").orElse(null));
        assertEquals(503, server.get("/health").statusCode());

        HttpResponse<String> finished = running.get(10, TimeUnit.SECONDS);
        assertEquals(200, finished.statusCode());
        List<Map<String, Object>> events = events(finished.body());
        assertEquals("length", at(events.getLast(), "choices", 0, "finish_reason"), "the running request finished normally");
        shutdown.get(10, TimeUnit.SECONDS);
        assertTrue(model.isClosed(), "the model was released");
        assertEquals(0, model.usedBlocks());
    }

    @Test
    void stopSequencesOverHttp() throws Exception {
        HttpResponse<String> full = shared.post("/v1/completions", "{\"prompt\": \"stop test\", \"max_tokens\": 20, \"temperature\": 0, \"ignore_eos\": true}");
        String text = at(json(full), "choices", 0, "text");
        String stop = text.split(" ")[4];
        Map<String, Object> cut = wholeAndStreamedAgree("/v1/completions",
                "\"prompt\": \"stop test\", \"max_tokens\": 20, \"temperature\": 0, \"ignore_eos\": true, \"stop\": " + Json.write(List.of(stop)));
        assertEquals(text.substring(0, text.indexOf(stop)), at(cut, "choices", 0, "text"));
        assertEquals("stop", at(cut, "choices", 0, "finish_reason"));
    }
}
