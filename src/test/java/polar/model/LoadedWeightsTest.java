package polar.model;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import polar.formats.Json;
import polar.formats.JsonFields;

/**
 * The loaded tensors run through a plain float64 transformer ({@link ReferenceForward}) reproduce the golden
 * outputs: this is what shows the loader maps every tensor to its role and layout correctly.
 */
class LoadedWeightsTest {

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama", "tiny-opt"})
    void huggingFaceModelsReproduceGoldenLogitsAndGreedyTokens(String name) throws Exception {
        Model m = ModelLoader.load(SharedAssets.require("models/" + name));
        Path golden = SharedAssets.require("golden/" + name + ".golden.json");
        JsonFields c = JsonFields.of(Json.parse(golden), golden.toString()).objects("cases").getFirst();
        int[] prompt = TokenizerGoldenTest.ints(c.list("prompt_ids"));
        int[] greedy = java.util.Arrays.copyOf(TokenizerGoldenTest.ints(c.list("greedy_ids")), 8); // the engine's tests check all 24
        ReferenceForward f = new ReferenceForward(m, prompt.length + greedy.length);
        double[] logits = null;
        for (int t : prompt) logits = f.next(t);
        var expected = c.list("last_logits_all");
        double diff = 0, ref = 0;
        for (int i = 0; i < logits.length; i++) {
            double e = ((Number) expected.get(i)).doubleValue();
            diff += (logits[i] - e) * (logits[i] - e);
            ref += e * e;
        }
        assertTrue(Math.sqrt(diff / ref) < 1e-4, "relative logit error " + Math.sqrt(diff / ref));
        int[] generated = new int[greedy.length];
        for (int i = 0; i < greedy.length; i++) {
            generated[i] = ReferenceForward.argmax(logits);
            logits = f.next(generated[i]);
        }
        assertArrayEquals(greedy, generated);
    }

    @Test
    void stories260KGgufReproducesItsGreedyTokensWithHalfSplitRope() throws Exception {
        Model m = ModelLoader.load(SharedAssets.require("models/stories260K.gguf"));
        Path golden = SharedAssets.require("golden/stories260K.greedy200.json");
        int[] expected = TokenizerGoldenTest.ints(JsonFields.of(Json.parse(golden), golden.toString()).list("generated_ids"));
        ReferenceForward f = new ReferenceForward(m, 1 + expected.length);
        double[] logits = f.next(m.config().bosId());
        int[] generated = new int[expected.length];
        for (int i = 0; i < expected.length; i++) {
            generated[i] = ReferenceForward.argmax(logits);
            logits = f.next(generated[i]);
        }
        assertArrayEquals(expected, generated);
    }
}
