package polar.model;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.reflect.RecordComponent;
import java.nio.file.Path;
import java.util.Objects;
import org.junit.jupiter.api.Test;
import polar.formats.DType;

/** Loading the shared test models: config, every tensor with its shape, tokenizer. */
class ModelLoaderTest {

    @Test
    void loadsTinyLlama() throws Exception {
        Model m = ModelLoader.load(SharedAssets.require("models/tiny-llama"));
        assertConfig(new ModelConfig(Architecture.LLAMA, 4096, 256, 6, 8, 4, 32, 704, 1024, 1e-5f, 10000f, null, 32, 0, false, 0, new int[] {1}),
                m.config());
        ModelWeights w = m.weights();
        assertEquals(6, w.layers().size());
        assertNotSame(w.tokenEmbedding(), w.lmHead());
        LayerWeights l = w.layers().get(5);
        assertArrayEquals(new long[] {128, 256}, l.wk().shape());
        assertEquals("model.layers.5.self_attn.k_proj.weight", l.wk().name());
        assertEquals(DType.F16, l.wq().dtype());
        assertNull(l.bq());
        assertNotNull(l.gate());
        assertTrue(Float.isFinite(l.down().getFloat(l.down().elements() - 1)));
        assertEquals(4096, m.tokenizer().vocabSize());
    }

    @Test
    void loadsTinyOpt() throws Exception {
        Model m = ModelLoader.load(SharedAssets.require("models/tiny-opt"));
        assertConfig(new ModelConfig(Architecture.OPT, 4096, 256, 6, 8, 8, 32, 1024, 1024, 1e-5f, 0f, null, 0, 2, true, 2, new int[] {2}),
                m.config());
        ModelWeights w = m.weights();
        assertSame(w.tokenEmbedding(), w.lmHead());
        assertArrayEquals(new long[] {1026, 256}, w.positionEmbedding().shape());
        assertNotNull(w.finalNormBias());
        LayerWeights l = w.layers().get(0);
        assertNull(l.gate());
        assertArrayEquals(new long[] {1024, 256}, l.up().shape());
        assertArrayEquals(new long[] {1024}, l.upBias().shape());
        assertArrayEquals(new long[] {256, 1024}, l.down().shape());
        assertNotNull(l.bo());
        assertNotNull(l.attnNormBias());
    }

    /** Every field of {@code actual} equals {@code expected}'s (arrays by content), each mismatch named. */
    static void assertConfig(ModelConfig expected, ModelConfig actual) throws ReflectiveOperationException {
        for (RecordComponent field : ModelConfig.class.getRecordComponents()) {
            Object e = field.getAccessor().invoke(expected), a = field.getAccessor().invoke(actual);
            assertTrue(Objects.deepEquals(e, a), () -> field.getName() + ": expected " + Objects.toString(e) + " but was " + Objects.toString(a) + " in " + actual);
        }
    }

    @Test
    void missingPathIsAClearError() {
        Path nowhere = Path.of("no-such-model-folder");
        var e = assertThrows(polar.formats.FormatException.class, () -> ModelLoader.load(nowhere));
        assertTrue(e.getMessage().contains("no-such-model-folder"), e.getMessage());
    }
}
