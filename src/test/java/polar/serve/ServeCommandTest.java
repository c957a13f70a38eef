package polar.serve;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import polar.cli.UsageException;

class ServeCommandTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
    private final AtomicReference<ServeCommand.ModelOptions> asked = new AtomicReference<>();
    private final ServeCommand command = new ServeCommand(o -> {
        asked.set(o);
        return FakeBatchModel.roomy();
    }, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));

    @Test
    void parsesEveryOption() {
        ServeCommand.Options o = ServeCommand.Options.parse(new String[] {"-m", "models/x", "--host", "0.0.0.0", "--port", "9000",
                "--api-key", "k", "--backend", "cuda", "--device", "1", "--sparsity", "polar", "--max-batch", "64", "--context", "2048",
                "--kv-blocks", "5000", "--queue", "10", "--prefill-chunk", "256", "--max-body", "1000", "--shutdown-grace", "5"});
        assertEquals("models/x", o.model);
        assertEquals("0.0.0.0", o.host);
        assertEquals(9000, o.port);
        assertEquals("k", o.apiKey);
        assertEquals("cuda", o.backend);
        assertEquals(1, o.device);
        assertEquals("polar", o.sparsity);
        assertEquals(64, o.maxBatch);
        assertEquals(2048, o.context);
        assertEquals(5000, o.kvBlocks);
        assertEquals(10, o.queue);
        assertEquals(256, o.prefillChunk);
        assertEquals(1000, o.maxBody);
        assertEquals(Duration.ofSeconds(5), o.grace);
        ServeCommand.Options defaults = ServeCommand.Options.parse(new String[0]);
        assertEquals("127.0.0.1", defaults.host, "loopback unless told otherwise");
        assertEquals(8080, defaults.port);
        assertNull(ServeCommand.Options.parse(new String[] {"--help"}));

        ServeCommand.Options polar = ServeCommand.Options.parse(new String[] {"-m", "synthetic:llama2-7b", "--tokenizer", "models/tiny",
                "--sparsity", "polar", "--routers", "r", "--attn-density", "0.25", "--mlp", "dense"});
        assertEquals(List.of("synthetic:llama2-7b", "models/tiny", "r", "dense"), List.of(polar.model, polar.tokenizer, polar.routers, polar.mlp));
        assertEquals(0.25, polar.attnDensity);
    }

    private void assertUsage(String message, String... args) {
        UsageException e = assertThrows(UsageException.class, () -> command.run(args));
        assertEquals(message, e.getMessage());
    }

    @Test
    void badArgumentsAreUsageErrorsThatSayWhy() {
        assertUsage("--port must be an integer in [0, 65535], got 'http'", "--port", "http");
        assertUsage("unknown option --frobnicate", "--frobnicate", "1");
        assertUsage("missing value after -m", "-m");
        assertUsage("--sparsity must be dense or polar, got half", "--sparsity", "half");
        assertUsage("--api-key is empty", "--api-key", " ");
        assertUsage("--routers, --attn-density and --mlp need --sparsity polar", "--attn-density", "0.5");
        assertUsage("--attn-density must be a number in (0, 1], got '1.5'", "--sparsity", "polar", "--attn-density", "1.5");
        assertUsage("--mlp must be polar or dense, got half", "--sparsity", "polar", "--mlp", "half");
        assertUsage("--tokenizer is for synthetic models (-m synthetic:SHAPE)", "-m", "models/x", "--tokenizer", "t");
        assertEquals(0, assertDoesNotThrow(() -> command.run(new String[] {"--help"})));
        assertTrue(out.toString().startsWith("usage: polar serve"));
        assertNull(asked.get(), "no model was loaded");
    }

    @Test
    void aPortInUseIsAClearError() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            IOException e = assertThrows(IOException.class, () -> command.run(new String[] {"-m", "fake", "--port", String.valueOf(taken.getLocalPort())}));
            assertTrue(e.getMessage().startsWith("cannot listen on 127.0.0.1:" + taken.getLocalPort()), e.getMessage());
        }
    }

    @Test
    void startsAServerOnTheLoadedModel() throws Exception {
        Server server = command.start(ServeCommand.Options.parse(new String[] {"-m", "some/model", "--port", "0", "--max-batch", "4", "--api-key", "k"}));
        try {
            assertEquals(new ServeCommand.ModelOptions("some/model", null, null, 0, "dense", null, 0, "polar", 4, 0, 0), asked.get());
            assertTrue(out.toString().contains("fake-model"), out.toString());
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(server.baseUri().resolve("/v1/models"))
                    .header("Authorization", "Bearer k").build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
        } finally {
            server.shutdown(Duration.ofSeconds(1));
        }
    }
}
