package polar.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import polar.formats.Json;
import polar.formats.JsonFields;
import polar.model.SharedAssets;

/** The {@code polar} command line: generation on the embedded model, and one-line errors with exit codes. */
class PolarTest {
    @TempDir
    static Path cache;

    @BeforeAll
    static void extractIntoTemp() { System.setProperty("polar.cache", cache.toString()); }

    @AfterAll
    static void restore() { System.clearProperty("polar.cache"); }

    record Run(int code, String out, String err) {}

    static Run polar(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Polar.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** JSON output on the embedded model (tiny-llama) continues a golden prompt with the golden greedy tokens. */
    @Test
    void generateJsonOnTheEmbeddedModelMatchesGolden() throws Exception {
        JsonFields golden = JsonFields.of(Json.parse(SharedAssets.require("golden/tiny-llama.golden.json")), "golden").objects("cases").getFirst();
        Run r = polar("generate", "-p", golden.string("prompt"), "-n", "24", "--format", "json", "--backend", "jvm");
        assertEquals(0, r.code(), r.err());
        JsonFields doc = JsonFields.of(Json.parse(r.out().strip()), "output");
        assertArrayEquals(golden.integers("prompt_ids"), doc.integers("prompt_ids"));
        assertArrayEquals(golden.integers("greedy_ids"), doc.integers("generated_ids"));
        assertEquals(golden.string("greedy_text"), doc.string("text"));
    }

    @Test
    void generateTextStreamsAndSummarises() {
        Run r = polar("generate", "-p", "Once upon a time", "-n", "6", "--backend", "jvm", "--temperature", "0.8", "--top-p", "0.9", "--seed", "3");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().strip().length() > 3, "some text: " + r.out());
        assertTrue(r.err().contains("prefill") && r.err().contains("decode") && r.err().contains("tokens/s"), r.err());
    }

    @Test
    void badUsageIsOneLineAndExitCode2() {
        for (List<String> args : List.<List<String>>of(List.of("generate"), List.of("generate", "-p", "x", "--frobnicate"), List.of("generate", "-p", "x", "-n", "many"),
                List.of("generate", "-p", "x", "--backend", "tpu"), List.of("generate", "-p", "x", "--top-p", "0"), List.of("fly"), List.of())) {
            Run r = polar(args.toArray(String[]::new));
            assertEquals(2, r.code(), args + " -> " + r.err());
            if (!args.isEmpty()) assertEquals(1, r.err().strip().lines().count(), args + " -> " + r.err());
        }
        assertTrue(polar("generate").err().contains("a prompt is required"));
        assertTrue(polar("generate", "-p", "x", "--frobnicate").err().contains("unknown option --frobnicate"));
    }

    @Test
    void helpListsCommands() {
        Run r = polar("--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("generate"), r.out());
        Run g = polar("generate", "--help");
        assertEquals(0, g.code());
        assertTrue(g.out().contains("--temperature") && g.out().contains("--format"), g.out());
    }

    @Test
    void runtimeErrorsAreOneLineAndExitCode1() {
        Run missing = polar("generate", "-m", "/nowhere/model", "-p", "x", "--backend", "jvm");
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("/nowhere/model"), missing.err());
        Run sparse = polar("generate", "-p", "x", "--sparsity", "polar", "--backend", "jvm");
        assertEquals(1, sparse.code());
        assertTrue(sparse.err().contains("polar-sparsity.json"), sparse.err());
        Run tooLong = polar("generate", "-p", "word ".repeat(1100), "--backend", "jvm");
        assertEquals(1, tooLong.code());
        assertTrue(tooLong.err().contains("more than the model's context of 1024"), tooLong.err());
        assertEquals(1, tooLong.err().strip().lines().count(), tooLong.err());
    }

    /** Teacher-forced perplexity: polar with every unit selected equals dense; at density 0.5 it is finite. */
    @Test
    void evalPerplexityDenseAndPolar() throws Exception {
        Path model = SharedAssets.require("models/tiny-opt");
        Path text = SharedAssets.require("corpus/tinystories/valid-sample.txt");
        Path routers = polar.engine.sparsity.PolarDecodeTest.trained("tiny-opt");
        String[] common = {"eval", "perplexity", "-m", model.toString(), "--text", text.toString(), "--window", "16", "--max-tokens", "32",
                "--backend", "jvm", "--format", "json"};
        Run dense = polar(common);
        assertEquals(0, dense.code(), dense.err());
        JsonFields d = JsonFields.of(Json.parse(dense.out().strip()), "dense");
        Run full = polar(concat(common, "--sparsity", "polar", "--routers", routers.toString(), "--attn-density", "1", "--mlp", "dense"));
        assertEquals(0, full.code(), full.err());
        JsonFields f = JsonFields.of(Json.parse(full.out().strip()), "polar 1.0");
        Run half = polar(concat(common, "--sparsity", "polar", "--routers", routers.toString(), "--attn-density", "0.5"));
        assertEquals(0, half.code(), half.err());
        double h = JsonFields.of(Json.parse(half.out().strip()), "polar 0.5").number("perplexity");
        assertEquals(30, d.integer("tokens"));
        assertEquals(d.number("perplexity"), f.number("perplexity"), 1e-4 * d.number("perplexity"));
        assertTrue(Double.isFinite(h) && h > 1, "perplexity " + h);
        // The oracle needs no router files (the model folder has none: the default plan); it keeps every unit at density 1.
        Run oracleFull = polar(concat(common, "--sparsity", "polar", "--oracle", "--attn-density", "1"));
        assertEquals(0, oracleFull.code(), oracleFull.err());
        JsonFields of = JsonFields.of(Json.parse(oracleFull.out().strip()), "oracle 1.0");
        assertEquals("oracle", of.string("attn_selection"));
        assertEquals(d.number("perplexity"), of.number("perplexity"), 1e-4 * d.number("perplexity"));
        Run oracleHalf = polar(concat(common, "--sparsity", "polar", "--oracle", "--attn-density", "0.5"));
        assertEquals(0, oracleHalf.code(), oracleHalf.err());
        double o = JsonFields.of(Json.parse(oracleHalf.out().strip()), "oracle 0.5").number("perplexity");
        assertTrue(Double.isFinite(o) && o != d.number("perplexity"), "oracle perplexity " + o);
        Run noPolar = polar(concat(common, "--oracle"));
        assertEquals(2, noPolar.code(), noPolar.err());
        assertTrue(noPolar.err().contains("--oracle"), noPolar.err());
    }

    private static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
