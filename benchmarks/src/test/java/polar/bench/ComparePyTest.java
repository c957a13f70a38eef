package polar.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import polar.formats.Json;
import polar.formats.JsonFields;

/**
 * {@code peers/compare.py} over DecodeBench's real JSON (smoke rows on the JVM, their speeds then
 * set to known values) and a peer file of dense rows: Polar rows are set against the peer's dense
 * row of the same shape, targets come from the plan, and the target table is printed last.
 * Skipped where there is no {@code python3}.
 */
class ComparePyTest {
    @TempDir
    Path dir;

    @Test
    void polarRowsCompareWithThePeersDenseRowAndTargetsAreNamed() throws Exception {
        Assumptions.assumeTrue(python3Works(), "no python3");
        Path plan = Files.writeString(dir.resolve("plan.txt"), """
                smoke-opt   2 64              target 1.0
                smoke-opt   2 64  0.5 0.1     target 1.5
                smoke-llama 2 64
                smoke-llama 2 64  0.5 1       target 3
                """);
        Path polarJson = dir.resolve("polar.json");
        int exit = DecodeBench.run(new String[] {"--backend", "jvm", "--plan", plan.toString(), "--warmup", "0", "--repeats", "1",
                "--json", polarJson.toString()}, new PrintStream(new ByteArrayOutputStream(), true));
        assertEquals(0, exit);

        // Known speeds: Polar opt dense 100 tokens/s, polar 200; llama dense 100, polar 150. Peer: opt 80, llama 100.
        @SuppressWarnings("unchecked")
        Map<String, Object> polar = (Map<String, Object>) Json.parse(polarJson);
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> rows = (List<Map<String, Object>>) polar.get("rows");
        double[] tokens = {100, 200, 100, 150};
        for (int i = 0; i < rows.size(); i++) setSpeed(rows.get(i), tokens[i]);
        Files.writeString(polarJson, Json.writePretty(polar));
        List<Object> peerRows = new ArrayList<>();
        peerRows.add(peerRow("smoke-opt", 80));
        peerRows.add(peerRow("smoke-llama", 100));
        Map<String, Object> peer = new LinkedHashMap<>(Map.of("engine", "torch", "device", "test", "copy_gb_per_s", 1.0, "rows", peerRows));
        Path peerJson = Files.writeString(dir.resolve("torch.json"), Json.writePretty(peer));

        Path out = dir.resolve("compare.json");
        Process p = new ProcessBuilder("python3", "peers/compare.py", polarJson.toString(), peerJson.toString(), "--json", out.toString())
                .redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), text);

        List<JsonFields> compared = JsonFields.of(Json.parse(out), out.toString()).objects("rows");
        assertEquals(1.25, compared.get(0).number("ratio"), 1e-9);
        assertEquals(2.5, compared.get(1).number("ratio"), 1e-9, "the polar row against the peer's dense row of its shape");
        assertEquals(1.25, compared.get(1).number("dense_ratio"), 1e-9, "and Polar's own dense row beside it");
        assertEquals(2.0, compared.get(1).number("speedup_over_dense"), 1e-9);
        assertTrue(compared.get(1).bool("target_met", false));
        assertEquals(1.5, compared.get(3).number("ratio"), 1e-9);
        assertTrue(!compared.get(3).bool("target_met", true), "1.5 < 3");

        String[] lines = text.strip().split("\n");
        assertTrue(lines[lines.length - 1].startsWith("targets: 2 of 3 met; missed or not run: smoke-llama b2 c64 heads 0.5 mlp 1"), text);
        assertTrue(text.contains("MISSED"), text);
    }

    private static void setSpeed(Map<String, Object> row, double tokensPerS) {
        double ms = ((Number) row.get("batch")).intValue() * 1000.0 / tokensPerS;
        row.put("step_ms", ms);
        row.put("tokens_per_s", tokensPerS);
        row.put("fraction_of_bound", ((Number) row.get("bound_ms")).doubleValue() / ms);
    }

    private static Map<String, Object> peerRow(String model, double tokensPerS) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", model);
        r.put("batch", 2);
        r.put("context", 64);
        r.put("sparsity", "dense");
        r.put("heads_density", 1.0);
        r.put("mlp_density", 1.0);
        r.put("status", "ok");
        r.put("step_ms", 2000.0 / tokensPerS);
        r.put("tokens_per_s", tokensPerS);
        r.put("fraction_of_bound", 0.5);
        r.put("attention_share", 0.25);
        return r;
    }

    private static boolean python3Works() {
        try {
            Process p = new ProcessBuilder("python3", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }
}
