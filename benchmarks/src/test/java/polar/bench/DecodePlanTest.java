package polar.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import polar.model.BenchModel;

class DecodePlanTest {
    @TempDir
    Path dir;

    @Test
    void readsRowsWithSparsityAndBreakdown() throws IOException {
        Path plan = Files.writeString(dir.resolve("plan.txt"), """
                # comment
                llama2-7b 16 4096            # dense
                llama3-8b 64 4096 0.625 1 breakdown
                opt-6.7b 1 1920 0.5 0.1 target 2.2 breakdown
                llama2-7b 16 4096 target 1
                """);
        List<DecodePlan.Row> rows = DecodePlan.read(plan);
        assertEquals(4, rows.size());
        assertEquals(new DecodePlan.Row(BenchModel.LLAMA2_7B, 16, 4096, Sparsity.DENSE, false), rows.get(0));
        assertEquals(new DecodePlan.Row(BenchModel.LLAMA3_8B, 64, 4096, new Sparsity(0.625, 1), true), rows.get(1));
        assertEquals(new DecodePlan.Row(BenchModel.OPT_6_7B, 1, 1920, new Sparsity(0.5, 0.1), true, 2.2), rows.get(2));
        assertEquals(new DecodePlan.Row(BenchModel.LLAMA2_7B, 16, 4096, Sparsity.DENSE, false, 1.0), rows.get(3));
    }

    @Test
    void badTargetsAndTrailingWordsAreErrors() throws IOException {
        Path plan = Files.writeString(dir.resolve("plan.txt"), "llama2-7b 16 4096 target 0\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DecodePlan.read(plan)).getMessage().contains("positive ratio"));
        Path words = Files.writeString(dir.resolve("words.txt"), "llama2-7b 16 4096 0.5 1 fast\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DecodePlan.read(words)).getMessage().contains(DecodePlan.FORMAT));
    }

    @Test
    void badRowNamesFileAndLine() throws IOException {
        Path plan = Files.writeString(dir.resolve("plan.txt"), "llama2-7b 16 4096\nllama9 1 1\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DecodePlan.read(plan));
        assertTrue(e.getMessage().startsWith(plan + ":2: unknown model shape 'llama9'"), e.getMessage());
    }

    /** The GPU plan holds issue 5's target rows, dense and Polar, and each Polar row of the sweeps has its dense twin. */
    @Test
    void theSharedPlanHasTheIssueTargets() throws IOException {
        List<DecodePlan.Row> rows = DecodePlan.read(Path.of("peers/decode-plan.txt"));
        Map<String, Double> targets = new TreeMap<>();
        for (DecodePlan.Row r : rows) {
            if (r.target() > 0) targets.put(r.model().id() + " b" + r.batch() + " c" + r.context() + " " + r.sparsity().label(), r.target());
        }
        assertEquals(Map.of(
                "llama2-7b b16 c4096 dense", 1.0,
                "llama3-8b b64 c4096 dense", 1.0,
                "llama2-7b b16 c4096 polar(heads 0.5, mlp 1)", 1.5,
                "llama3-8b b64 c4096 polar(heads 0.625, mlp 1)", 1.25,
                "opt-6.7b b1 c1920 polar(heads 0.5, mlp 0.1)", 2.2,
                "opt-6.7b b64 c1920 polar(heads 0.5, mlp 0.77)", 1.8), targets);
        for (DecodePlan.Row r : rows) {
            if (r.sparsity().dense()) continue;
            assertTrue(rows.stream().anyMatch(d -> d.sparsity().dense() && d.model() == r.model() && d.batch() == r.batch() && d.context() == r.context()),
                    "dense twin of " + r);
        }
        assertEquals(rows.size(), rows.stream().distinct().count(), "no row twice");
    }
}
