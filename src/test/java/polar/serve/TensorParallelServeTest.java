package polar.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import polar.cli.UsageException;
import polar.engine.Golden;
import polar.model.SharedAssets;

/** {@code polar serve --tensor-parallel N}: the loader opens the model over N ranks (simulated on jvm), which continue a golden prompt as PyTorch does. */
class TensorParallelServeTest {

    @Test
    void theLoaderSplitsTheModelOverTwoRanks() throws Exception {
        Golden golden = Golden.load("tiny-llama").getFirst();
        String folder = SharedAssets.require("models/tiny-llama").toString();
        try (EngineBatchModel model = EngineBatchModel.load(new ServeCommand.ModelOptions(folder, null, "jvm", 0, "dense", null, 0, "polar", 2, 64, 0, 2))) {
            assertTrue(model.engine().toString().contains("tensor-parallel over 2 simulated ranks"), model.engine().toString());
            int seq = model.open();
            float[] logits = model.prefill(List.of(new BatchModel.PrefillChunk(seq, golden.promptIds(), true)))[0];
            int[] tokens = new int[8];
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = argmax(logits);
                logits = model.decode(new int[] {seq}, new int[] {tokens[i]})[0];
            }
            model.close(seq);
            assertArrayEquals(Arrays.copyOf(golden.greedyIds(), tokens.length), tokens);
            assertEquals(model.totalBlocks(), model.freeBlocks());
        }
    }

    @Test
    void theFlagTakesOneTwoFourOrEight() {
        assertEquals(4, ServeCommand.Options.parse(new String[] {"--tensor-parallel", "4"}).tensorParallel);
        assertEquals(1, ServeCommand.Options.parse(new String[] {}).tensorParallel);
        UsageException e = assertThrows(UsageException.class, () -> ServeCommand.Options.parse(new String[] {"--tensor-parallel", "3"}));
        assertTrue(e.getMessage().contains("--tensor-parallel must be one of [1, 2, 4, 8]"), e.getMessage());
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
