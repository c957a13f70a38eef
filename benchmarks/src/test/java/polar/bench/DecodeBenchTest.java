package polar.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import polar.formats.Json;
import polar.formats.JsonFields;
import polar.model.Architecture;

/** The harness end to end on the JVM backend, over the smoke shapes. */
class DecodeBenchTest {
    @TempDir
    Path dir;

    @Test
    void smokeRowsRunOrSayWhyNot() throws Exception {
        Path plan = Files.writeString(dir.resolve("plan.txt"), """
                smoke-llama 2 40 breakdown
                smoke-opt   3 17
                smoke-opt   2 40 0.5 0.1
                smoke-llama 1 5000
                """);
        Path json = dir.resolve("out.json");
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        int exit = DecodeBench.run(new String[] {"--backend", "jvm", "--plan", plan.toString(), "--warmup", "0", "--repeats", "1",
                "--json", json.toString()}, new PrintStream(text, true));
        assertEquals(0, exit, text.toString());

        List<JsonFields> rows = JsonFields.of(Json.parse(json), json.toString()).objects("rows");
        assertEquals(List.of("ok", "ok", "unavailable", "skipped"), rows.stream().map(r -> r.string("status")).toList());
        for (JsonFields r : rows.subList(0, 2)) {
            assertTrue(r.number("step_ms") > 0);
            assertEquals(r.integer("batch") * 1000.0 / r.number("step_ms"), r.number("tokens_per_s"), 1e-9);
            assertTrue(r.bool("logits_finite", false), "random weights give finite logits");
            assertEquals(r.number("bound_ms") / r.number("step_ms"), r.number("fraction_of_bound"), 1e-9);
        }
        JsonFields breakdown = rows.get(0).object("breakdown");
        assertTrue(breakdown.objects("tasks").size() >= 8, "one entry per task of the layer");
        assertTrue(breakdown.string("dominant_task").length() > 0);
        assertTrue(rows.get(3).string("reason").contains("exceeds the model's 1024 positions"));
        assertTrue(text.toString().contains("smoke-opt"), "prints a table");
    }

    @Test
    void float32BuildsEverywhere() {
        for (Architecture a : Architecture.values()) assertNull(Numerics.unsupported(Numerics.FLOAT32, a));
    }
}
