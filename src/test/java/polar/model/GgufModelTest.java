package polar.model;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Random;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import polar.formats.DType;
import polar.formats.FormatException;
import polar.formats.GgufWriter;
import polar.formats.Json;
import polar.formats.JsonFields;
import polar.formats.Tensor;

/** stories260K.gguf: config from metadata, tensors in Hugging Face layout, its SentencePiece tokenizer. */
class GgufModelTest {

    @Test
    void loadsStories260K() throws Exception {
        Model m = ModelLoader.load(SharedAssets.require("models/stories260K.gguf"));
        ModelLoaderTest.assertConfig(new ModelConfig(Architecture.LLAMA, 512, 64, 5, 8, 4, 8, 172, 2048, 1e-5f, 10000f, null, 8, 0, false, 1, new int[] {2}),
                m.config());
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

    @TempDir Path dir;

    /**
     * llama.cpp's convert script: {@code w.reshape(n_head, 2, rows / n_head / 2, cols).swapaxes(1, 2).reshape(rows, cols)},
     * written out as index arithmetic on the 4-d view.
     */
    static float[] llamaCppPermute(float[] w, int rows, int cols, int heads) {
        int half = rows / heads / 2;
        float[] out = new float[w.length];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < half; j++)
                    for (int c = 0; c < cols; c++) {
                        int source = ((h * 2 + i) * half + j) * cols + c;    // w[h][i][j][c]
                        int target = ((h * half + j) * 2 + i) * cols + c;    // swapped: out[h][j][i][c]
                        out[target] = w[source];
                    }
        return out;
    }

    static float[] random(long seed, int n) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    @Test
    void unpermutesRowsOfARandomMatrix() {
        int heads = 4, headDim = 16, rows = heads * headDim, cols = 24;
        float[] hf = random(1, rows * cols);
        Tensor gguf = Tensor.f32("blk.0.attn_q.weight", llamaCppPermute(hf, rows, cols, heads), rows, cols);
        assertFalse(java.util.Arrays.equals(hf, gguf.toFloatArray()), "the permutation moves rows");
        Tensor back = GgufModel.unpermuteRows(gguf, heads, Arena.ofAuto());
        assertArrayEquals(hf, back.toFloatArray());
        assertArrayEquals(new long[] {rows, cols}, back.shape());
    }

    // ---- a small synthetic llama GGUF: hidden 32, 4 heads of 8, 2 KV heads, ffn 256, one layer, 6 tokens ----

    static final int HIDDEN = 32, HEADS = 4, KV_HEADS = 2, HEAD_DIM = 8, FFN = 256, VOCAB = 6;

    static GgufWriter tinyLlama(String architecture, float[] wqHf, byte[] wkQ8_0Permuted, byte[] downQ4_K) {
        GgufWriter w = new GgufWriter()
                .string("general.architecture", architecture)
                .u32(architecture + ".embedding_length", HIDDEN).u32(architecture + ".block_count", 1)
                .u32(architecture + ".attention.head_count", HEADS).u32(architecture + ".attention.head_count_kv", KV_HEADS)
                .u32(architecture + ".feed_forward_length", FFN).u32(architecture + ".context_length", 64)
                .f32(architecture + ".attention.layer_norm_rms_epsilon", 1e-6f).f32(architecture + ".rope.freq_base", 500000f)
                .u32(architecture + ".rope.dimension_count", HEAD_DIM)
                .string("tokenizer.ggml.model", "llama")
                .strings("tokenizer.ggml.tokens", List.of("<unk>", "<s>", "</s>", "▁a", "b", "▁ab"))
                .floats("tokenizer.ggml.scores", new float[] {0, 0, 0, -1, -2, -3})
                .ints("tokenizer.ggml.token_type", new int[] {2, 3, 3, 1, 1, 1})
                .u32("tokenizer.ggml.bos_token_id", 1).u32("tokenizer.ggml.eos_token_id", 2);
        w.f32Tensor("token_embd.weight", random(2, VOCAB * HIDDEN), VOCAB, HIDDEN);
        w.f32Tensor("blk.0.attn_norm.weight", random(3, HIDDEN), HIDDEN);
        w.f32Tensor("blk.0.attn_q.weight", llamaCppPermute(wqHf, HEADS * HEAD_DIM, HIDDEN, HEADS), HEADS * HEAD_DIM, HIDDEN);
        w.tensor("blk.0.attn_k.weight", 8, wkQ8_0Permuted, KV_HEADS * HEAD_DIM, HIDDEN);
        w.f32Tensor("blk.0.attn_v.weight", random(4, KV_HEADS * HEAD_DIM * HIDDEN), KV_HEADS * HEAD_DIM, HIDDEN);
        w.f32Tensor("blk.0.attn_output.weight", random(5, HIDDEN * HEADS * HEAD_DIM), HIDDEN, HEADS * HEAD_DIM);
        w.f32Tensor("blk.0.ffn_norm.weight", random(6, HIDDEN), HIDDEN);
        w.f32Tensor("blk.0.ffn_gate.weight", random(7, FFN * HIDDEN), FFN, HIDDEN);
        w.f32Tensor("blk.0.ffn_up.weight", random(8, FFN * HIDDEN), FFN, HIDDEN);
        w.tensor("blk.0.ffn_down.weight", 12, downQ4_K, HIDDEN, FFN);
        w.f32Tensor("output_norm.weight", random(9, HIDDEN), HIDDEN);
        return w;
    }

    /** Q8_0 rows (one block of 32 per row): a float16 scale and random int8 values. */
    static byte[] q8_0Rows(long seed, int rows) {
        Random r = new Random(seed);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(rows * 34).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < rows; i++) {
            b.putShort(Float.floatToFloat16(0.01f * (1 + r.nextInt(10))));
            for (int k = 0; k < 32; k++) b.put((byte) (r.nextInt(256) - 128));
        }
        return b.array();
    }

    /** Q4_K blocks with sane float16 scales and random quants and sub-scales. */
    static byte[] q4_KBlocks(long seed, int blocks) {
        Random r = new Random(seed);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(blocks * 144).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < blocks; i++) {
            b.putShort(Float.floatToFloat16(0.001f * (1 + r.nextInt(9)))).putShort(Float.floatToFloat16(0.0005f * r.nextInt(5)));
            byte[] rest = new byte[140];
            r.nextBytes(rest);
            b.put(rest);
        }
        return b.array();
    }

    /** Rows of {@code rowBytes} in the order llama.cpp's permute puts them. */
    static byte[] permuteRowBytes(byte[] rowsBytes, int rows, int rowBytes, int heads) {
        int half = rows / heads / 2;
        byte[] out = new byte[rowsBytes.length];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < half; j++)
                    System.arraycopy(rowsBytes, ((h * 2 + i) * half + j) * rowBytes, out, ((h * half + j) * 2 + i) * rowBytes, rowBytes);
        return out;
    }

    @Test
    void syntheticGgufLoadsInHuggingFaceLayout() throws Exception {
        float[] wq = random(10, HEADS * HEAD_DIM * HIDDEN);
        byte[] wkHf = q8_0Rows(11, KV_HEADS * HEAD_DIM);
        byte[] down = q4_KBlocks(12, HIDDEN * FFN / 256);
        Path file = tinyLlama("llama", wq, permuteRowBytes(wkHf, KV_HEADS * HEAD_DIM, 34, KV_HEADS), down).write(dir.resolve("tiny.gguf"));
        Model m = ModelLoader.load(file);
        ModelConfig c = m.config();
        assertEquals(500000f, c.ropeTheta());
        assertEquals(1e-6f, c.normEps());
        assertTrue(c.tiedEmbeddings(), "no output.weight: the head is the embedding");
        assertSame(m.weights().tokenEmbedding(), m.weights().lmHead());
        LayerWeights l = m.weights().layers().getFirst();
        assertArrayEquals(wq, l.wq().toFloatArray(), "Q rows are back in Hugging Face order");
        assertEquals(DType.Q8_0, l.wk().dtype(), "Q8_0 stays Q8_0");
        Tensor expectedK = new Tensor("k", DType.Q8_0, new long[] {KV_HEADS * HEAD_DIM, HIDDEN}, MemorySegment.ofArray(wkHf), "mem");
        assertArrayEquals(expectedK.toFloatArray(), l.wk().toFloatArray(), "K rows (Q8_0 blocks) are back in Hugging Face order");
        assertEquals(DType.F16, l.down().dtype(), "Q4_K becomes F16 at load");
        float[] downF32 = new Tensor("d", DType.Q4_K, new long[] {HIDDEN, FFN}, MemorySegment.ofArray(down), "mem").toFloatArray();
        float[] downF16 = l.down().toFloatArray();
        for (int i = 0; i < downF32.length; i++) assertEquals(Float.float16ToFloat(Float.floatToFloat16(downF32[i])), downF16[i]);
        // its tokenizer: "ab" is one token after the space prefix; BOS first
        assertArrayEquals(new int[] {1, 5}, m.tokenizer().encode("ab", true));
        assertArrayEquals(new int[] {5, 4}, m.tokenizer().encode("abb", false), "▁a, then ▁ab; ▁abb is no token");
    }

    @Test
    void unknownArchitectureNamesFileAndKey() throws Exception {
        Path file = tinyLlama("gptj", random(10, HEADS * HEAD_DIM * HIDDEN), q8_0Rows(11, KV_HEADS * HEAD_DIM),
                q4_KBlocks(12, HIDDEN * FFN / 256)).write(dir.resolve("gptj.gguf"));
        FormatException e = assertThrows(FormatException.class, () -> ModelLoader.load(file));
        assertEquals(file + ": metadata 'general.architecture' is 'gptj': unsupported architecture (llama is supported)", e.getMessage());
    }

    @Test
    void truncatedGgufNamesFileAndTensor() throws Exception {
        Path original = SharedAssets.require("models/stories260K.gguf");
        Path cut = dir.resolve("cut.gguf");
        byte[] bytes = Files.readAllBytes(original);
        Files.write(cut, java.util.Arrays.copyOf(bytes, bytes.length - 100));
        FormatException e = assertThrows(FormatException.class, () -> ModelLoader.load(cut));
        assertTrue(e.getMessage().startsWith(cut.toString()) && e.getMessage().contains("tensor 'blk.4.ffn_norm.weight'")
                && e.getMessage().contains("beyond the end of the file"), e.getMessage());
    }

    @Test
    void ggufTensorShapeDisagreeingWithMetadataIsNamed() throws Exception {
        GgufWriter w = tinyLlama("llama", random(10, HEADS * HEAD_DIM * HIDDEN), q8_0Rows(11, KV_HEADS * HEAD_DIM), q4_KBlocks(12, HIDDEN * FFN / 256));
        w.u32("llama.attention.head_count_kv", 1); // later key wins: the K weight now has twice the rows the metadata implies
        Path file = w.write(dir.resolve("shape.gguf"));
        FormatException e = assertThrows(FormatException.class, () -> ModelLoader.load(file));
        assertEquals(file + ": tensor 'blk.0.attn_k.weight' has shape [16, 32] but the config implies [8, 32]", e.getMessage());
    }

    @Test
    void ggufWithoutTokenizerIsNamed() throws Exception {
        Path file = new GgufWriter().string("general.architecture", "llama").u32("llama.embedding_length", 8)
                .u32("llama.block_count", 1).u32("llama.attention.head_count", 2).u32("llama.feed_forward_length", 16)
                .u32("llama.vocab_size", 4).write(dir.resolve("notok.gguf"));
        FormatException e = assertThrows(FormatException.class, () -> ModelLoader.load(file));
        assertEquals(file + ": no tokenizer (metadata 'tokenizer.ggml.model' is missing)", e.getMessage());
    }
}
