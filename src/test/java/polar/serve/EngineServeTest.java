package polar.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static polar.serve.TestServer.at;
import static polar.serve.TestServer.events;
import static polar.serve.TestServer.json;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import polar.engine.EngineOptions;
import polar.formats.Json;
import polar.formats.JsonFields;
import polar.model.Model;
import polar.model.ModelLoader;
import polar.model.SharedAssets;
import polar.runtime.Backends;

/**
 * The real engine behind the scheduler and the server: tiny-llama on the JVM backend gives PyTorch's greedy tokens
 * for the golden prompts, alone and while other (sampled) requests run in the same batches.
 *
 * <p>By default a reduced check (the first 8 golden tokens, 4 other requests) that fits CI; with
 * {@code -Dpolar.slowTests=true} all 24 golden tokens among 16 others (several minutes on a busy 2-core machine).
 */
@Timeout(value = 20, unit = TimeUnit.MINUTES)
class EngineServeTest {
    private static final boolean SLOW = Boolean.getBoolean("polar.slowTests");
    private static final int GOLDEN_TOKENS = SLOW ? 24 : 8, OTHERS = SLOW ? 16 : 4;

    /** A golden case, its greedy ids cut to the first {@link #GOLDEN_TOKENS} (greedy tokens depend only on those before). */
    record Golden(String prompt, int[] promptIds, int[] greedyIds) {}

    private static List<Golden> golden;
    private static EngineBatchModel model;
    private static Scheduler scheduler;
    private static Server server;

    @BeforeAll
    static void start() throws Exception {
        Path folder = SharedAssets.require("models/tiny-llama");
        Path file = SharedAssets.require("golden/tiny-llama.golden.json");
        golden = JsonFields.of(Json.parse(file), file.toString()).objects("cases").stream()
                .map(c -> new Golden(c.string("prompt"), ints(c.integers("prompt_ids")),
                        Arrays.copyOf(ints(c.integers("greedy_ids")), GOLDEN_TOKENS))).toList();
        Model loaded = ModelLoader.load(folder);
        model = new EngineBatchModel(Backends.open("jvm"), loaded, EngineOptions.defaults().withMaxSequences(OTHERS + 8).withMaxContext(128),
                EngineBatchModel.modelName(folder), EngineBatchModel.chatTemplate(folder));
        scheduler = new Scheduler(model, new Scheduler.Config(64, 128));
        server = Server.start(scheduler, Server.Config.defaults().withPort(0));
    }

    @AfterAll
    static void stop() {
        if (server != null) server.shutdown(Duration.ofSeconds(1));
    }

    private static int[] ints(long[] values) {
        int[] out = new int[values.length];
        for (int i = 0; i < out.length; i++) out[i] = Math.toIntExact(values[i]);
        return out;
    }

    private static GenerationRequest greedy(int[] prompt) {
        return new GenerationRequest(prompt, GOLDEN_TOKENS, SamplingParams.greedy(), List.of(), new int[0], true, false);
    }

    @Test
    void goldenGreedyTokensAloneAndAmongOthers() throws Exception {
        for (Golden g : golden) {
            assertArrayEquals(g.promptIds(), model.tokenizer().encode(g.prompt(), true), "tokenizer on \"" + g.prompt() + "\"");
            assertArrayEquals(g.greedyIds(), scheduler.submit(greedy(g.promptIds())).result().get(5, TimeUnit.MINUTES).tokens(), "alone: " + g.prompt());
        }
        List<Generation> others = new ArrayList<>();
        for (int i = 0; i < OTHERS; i++) {
            int[] prompt = model.tokenizer().encode("Story number " + i + ": once there was", true);
            others.add(scheduler.submit(new GenerationRequest(prompt, 8 + i, new SamplingParams(0.8f, 0.95f, 40, i), List.of(), new int[0], true, false)));
        }
        List<Generation> goldenRuns = new ArrayList<>();
        for (Golden g : golden) goldenRuns.add(scheduler.submit(greedy(g.promptIds())));
        for (int i = 0; i < golden.size(); i++)
            assertArrayEquals(golden.get(i).greedyIds(), goldenRuns.get(i).result().get(5, TimeUnit.MINUTES).tokens(), "among others: " + golden.get(i).prompt());
        for (int i = 0; i < others.size(); i++) assertEquals(8 + i, others.get(i).result().get(5, TimeUnit.MINUTES).tokens().length);
        SchedulerTest.waitUntil("blocks freed", () -> scheduler.metrics().kvBlocksUsed() == 0);
    }

    @Test
    void goldenOverHttpWholeAndStreamed() throws Exception {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        Golden g = golden.getFirst();
        String expected = model.tokenizer().decode(g.greedyIds());
        for (boolean stream : new boolean[] {false, true}) {
            String body = "{\"prompt\": " + Json.quote(g.prompt()) + ", \"max_tokens\": " + GOLDEN_TOKENS
                    + ", \"temperature\": 0, \"ignore_eos\": true, \"stream\": " + stream + "}";
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(server.baseUri().resolve("/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            if (stream) {
                StringBuilder text = new StringBuilder();
                for (var e : events(r.body())) text.append((String) at(e, "choices", 0, "text"));
                assertEquals(expected, text.toString());
            } else {
                assertEquals(expected, at(json(r), "choices", 0, "text"));
                assertEquals((long) g.promptIds().length, (Long) at(json(r), "usage", "prompt_tokens"));
            }
        }
    }
}
