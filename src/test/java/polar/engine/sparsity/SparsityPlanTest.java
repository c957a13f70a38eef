package polar.engine.sparsity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import polar.model.Architecture;
import polar.model.ModelConfig;

class SparsityPlanTest {

    static ModelConfig config(Architecture arch, int heads, int kvHeads, int ffn) {
        return new ModelConfig(arch, 4096, 256, 6, heads, kvHeads, 32, ffn, 2048, 1e-5f, 10000f, null, 32, 0, false, 1, new int[] {2});
    }

    static final ModelConfig TINY_OPT = config(Architecture.OPT, 8, 8, 1024);
    static final ModelConfig TINY_LLAMA = config(Architecture.LLAMA, 8, 4, 704);

    @Test
    void defaultsKeepHalfOfHeadsForMhaAndFiveEighthsOfKvGroupsForGqa() {
        SparsityPlan opt = SparsityPlan.defaults(TINY_OPT);
        assertEquals(AttentionUnit.HEADS, opt.attentionUnit());
        assertEquals(8, opt.attnK(0), "layer 0 is dense");
        for (int l = 1; l < 6; l++) assertEquals(4, opt.attnK(l));
        assertTrue(opt.attnDense(0));
        assertFalse(opt.attnDense(1));

        SparsityPlan llama = SparsityPlan.defaults(TINY_LLAMA);
        assertEquals(AttentionUnit.KV_GROUPS, llama.attentionUnit());
        assertEquals(4, llama.units());
        assertEquals(4, llama.attnK(0));
        assertEquals(3, llama.attnK(1), "round(0.625 * 4) = round(2.5) = 3");
        assertNull(llama.mlp());
        assertTrue(llama.mlpDense(3, 1));
    }

    @Test
    void attentionDensityFlagSetsEveryLayerButTheFirstAndKeepsAtLeastOneUnit() {
        SparsityPlan p = SparsityPlan.defaults(TINY_OPT).withAttentionDensity(0.25);
        assertEquals(8, p.attnK(0));
        assertEquals(2, p.attnK(5));
        assertEquals(1, p.withAttentionDensity(0.01).attnK(2));
        assertEquals(8, p.withAttentionDensity(1.0).attnK(2));
        assertTrue(p.withAttentionDensity(1.0).attnDense(2));
        assertEquals(6, p.withAttentionDensity(3, 0.75).attnK(3));
        assertEquals(2, p.withAttentionDensity(3, 0.75).attnK(4));
        assertThrows(IllegalArgumentException.class, () -> p.withAttentionDensity(0));
        assertThrows(IllegalArgumentException.class, () -> p.withAttentionDensity(1.5));
        assertThrows(IllegalArgumentException.class, () -> p.withAttentionDensity(0, 0.5));
    }

    static MlpTable table() {
        int[] batch = {1, 2, 4, 8, 16};
        int[][] k = new int[6][];
        for (int l = 0; l < 6; l++) k[l] = new int[] {64, 96, 160, 512, 960};
        return new MlpTable(1024, 32, MlpTable.DEFAULT_DENSE_ABOVE, MlpScore.SOFTPLUS_SUM, 0.99, batch, k);
    }

    @Test
    void mlpLookupRoundsTheBatchSizeUpAndFallsBackToDenseAboveEightyPercent() {
        SparsityPlan p = SparsityPlan.defaults(TINY_OPT).withMlp(table());
        assertEquals(64, p.mlpK(2, 1));
        assertEquals(160, p.mlpK(2, 3), "batch 3 uses the k of batch 4");
        assertEquals(512, p.mlpK(2, 5));
        assertEquals(512, p.mlpK(2, 8));
        assertFalse(p.mlpDense(2, 8));
        assertEquals(1024, p.mlpK(2, 9), "960 > 0.8 * 1024: dense");
        assertTrue(p.mlpDense(2, 16));
        assertEquals(1024, p.mlpK(2, 17), "beyond the table: dense");
        assertThrows(IllegalArgumentException.class, () -> p.mlpK(2, 0));
    }

    @Test
    void jsonRoundTripsExactly(@TempDir Path dir) {
        SparsityPlan p = SparsityPlan.defaults(TINY_OPT).withAttentionDensity(0.3).withAttentionDensity(2, 0.1 + 0.2).withMlp(table());
        Path file = dir.resolve(SparsityPlan.FILE_NAME);
        p.save(file);
        SparsityPlan back = SparsityPlan.load(file);
        assertEquals(p, back);
        assertEquals(0.1 + 0.2, back.attnDensity(2), 0.0, "doubles survive bit for bit");
        assertEquals(p.toJson(), back.toJson());
        SparsityPlan llama = SparsityPlan.defaults(TINY_LLAMA);
        assertEquals(llama, SparsityPlan.fromJson(llama.toJson(), "mem"));
    }

    @Test
    void badPlanFilesGiveErrorsNamingTheFileAndField(@TempDir Path dir) throws Exception {
        String good = SparsityPlan.defaults(TINY_OPT).withMlp(table()).toJson();
        assertError(dir, good.replace("\"units\": 8", "\"units\": 0"), "'attention': field 'units' must be an integer >= 1, got 0");
        assertError(dir, good.replace("\"units\": 8,", ""), "'attention': field 'units' is missing");
        assertError(dir, good.replace("[1.0,0.5,", "[0.5,0.5,"), "'attention': field 'density[0]' must be 1.0");
        assertError(dir, good.replace("0.5,0.5]", "0.5]"), "'attention': field 'density' must have 6 elements");
        assertError(dir, good.replace("\"heads\"", "\"experts\""), "'attention': field 'unit' must be \"heads\" or \"kv_groups\"");
        assertError(dir, good.replace("[64,96,160,512,960]", "[64,96,160,512,2000]"), "'mlp': field 'k[0][4]' must be in 1..1024");
        assertError(dir, good.replace("[1,2,4,8,16]", "[1,4,2,8,16]"), "'mlp': field 'batchSizes' must be positive and strictly increasing");
        assertError(dir, good.replace("\"version\": 1", "\"version\": 7"), "field 'version' must be 1");
        assertError(dir, good.replace("\"softplus_sum\"", "\"max\""), "'mlp': field 'score' must be \"relu_sum\" or \"softplus_sum\"");
        assertError(dir, good.replace("\"layers\": 6,", "\"layers\": 6"), ":5:3:");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SparsityPlan.defaults(TINY_OPT).checkFits(TINY_LLAMA, "plan.json"));
        assertTrue(e.getMessage().contains("plan.json: plan selects 8 heads, the model has 4 kv_groups"), e.getMessage());
        RuntimeException missing = assertThrows(RuntimeException.class, () -> SparsityPlan.load(dir.resolve("nope.json")));
        assertTrue(missing.getMessage().contains("nope.json"));
    }

    private static void assertError(Path dir, String text, String expected) throws Exception {
        Path file = dir.resolve("bad-plan.json");
        Files.writeString(file, text);
        RuntimeException e = assertThrows(RuntimeException.class, () -> SparsityPlan.load(file));
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }
}
