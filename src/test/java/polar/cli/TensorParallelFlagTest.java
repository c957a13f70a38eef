package polar.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static polar.cli.PolarTest.polar;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import polar.formats.Json;
import polar.formats.JsonFields;
import polar.model.SharedAssets;

/**
 * {@code --tensor-parallel N} on the commands that run a model, with simulated ranks on the jvm
 * backend: the same greedy tokens and perplexity as one rank, and clear refusals.
 */
class TensorParallelFlagTest {
    @TempDir
    static Path cache;

    @BeforeAll
    static void extractIntoTemp() { System.setProperty("polar.cache", cache.toString()); }

    @AfterAll
    static void restore() { System.clearProperty("polar.cache"); }

    /** tiny-llama (the embedded model) split over 2 ranks continues a golden prompt with PyTorch's greedy tokens. */
    @Test
    void generateOverTwoRanksMatchesGolden() throws Exception {
        JsonFields golden = JsonFields.of(Json.parse(SharedAssets.require("golden/tiny-llama.golden.json")), "golden").objects("cases").getFirst();
        PolarTest.Run r = polar("generate", "-p", golden.string("prompt"), "-n", "16", "--format", "json", "--backend", "jvm", "--tensor-parallel", "2");
        assertEquals(0, r.code(), r.err());
        long[] expected = java.util.Arrays.copyOf(golden.integers("greedy_ids"), 16);
        assertArrayEquals(expected, JsonFields.of(Json.parse(r.out().strip()), "output").integers("generated_ids"));
    }

    /** The text summary names the ranks it ran on. */
    @Test
    void generateTextSaysWhereItRan() {
        PolarTest.Run r = polar("generate", "-p", "Once upon a time", "-n", "3", "--backend", "jvm", "--tensor-parallel", "2");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("tensor-parallel over 2 simulated ranks on jvm"), r.err());
    }

    /** Teacher-forced perplexity of tiny-opt over 4 ranks equals one rank's (sums in another order: 1e-5 relative). */
    @Test
    void evalPerplexityOverFourRanksEqualsOneRank() throws Exception {
        String[] common = {"eval", "perplexity", "-m", SharedAssets.require("models/tiny-opt").toString(),
                "--text", SharedAssets.require("corpus/tinystories/valid-sample.txt").toString(), "--window", "16", "--max-tokens", "32",
                "--backend", "jvm", "--format", "json"};
        PolarTest.Run one = polar(common);
        PolarTest.Run four = polar(concat(common, "--tensor-parallel", "4"));
        assertEquals(0, one.code(), one.err());
        assertEquals(0, four.code(), four.err());
        JsonFields a = JsonFields.of(Json.parse(one.out().strip()), "1 rank"), b = JsonFields.of(Json.parse(four.out().strip()), "4 ranks");
        assertEquals(a.integer("tokens"), b.integer("tokens"));
        assertEquals(a.number("perplexity"), b.number("perplexity"), 1e-5 * a.number("perplexity"));
    }

    /** Degrees outside 1, 2, 4, 8 are usage errors (exit 2); a model that does not split says which count (exit 1). */
    @Test
    void refusals() {
        PolarTest.Run three = polar("generate", "-p", "x", "--backend", "jvm", "--tensor-parallel", "3");
        assertEquals(2, three.code());
        assertTrue(three.err().contains("--tensor-parallel must be one of 1, 2, 4, 8"), three.err());
        PolarTest.Run eight = polar("generate", "-p", "x", "--backend", "jvm", "--tensor-parallel", "8");
        assertEquals(1, eight.code());
        assertTrue(eight.err().contains("4 KV heads") && eight.err().contains("not a multiple of 8"), eight.err());
        assertEquals(1, eight.err().strip().lines().count(), eight.err());
    }

    private static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
