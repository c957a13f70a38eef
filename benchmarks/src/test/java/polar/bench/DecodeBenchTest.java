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
                smoke-llama 1 5000
                smoke-llama 2 40 1 0.5
                """);
        Path json = dir.resolve("out.json");
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        int exit = DecodeBench.run(new String[] {"--backend", "jvm", "--plan", plan.toString(), "--warmup", "0", "--repeats", "1",
                "--json", json.toString()}, new PrintStream(text, true));
        assertEquals(0, exit, text.toString());

        List<JsonFields> rows = JsonFields.of(Json.parse(json), json.toString()).objects("rows");
        assertEquals(List.of("ok", "ok", "skipped", "unavailable"), rows.stream().map(r -> r.string("status")).toList());
        for (JsonFields r : rows.subList(0, 2)) assertTimed(r);
        JsonFields breakdown = rows.get(0).object("breakdown");
        assertTrue(breakdown.objects("tasks").size() >= 8, "one entry per task of the layer");
        assertTrue(breakdown.string("dominant_task").length() > 0);
        assertTrue(rows.get(2).string("reason").contains("exceeds the model's 1024 positions"));
        assertTrue(rows.get(3).string("reason").contains("needs a ReLU model"), rows.get(3).string("reason"));
        assertTrue(text.toString().contains("smoke-opt"), "prints a table");
    }

    /** Polar rows run the routers, selective attention and the gathered MLP, and read fewer bytes than dense. */
    @Test
    void polarRowsRunWithValidRouterSelections() throws Exception {
        Path plan = Files.writeString(dir.resolve("plan.txt"), """
                smoke-opt   8 300
                smoke-opt   8 300 0.5 0.1 breakdown
                smoke-llama 8 300
                smoke-llama 8 300 0.5 1
                """);
        Path json = dir.resolve("out.json");
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        int exit = DecodeBench.run(new String[] {"--backend", "jvm", "--plan", plan.toString(), "--warmup", "0", "--repeats", "1",
                "--json", json.toString()}, new PrintStream(text, true));
        assertEquals(0, exit, text.toString());
        List<JsonFields> rows = JsonFields.of(Json.parse(json), json.toString()).objects("rows");
        assertEquals(List.of("ok", "ok", "ok", "ok"), rows.stream().map(r -> r.string("status")).toList(), text.toString());
        for (JsonFields r : rows) assertTimed(r);

        JsonFields optDense = rows.get(0), opt = rows.get(1), llamaDense = rows.get(2), llama = rows.get(3);
        assertEquals("polar", opt.string("sparsity"));
        assertTrue(opt.bool("mlp_sparse", false));
        assertTrue(opt.number("bytes") < optDense.number("bytes"), "polar reads fewer bytes: " + opt.number("bytes") + " vs " + optDense.number("bytes"));
        assertTrue(opt.number("bytes_kv") < optDense.number("bytes_kv"));
        assertTrue(opt.number("bytes_routers") > 0);
        assertTrue(llama.number("bytes") < llamaDense.number("bytes"));
        assertTrue(llama.number("bytes_kv") < llamaDense.number("bytes_kv"));

        // smoke-opt: 4 heads, 2 kept per sequence; 8 sequences of random tokens choose different pairs.
        JsonFields sel = opt.object("selections");
        assertEquals(2, sel.integer("heads_per_sequence"));
        assertTrue(sel.integer("distinct_head_sets") >= 2, "router-chosen heads differ between sequences");
        assertEquals(128, sel.integer("neurons")); // 0.1 x 512, rounded up to 128
        assertEquals(1, llama.object("selections").integer("heads_per_sequence")); // 1 of 2 KV groups
        assertTrue(opt.object("breakdown").number("router_share_of_layer") > 0, "the breakdown counts the routers' tasks");
    }

    private static void assertTimed(JsonFields r) {
        assertTrue(Double.isFinite(r.number("step_ms")) && r.number("step_ms") > 0);
        assertEquals(r.integer("batch") * 1000.0 / r.number("step_ms"), r.number("tokens_per_s"), 1e-9);
        assertTrue(r.bool("logits_finite", false), "random weights give finite logits");
        assertEquals(r.number("bound_ms") / r.number("step_ms"), r.number("fraction_of_bound"), 1e-9);
    }

    @Test
    void float32BuildsEverywhere() {
        for (Architecture a : Architecture.values()) assertNull(Numerics.unsupported(Numerics.FLOAT32, a));
    }
}
