package polar.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
                """);
        List<DecodePlan.Row> rows = DecodePlan.read(plan);
        assertEquals(2, rows.size());
        assertEquals(new DecodePlan.Row(BenchModel.LLAMA2_7B, 16, 4096, Sparsity.DENSE, false), rows.get(0));
        assertEquals(new DecodePlan.Row(BenchModel.LLAMA3_8B, 64, 4096, new Sparsity(0.625, 1), true), rows.get(1));
    }

    @Test
    void badRowNamesFileAndLine() throws IOException {
        Path plan = Files.writeString(dir.resolve("plan.txt"), "llama2-7b 16 4096\nllama9 1 1\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DecodePlan.read(plan));
        assertTrue(e.getMessage().startsWith(plan + ":2: unknown model shape 'llama9'"), e.getMessage());
    }

    @Test
    void theSharedPlanParses() throws IOException {
        List<DecodePlan.Row> rows = DecodePlan.read(Path.of("peers/decode-plan.txt"));
        assertTrue(rows.size() > 20);
        assertTrue(rows.stream().anyMatch(r -> !r.sparsity().dense()));
    }
}
