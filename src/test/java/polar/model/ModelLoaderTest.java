package polar.model;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import polar.formats.DType;

/** Loading the shared test models: config, every tensor with its shape, tokenizer. */
class ModelLoaderTest {

    @Test
    void loadsTinyLlama() throws Exception {
        Model m = ModelLoader.load(SharedAssets.require("models/tiny-llama"));
        ModelConfig c = m.config();
        assertEquals(Architecture.LLAMA, c.architecture());
        assertEquals(4096, c.vocabSize());
        assertEquals(256, c.hidden());
        assertEquals(6, c.layers());
        assertEquals(8, c.heads());
        assertEquals(4, c.kvHeads());
        assertEquals(32, c.headDim());
        assertEquals(704, c.ffn());
        assertEquals(10000f, c.ropeTheta());
        assertEquals(32, c.ropeDims());
        assertEquals(1e-5f, c.normEps());
        assertNull(c.ropeScaling());
        assertFalse(c.tiedEmbeddings());
        assertEquals(0, c.bosId());
        assertArrayEquals(new int[] {1}, c.eosIds());
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
        ModelConfig c = m.config();
        assertEquals(Architecture.OPT, c.architecture());
        assertEquals(8, c.heads());
        assertEquals(8, c.kvHeads());
        assertEquals(32, c.headDim());
        assertEquals(1024, c.ffn());
        assertEquals(2, c.positionOffset());
        assertEquals(1024, c.maxPositions());
        assertTrue(c.tiedEmbeddings());
        assertEquals(2, c.bosId());
        assertArrayEquals(new int[] {2}, c.eosIds());
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

    @Test
    void missingPathIsAClearError() {
        Path nowhere = Path.of("no-such-model-folder");
        var e = assertThrows(polar.formats.FormatException.class, () -> ModelLoader.load(nowhere));
        assertTrue(e.getMessage().contains("no-such-model-folder"), e.getMessage());
    }
}
