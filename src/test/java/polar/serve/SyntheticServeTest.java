package polar.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import polar.model.SharedAssets;

/**
 * {@code polar serve -m synthetic:smoke-llama}, dense and with {@code --sparsity polar} (random routers), on the
 * JVM backend. A random model's greedy tokens say little (it mostly repeats its last token), so the checks are on
 * decode logits: the same for a sequence alone and batched with others (per-sequence head selection must not leak
 * between sequences), and different between dense and polar (the sparse path ran). Then requests go through the
 * scheduler.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SyntheticServeTest {
    private static final int TOKENS = 6;

    static ServeCommand.ModelOptions options(String sparsity) {
        return new ServeCommand.ModelOptions("synthetic:smoke-llama", SharedAssets.require("models/tiny-llama").toString(), "jvm", 0,
                sparsity, null, 0, "polar", 4, 64, 0);
    }

    /** Prefills each prompt as its own sequence, decodes token 100 for all of them in one step, returns that step's logits rows. */
    static float[][] decodeLogits(BatchModel model, List<int[]> prompts) {
        int[] seqs = new int[prompts.size()], next = new int[prompts.size()];
        List<BatchModel.PrefillChunk> chunks = new ArrayList<>();
        for (int i = 0; i < seqs.length; i++) {
            seqs[i] = model.open();
            chunks.add(new BatchModel.PrefillChunk(seqs[i], prompts.get(i), true));
            next[i] = 100;
        }
        model.prefill(chunks);
        float[][] rows = model.decode(seqs, next);
        for (int seq : seqs) model.close(seq);
        return rows;
    }

    static double relativeError(float[] a, float[] reference) {
        double diff = 0, norm = 0;
        for (int i = 0; i < a.length; i++) {
            diff += (a[i] - (double) reference[i]) * (a[i] - (double) reference[i]);
            norm += (double) reference[i] * reference[i];
        }
        return Math.sqrt(diff / norm);
    }

    @Test
    void denseAndPolarSyntheticModelsServeBatchInvariantDecodeSteps() throws Exception {
        Map<String, float[]> alone = new HashMap<>();
        for (String sparsity : List.of("dense", "polar")) {
            EngineBatchModel model = EngineBatchModel.load(options(sparsity));
            assertEquals("synthetic:smoke-llama", model.id());
            assertEquals(4096, model.tokenizer().vocabSize());
            int[] prompt = model.tokenizer().encode("Once upon a time there was", true);
            float[] single = decodeLogits(model, List.of(prompt))[0];
            float[] batched = decodeLogits(model, List.of(model.tokenizer().encode("The dog", true), prompt,
                    model.tokenizer().encode("A long time ago, in a small village,", true)))[1];
            for (float v : single) assertTrue(Float.isFinite(v), sparsity + ": finite logits");
            assertTrue(relativeError(batched, single) < 1e-5, sparsity + ": alone and batched: " + relativeError(batched, single));
            alone.put(sparsity, single);

            try (Scheduler scheduler = new Scheduler(model, new Scheduler.Config(16, 64))) {
                List<Generation> requests = new ArrayList<>();
                for (String text : List.of("Once", "The dog", "Hello there"))
                    requests.add(scheduler.submit(new GenerationRequest(model.tokenizer().encode(text, true), TOKENS, SamplingParams.greedy(),
                            List.of(), new int[0], true, false)));
                for (Generation g : requests) {
                    int[] tokens = g.result().get(2, TimeUnit.MINUTES).tokens();
                    assertEquals(TOKENS, tokens.length);
                    for (int t : tokens) assertTrue(t >= 0 && t < 4096, sparsity + ": token " + t);
                }
            }
        }
        double change = relativeError(alone.get("polar"), alone.get("dense"));
        assertTrue(change > 1e-4, "polar (half the KV groups of layers 1..) changed the logits by only " + change);
    }
}
