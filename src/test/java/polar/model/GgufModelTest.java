package polar.model;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import polar.formats.DType;
import polar.formats.Json;
import polar.formats.JsonFields;
import polar.formats.Tensor;

/** stories260K.gguf: config from metadata, tensors in Hugging Face layout, its SentencePiece tokenizer. */
class GgufModelTest {

    @Test
    void loadsStories260K() throws Exception {
        Model m = ModelLoader.load(SharedAssets.require("models/stories260K.gguf"));
        ModelConfig c = m.config();
        assertEquals(Architecture.LLAMA, c.architecture());
        assertEquals(512, c.vocabSize());
        assertEquals(64, c.hidden());
        assertEquals(5, c.layers());
        assertEquals(8, c.heads());
        assertEquals(4, c.kvHeads());
        assertEquals(8, c.headDim());
        assertEquals(8, c.ropeDims());
        assertEquals(172, c.ffn());
        assertEquals(2048, c.maxPositions());
        assertEquals(10000f, c.ropeTheta());
        assertEquals(1e-5f, c.normEps());
        assertFalse(c.tiedEmbeddings());
        assertEquals(1, c.bosId());
        assertArrayEquals(new int[] {2}, c.eosIds());
        LayerWeights l = m.weights().layers().get(0);
        assertArrayEquals(new long[] {64, 64}, l.wq().shape());
        assertArrayEquals(new long[] {32, 64}, l.wk().shape());
        assertArrayEquals(new long[] {172, 64}, l.gate().shape());
        assertArrayEquals(new long[] {64, 172}, l.down().shape());
        assertEquals(DType.F32, l.wq().dtype());
        assertEquals(512, m.tokenizer().vocabSize());
    }

    @Test
    void sentencePieceTokenizerDecodesTheGoldenGreedyText() throws Exception {
        Path golden = SharedAssets.require("golden/stories260K.greedy200.json");
        Model m = ModelLoader.load(SharedAssets.require("models/stories260K.gguf"));
        JsonFields g = JsonFields.of(Json.parse(golden), golden.toString());
        int[] generated = TokenizerGoldenTest.ints(g.list("generated_ids"));
        assertEquals(200, generated.length);
        String text = g.string("text");
        Tokenizer tok = m.tokenizer();
        // the ids continue BOS, so SentencePiece drops the space its prefix put before "Once"
        assertEquals(text, tok.decode(generated));
        Tokenizer.StreamDecoder sd = tok.streamDecoder();
        StringBuilder streamed = new StringBuilder(sd.next(1));
        for (int id : generated) streamed.append(sd.next(id));
        assertEquals(text, streamed.append(sd.flush()).toString());
        // encoding the text gives back the model's own tokens, after BOS
        int[] prompt = tok.encode("Once upon a time, there was a little girl named Lily.", true);
        assertEquals(1, prompt[0]);
        assertArrayEquals(java.util.Arrays.copyOf(generated, prompt.length - 1), java.util.Arrays.copyOfRange(prompt, 1, prompt.length));
    }
}
