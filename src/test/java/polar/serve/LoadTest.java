package polar.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * 64 concurrent clients send 500 requests (half streamed) through the {@link LoadGenerator} that
 * {@code polar bench serve} uses; every response must be exactly its own, and the report must add up.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class LoadTest {
    private static final int CLIENTS = 64, REQUESTS = 500;
    private static final FakeTokenizer TOKENIZER = new FakeTokenizer();

    static String prompt(int i) { return "load request " + i + " of " + REQUESTS; }

    static int maxTokens(int i) { return 8 + i * 7 % 33; }

    @Test
    void manyConcurrentClientsLoseAndDuplicateNothing() throws Exception {
        FakeBatchModel model = FakeBatchModel.roomy().stepDelay(200);
        try (TestServer server = new TestServer(model, new Scheduler.Config(REQUESTS, 512), Server.Config.defaults())) {
            LoadGenerator generator = new LoadGenerator(new LoadGenerator.Target(server.server.baseUri(), null, null, Duration.ofSeconds(20)));
            LoadGenerator.Run run = generator.run(CLIENTS, REQUESTS, i -> LoadGenerator.Request.text(prompt(i), maxTokens(i), i % 2 == 1), null);

            List<LoadGenerator.Outcome> outcomes = run.outcomes();
            assertEquals(REQUESTS, outcomes.size());
            Set<String> ids = new HashSet<>();
            long tokens = 0;
            for (int i = 0; i < REQUESTS; i++) {
                LoadGenerator.Outcome o = outcomes.get(i);
                assertEquals(i, o.index());
                assertTrue(o.ok(), "request " + i + ": " + o.error());
                int[] expected = FakeBatchModel.referenceGreedy(TOKENIZER.encode(prompt(i), true), maxTokens(i), false);
                assertEquals(TOKENIZER.decode(expected), o.text(), "request " + i + " got its own text");
                assertEquals(expected.length, o.completionTokens(), "request " + i);
                assertEquals(expected[expected.length - 1] == FakeTokenizer.EOS ? "stop" : "length", o.finishReason());
                assertTrue(ids.add(o.id()), "duplicate id " + o.id());
                if (i % 2 == 1) assertTrue(o.tokenNanos().length > 0 && o.firstTokenNanos() > 0, "streamed request " + i + " was timed per token");
                tokens += o.completionTokens();
            }
            SchedulerTest.waitUntil("blocks freed", () -> model.usedBlocks() == 0);
            Metrics m = server.scheduler.metrics();
            assertEquals(REQUESTS, m.finishedCount(Metrics.Outcome.STOP) + m.finishedCount(Metrics.Outcome.LENGTH));
            assertEquals(0, m.finishedCount(Metrics.Outcome.ERROR) + m.finishedCount(Metrics.Outcome.CANCELLED));

            LoadGenerator.Report report = LoadGenerator.Report.of(CLIENTS, run);
            assertEquals(REQUESTS, report.done());
            assertEquals(0, report.failed());
            assertEquals(tokens, report.outputTokens());
            assertEquals(REQUESTS / 2, report.ttftMs().count(), "every streamed request has a time to first token");
            assertTrue(report.itlMs().p50() > 0 && report.ttftMs().p99() <= report.latencyMs().max());
            int[] batches = model.decodeBatchSizes();
            double meanBatch = Arrays.stream(batches).average().orElse(0);
            System.out.printf("load: mean decode batch %.1f (max %d)%n%s", meanBatch, Arrays.stream(batches).max().orElse(0), report.text());
            assertTrue(meanBatch > 2, "continuous batching batches under load: mean " + meanBatch);
        }
    }

    /** More clients than the JDK server keeps idle connections by default (200): none may find its connection closed. */
    @Test
    void twoHundredFiftySixClientsKeepTheirConnections() throws Exception {
        try (TestServer server = new TestServer(new FakeBatchModel(256, 256, 4, 8192).stepDelay(200), new Scheduler.Config(4096, 512), Server.Config.defaults())) {
            LoadGenerator generator = new LoadGenerator(new LoadGenerator.Target(server.server.baseUri(), null, null, Duration.ofSeconds(20)));
            LoadGenerator.Run run = generator.run(256, 1024, i -> LoadGenerator.Request.tokens(new int[] {5, 6, 7, 3 + i % 50}, 4, i % 2 == 0), null);
            LoadGenerator.Report report = LoadGenerator.Report.of(256, run);
            assertEquals(0, report.failed(), report.errors().toString());
            assertEquals(1024 * 4, report.outputTokens());
        }
    }
}
