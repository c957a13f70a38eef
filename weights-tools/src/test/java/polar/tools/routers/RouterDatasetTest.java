package polar.tools.routers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import polar.tools.Progress;
import polar.tools.routers.RouterDataset.LayerData;
import polar.tools.routers.RouterDataset.LayerFile;

class RouterDatasetTest {

    @Test
    void collectorRecordsInputsGroupNormsAndReluActivity(@TempDir Path dir) {
        // GQA: 4 query heads in 2 KV groups of 2; a group's norm covers both of its heads' outputs.
        RouterDataShape shape = new RouterDataShape(2, 3, 4, 2, 2, 10, true);
        assertEquals(2, shape.units());
        Random rnd = new Random(9);
        int rows = 5;
        float[][] inputs = new float[2][], heads = new float[2][], pre = new float[2][];
        try (RouterDataCollector c = new RouterDataCollector(dir, shape, "m", "c")) {
            for (int pass = 0; pass < 2; pass++) { // two passes append
                for (int l = 0; l < 2; l++) {
                    float[] x = Synthetic.gaussian(rnd, rows * 3), h = Synthetic.gaussian(rnd, rows * 4 * 2), p = Synthetic.gaussian(rnd, rows * 10);
                    if (pass == 1) {
                        inputs[l] = x;
                        heads[l] = h;
                        pre[l] = p;
                    }
                    c.layer(l, rows, x, h, p);
                }
            }
        }
        RouterDataset ds = RouterDataset.open(dir);
        assertEquals(10, ds.rows());
        for (int l = 0; l < 2; l++) {
            LayerData d = ds.load(l, 5, 10);
            assertArrayEquals(inputs[l], d.input());
            for (int i = 0; i < rows; i++) {
                for (int g = 0; g < 2; g++) {
                    double sum = 0;
                    for (int j = 0; j < 4; j++) sum += Math.pow(heads[l][i * 8 + g * 4 + j], 2); // heads 2g, 2g+1 x headDim 2
                    assertEquals(Math.sqrt(sum), d.unitNorms()[i * 2 + g], 1e-6);
                }
                for (int n = 0; n < 10; n++) assertEquals(pre[l][i * 10 + n] > 0, d.mlpActive().get(i, n));
            }
        }
    }

    @Test
    void collectionSkipsTheBosPositionAndStopsAtTheTokenBudget(@TempDir Path dir) {
        RouterDataShape shape = new RouterDataShape(2, 8, 2, 2, 4, 16, false);
        SyntheticModel model = new SyntheticModel(shape, 1);
        String text = "abcdefghij<|endoftext|>klmnopqrstuvwxyz<|endoftext|>";
        try (RouterDataCollector c = new RouterDataCollector(dir, shape, "synthetic", "text")) {
            assertEquals(26, RouterCollection.collect(model, text, 8, 0, c, Progress.silent("c", 26)));
        }
        RouterDataset ds = RouterDataset.open(dir);
        assertEquals(26, ds.rows(), "every token but the BOS of each window");
        assertNull(ds.load(0, 0, 1).mlpActive(), "no MLP labels for a gated MLP");
        // the first recorded row is token 'a' (not the BOS, id 0)
        float[] a = java.util.Arrays.copyOfRange(model.embed[1], 'a' * 8, 'a' * 8 + 8);
        assertArrayEquals(a, ds.load(1, 0, 1).input());
        try (RouterDataCollector c = new RouterDataCollector(dir, shape, "synthetic", "text")) {
            assertEquals(12, RouterCollection.collect(model, text, 8, 12, c, Progress.silent("c", 12)));
        }
        assertEquals(12, RouterDataset.open(dir).rows());
    }

    @Test
    void damagedDataSetsGiveErrorsNamingTheFile(@TempDir Path dir) throws Exception {
        RouterDataShape shape = new RouterDataShape(1, 4, 2, 2, 2, 8, true);
        try (RouterDataCollector c = new RouterDataCollector(dir, shape, "m", "c")) {
            c.layer(0, 2, new float[8], new float[8], new float[16]);
        }
        Path bits = LayerFile.MLP_ACTIVE.in(dir, 0);
        Files.write(bits, new byte[1]);
        IllegalArgumentException truncated = assertThrows(IllegalArgumentException.class, () -> RouterDataset.open(dir));
        assertTrue(truncated.getMessage().contains(bits + ": 1 bytes, the manifest's 2 rows need 2"), truncated.getMessage());

        Path manifest = dir.resolve(RouterDataset.MANIFEST);
        Files.writeString(manifest, Files.readString(manifest).replace("\"hidden\": 4", "\"hidden\": \"4\""));
        RuntimeException badField = assertThrows(RuntimeException.class, () -> RouterDataset.open(dir));
        assertTrue(badField.getMessage().contains(manifest + ": field 'hidden' must be an integer"), badField.getMessage());

        IllegalArgumentException wrongRows = assertThrows(IllegalArgumentException.class, () -> {
            try (RouterDataCollector c = new RouterDataCollector(dir, shape, "m", "c")) {
                c.layer(0, 3, new float[8], new float[12], new float[24]);
            }
        });
        assertTrue(wrongRows.getMessage().contains("normed input has 8 values, expected 12"), wrongRows.getMessage());
    }
}
