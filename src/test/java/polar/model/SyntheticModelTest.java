package polar.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import polar.formats.DType;

class SyntheticModelTest {

    @Test
    void namesResolveToKnownShapes() {
        assertTrue(SyntheticModel.isName("synthetic:llama2-7b"));
        assertFalse(SyntheticModel.isName("models/llama2-7b"));
        assertSame(BenchModel.LLAMA2_7B, SyntheticModel.shape("synthetic:llama2-7b"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SyntheticModel.shape("synthetic:gpt-5"));
        assertTrue(e.getMessage().contains("unknown model shape 'gpt-5'") && e.getMessage().contains("llama2-7b"), e.getMessage());
    }

    @Test
    void aSyntheticModelSpeaksItsTokenizersVocabulary() throws Exception {
        Model tiny = ModelLoader.load(SharedAssets.require("models/tiny-llama"));
        Model m = SyntheticModel.speaking(BenchModel.SMOKE_LLAMA, tiny, DType.F16, 7);
        ModelConfig shape = BenchModel.SMOKE_LLAMA.config(), c = m.config();
        assertEquals(4096, c.vocabSize(), "the larger of the shape's 512 and the tokenizer's 4096, so every prompt id is in range");
        assertEquals(List.of(shape.hidden(), shape.layers(), shape.heads(), shape.kvHeads(), shape.ffn()),
                List.of(c.hidden(), c.layers(), c.heads(), c.kvHeads(), c.ffn()));
        assertEquals(tiny.config().bosId(), c.bosId());
        assertArrayEquals(tiny.config().eosIds(), c.eosIds());
        assertSame(tiny.tokenizer(), m.tokenizer());
        assertArrayEquals(new long[] {4096, shape.hidden()}, m.weights().tokenEmbedding().shape());
        assertEquals(DType.F16, m.weights().tokenEmbedding().dtype());

        // Same seed, same weights; another seed, others.
        Model again = SyntheticModel.speaking(BenchModel.SMOKE_LLAMA, tiny, DType.F16, 7), other = SyntheticModel.speaking(BenchModel.SMOKE_LLAMA, tiny, DType.F16, 8);
        float[] w = m.weights().layers().get(1).wq().toFloatArray();
        assertArrayEquals(w, again.weights().layers().get(1).wq().toFloatArray());
        assertFalse(java.util.Arrays.equals(w, other.weights().layers().get(1).wq().toFloatArray()));
    }
}
