package polar.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import polar.model.Model;
import polar.model.ModelConfig;
import polar.runtime.jvm.JvmBackend;
import polar.tornado.runtime.Backend;

/** Batched generation: greedy matches the golden tokens, sampling is reproducible by seed, and each stop condition. */
class GeneratorTest {

    @Test
    void greedyBatchReproducesGoldenAndStreamsEveryToken() throws Exception {
        List<Golden> cases = Golden.load("tiny-llama");
        Model model = EngineTest.tinyLlama();
        try (Backend backend = new JvmBackend(); Engine engine = new Engine(backend, model, EngineOptions.defaults().withMaxContext(128))) {
            Generator generator = new Generator(engine);
            List<List<Integer>> streamed = new ArrayList<>();
            for (int i = 0; i < cases.size(); i++) streamed.add(new ArrayList<>());
            List<Generator.Result> results = generator.generate(cases.stream().map(Golden::promptIds).toList(), Generator.Settings.greedy(8),
                    (seq, token) -> streamed.get(seq).add(token));
            for (int i = 0; i < cases.size(); i++) {
                assertArrayEquals(Arrays.copyOf(cases.get(i).greedyIds(), 8), results.get(i).generated(), "prompt " + i);
                assertEquals(Generator.Stop.MAX_TOKENS, results.get(i).stop());
                assertEquals(Arrays.stream(results.get(i).generated()).boxed().toList(), streamed.get(i), "streamed tokens of prompt " + i);
            }
            Generator.Stats stats = generator.lastStats();
            assertEquals(cases.stream().mapToInt(c -> c.promptIds().length).sum(), stats.promptTokens());
            assertEquals(5 * 8, stats.generatedTokens());
            assertEquals(7, stats.decodeSteps());
            assertEquals(engine.cache().capacityBlocks(), engine.cache().freeBlocks(), "every sequence released");
        }
    }

    @Test
    void samplingIsReproducibleBySeed() throws Exception {
        Model model = EngineTest.tinyLlama();
        int[] prompt = {0, 557, 547, 260, 455};
        try (Backend backend = new JvmBackend(); Engine engine = new Engine(backend, model, EngineOptions.defaults().withMaxContext(64))) {
            Generator generator = new Generator(engine);
            int[] a = generator.generate(List.of(prompt), new Generator.Settings(12, 1.0f, 0, 0.95f, 7), (s, t) -> {}).getFirst().generated();
            int[] b = generator.generate(List.of(prompt), new Generator.Settings(12, 1.0f, 0, 0.95f, 7), (s, t) -> {}).getFirst().generated();
            int[] c = generator.generate(List.of(prompt), new Generator.Settings(12, 1.0f, 0, 0.95f, 8), (s, t) -> {}).getFirst().generated();
            assertArrayEquals(a, b, "same seed, same tokens");
            assertFalse(Arrays.equals(a, c), "another seed draws other tokens");
        }
    }

    @Test
    void stopsAtEndOfSequenceAndAtTheEndOfTheContext() throws Exception {
        Golden golden = Golden.load("tiny-llama").getFirst();
        Model base = EngineTest.tinyLlama();
        ModelConfig c = base.config();
        // Pretend the golden continuation's fourth token ends sequences.
        ModelConfig eosAtFourth = new ModelConfig(c.architecture(), c.vocabSize(), c.hidden(), c.layers(), c.heads(), c.kvHeads(), c.headDim(),
                c.ffn(), c.maxPositions(), c.normEps(), c.ropeTheta(), c.ropeScaling(), c.ropeDims(), c.positionOffset(), c.tiedEmbeddings(),
                c.bosId(), new int[] {golden.greedyIds()[3]});
        Model model = new Model(eosAtFourth, base.weights(), base.tokenizer(), base.source());
        int p = golden.promptIds().length;
        try (Backend backend = new JvmBackend(); Engine engine = new Engine(backend, model, EngineOptions.defaults().withMaxContext(64))) {
            Generator generator = new Generator(engine);
            Generator.Result eos = generator.generate(List.of(golden.promptIds()), Generator.Settings.greedy(10), (s, t) -> {}).getFirst();
            assertEquals(Generator.Stop.END_OF_SEQUENCE, eos.stop());
            assertArrayEquals(Arrays.copyOf(golden.greedyIds(), 3), eos.generated(), "tokens before the end-of-sequence token");
        }
        try (Backend backend = new JvmBackend(); Engine engine = new Engine(backend, base, EngineOptions.defaults().withMaxContext(p + 2))) {
            Generator generator = new Generator(engine);
            Generator.Result full = generator.generate(List.of(golden.promptIds()), Generator.Settings.greedy(10), (s, t) -> {}).getFirst();
            assertEquals(Generator.Stop.CONTEXT_FULL, full.stop());
            assertArrayEquals(Arrays.copyOf(golden.greedyIds(), 3), full.generated(), "context of prompt + 2 holds 2 fed tokens, so 3 are chosen");
            var tooLong = assertThrows(ContextOverflowException.class,
                    () -> generator.generate(List.of(new int[p + 3]), Generator.Settings.greedy(1), (s, t) -> {}));
            assertTrue(tooLong.getMessage().contains("longer than the context"), tooLong.getMessage());
        }
    }
}
