package polar.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import polar.cli.UsageException;
import polar.formats.Json;
import polar.formats.JsonFields;

/** {@code polar bench serve} against the fake model, and the arithmetic of its report. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ServeBenchTest {

    @Test
    void percentilesAreNearestRank() {
        double[] hundred = new double[100];
        for (int i = 0; i < 100; i++) hundred[99 - i] = i + 1; // 100 .. 1, unsorted on purpose
        LoadGenerator.Percentiles p = LoadGenerator.Percentiles.of(hundred);
        assertEquals(50, p.p50());
        assertEquals(90, p.p90());
        assertEquals(99, p.p99());
        assertEquals(100, p.max());
        assertEquals(50.5, p.mean(), 1e-12);
        assertEquals(7, LoadGenerator.Percentiles.of(new double[] {7}).p99());
        assertTrue(Double.isNaN(LoadGenerator.Percentiles.of(new double[0]).p50()));
    }

    @Test
    void reportCountsTokensAndTimesFromOutcomes() {
        long ms = 1_000_000;
        // Streamed: sent at 0, tokens at 10, 12, 16 ms, done at 20 ms. Whole: 0 .. 30 ms. Failed: not counted.
        var streamed = new LoadGenerator.Outcome(0, null, "a", "xyz", "length", 3, 0, 20 * ms, new long[] {10 * ms, 12 * ms, 16 * ms});
        var whole = new LoadGenerator.Outcome(1, null, "b", "uv", "length", 2, 0, 30 * ms, new long[0]);
        var failed = LoadGenerator.Outcome.failed(2, "HTTP 503: busy", 0);
        LoadGenerator.Report r = LoadGenerator.Report.of(4, new LoadGenerator.Run(List.of(streamed, whole, failed), 500 * ms));
        assertEquals(3, r.sent());
        assertEquals(2, r.done());
        assertEquals(1, r.failed());
        assertEquals(5, r.outputTokens());
        assertEquals(10, r.outputTokensPerSecond(), 1e-9);
        assertEquals(1, r.ttftMs().count());
        assertEquals(10, r.ttftMs().p50(), 1e-9);
        assertEquals(List.of(2.0, 4.0), List.of(r.itlMs().p50(), r.itlMs().max()));
        assertEquals(5, r.tpotMs().p50(), 1e-9, "(20 - 10) ms over 2 more tokens");
        assertEquals(30, r.latencyMs().max(), 1e-9);
        assertEquals(List.of("HTTP 503: busy"), r.errors());
    }

    @Test
    void benchServeMeasuresAFakeServerAndTablesItsReport(@TempDir Path dir) throws Exception {
        try (TestServer server = new TestServer(FakeBatchModel.roomy().stepDelay(100))) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
            Path json = dir.resolve("fake.json");
            int rc = ServeBench.run(new String[] {"--url", server.server.baseUri().toString(), "--clients", "8", "--requests", "40",
                    "--prompt-tokens", "5", "--max-tokens", "6", "--warmup", "8", "--label", "fake c8", "--json", json.toString()}, out);
            assertEquals(0, rc, bytes.toString());
            JsonFields doc = JsonFields.of(Json.parse(json), json.toString()), report = doc.object("report");
            assertEquals("fake-model", doc.string("model"), "the model named by /v1/models");
            assertEquals(40, report.integer("requests_done"));
            assertEquals(40 * 6, report.integer("output_tokens"), "EOS ignored: every request ran to max_tokens");
            assertEquals(40, report.object("ttft_ms").integer("count"));
            long gaps = report.object("itl_ms").integer("count"); // 5 between 6 tokens, fewer where a token has no text (EOS)
            assertTrue(gaps > 40 * 3 && gaps <= 40 * 5, "inter-token gaps: " + gaps);
            assertEquals(0, server.scheduler.metrics().finishedCount(Metrics.Outcome.ERROR));

            bytes.reset();
            assertEquals(0, ServeBench.run(new String[] {"--table", json.toString()}, out));
            String[] lines = bytes.toString().split("\n");
            assertEquals(3, lines.length, bytes.toString());
            assertTrue(lines[0].startsWith("run") && lines[2].startsWith("fake c8") && lines[2].contains(" 40 "), bytes.toString());
        }
    }

    @Test
    void badOptionsSayWhy() {
        assertEquals("--clients must be an integer in [1, 100000], got '0'",
                assertThrows(UsageException.class, () -> ServeBench.Options.parse(new String[] {"--clients", "0"})).getMessage());
        assertEquals("--url must be http(s)://HOST:PORT, got localhost:8080",
                assertThrows(UsageException.class, () -> ServeBench.Options.parse(new String[] {"--url", "localhost:8080"})).getMessage());
        assertEquals("unknown option --qps", assertThrows(UsageException.class, () -> ServeBench.Options.parse(new String[] {"--qps", "3"})).getMessage());
    }
}
