package polar.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;
import polar.model.Model;
import polar.model.ModelLoader;
import polar.model.SharedAssets;
import polar.runtime.Backends;
import polar.runtime.jvm.JvmBackend;
import polar.tornado.runtime.Backend;

/** Steps of the engine beyond the golden checks: chunked prefill, mixed prefill and decode, limits and misuse. */
class EngineTest {

    static List<String> backends() { return TestBackends.names(); }

    static Model tinyLlama() throws Exception {
        return ModelLoader.load(SharedAssets.require("models/tiny-llama"));
    }

    /**
     * A prompt prefilled in chunks of 3 tokens (several steps), and a step that mixes one sequence's
     * prompt with another's decode token, give the logits of plain whole-prompt steps.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void chunkedAndMixedStepsMatchWholeSteps(String name) throws Exception {
        Model model = tinyLlama();
        int[] a = {0, 557, 547, 260, 455, 13, 443, 298, 260, 482};
        int[] b = {0, 390, 949, 1854, 339, 262};
        try (Backend backend = Backends.open(name);
             Engine whole = new Engine(backend, model, EngineOptions.defaults().withMaxSequences(2).withMaxContext(64));
             Engine chunked = new Engine(backend, model, EngineOptions.defaults().withMaxSequences(2).withMaxContext(64).withMaxStepTokens(3))) {
            Sequence wa = whole.newSequence(), wb = whole.newSequence();
            float[] aRef = whole.prefill(List.of(wa), List.of(a))[0];
            float[] bRef = whole.prefill(List.of(wb), List.of(b))[0];
            float[] aNextRef = whole.decode(List.of(wa), new int[] {578})[0];

            Sequence ca = chunked.newSequence(), cb = chunked.newSequence();
            float[][] both = chunked.prefill(List.of(ca, cb), List.of(a, b));
            assertClose(aRef, both[0], "chunked prefill of a on " + name);
            assertClose(bRef, both[1], "chunked prefill of b on " + name);
            assertEquals(a.length, ca.length());

            whole.release(wa);
            whole.release(wb);
            Sequence x = whole.newSequence(), y = whole.newSequence();
            whole.prefill(List.of(x), List.of(a));
            float[][] mixed = whole.step(List.of(x, y), List.of(new int[] {578}, b)); // x decodes while y prefills
            assertClose(aNextRef, mixed[0], "decode mixed with a prefill on " + name);
            assertClose(bRef, mixed[1], "prefill mixed with a decode on " + name);
        }
    }

    @Test
    void limitsAndMisuseAreClearErrors() throws Exception {
        Model model = tinyLlama();
        try (Backend backend = new JvmBackend();
             Engine engine = new Engine(backend, model, EngineOptions.defaults().withMaxSequences(2).withMaxContext(32).withKvBlocks(3))) {
            Sequence s = engine.newSequence();
            var tooLong = assertThrows(ContextOverflowException.class, () -> engine.prefill(List.of(s), List.of(new int[33])));
            assertTrue(tooLong.getMessage().contains("exceeds the context of 32"), tooLong.getMessage());
            engine.prefill(List.of(s), List.of(new int[20]));
            Sequence t = engine.newSequence();
            var full = assertThrows(KvCacheFullException.class, () -> engine.prefill(List.of(t), List.of(new int[20])));
            assertTrue(full.getMessage().contains("KV cache full"), full.getMessage());
            var twice = assertThrows(IllegalArgumentException.class, () -> engine.step(List.of(s, s), List.of(new int[] {1}, new int[] {2})));
            assertTrue(twice.getMessage().contains("appears twice"), twice.getMessage());
            var badToken = assertThrows(IllegalArgumentException.class, () -> engine.decode(List.of(s), new int[] {4096}));
            assertTrue(badToken.getMessage().contains("outside the vocabulary"), badToken.getMessage());
            engine.release(s);
            assertThrows(IllegalStateException.class, () -> engine.decode(List.of(s), new int[] {1}));
            engine.prefill(List.of(t), List.of(new int[20])); // the released blocks serve the next sequence
        }
    }

    static void assertClose(float[] ref, float[] out, String what) {
        double[] err = EngineGoldenTest.errors(out, ref);
        assertTrue(err[0] <= 1e-5, what + ": relative error " + err[0] + ", largest element error " + err[1]);
    }
}
