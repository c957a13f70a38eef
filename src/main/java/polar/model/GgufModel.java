package polar.model;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import polar.formats.DType;
import polar.formats.FormatException;
import polar.formats.Gguf;
import polar.formats.Quants;
import polar.formats.Tensor;

/**
 * A GGUF file of the llama architecture (Llama, Mistral, TinyLlama as llama.cpp converts them).
 *
 * <p>At load, two things are rewritten into new memory so that the engine sees the Hugging Face layout:
 * Q4_K and Q6_K tensors are dequantised to F16 (F16 keeps their values to about 1e-3 relative, halving the
 * memory of F32); Q and K rows, which llama.cpp's converter permuted for rotary embedding on adjacent pairs,
 * are permuted back to the half-split order. F32, F16, BF16 and Q8_0 tensors otherwise stay mapped as stored.
 */
final class GgufModel {
    private GgufModel() {}

    static final String ARCHITECTURE = "general.architecture";

    static Model load(Path file, Arena arena) throws IOException {
        Gguf g = Gguf.open(file, arena);
        ModelConfig config = config(g);
        Tokenizer tokenizer = tokenizer(g);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Tensor t : g.tensors().values()) tensors.put(t.name(), t);
        ModelWeights weights = weights(config, new WeightSet(tensors, file.toString()), arena);
        return new Model(config, weights, tokenizer, file);
    }

    static ModelConfig config(Gguf g) {
        String arch = g.string(ARCHITECTURE);
        if (!arch.equals("llama"))
            throw new FormatException(g.file() + ": metadata '" + ARCHITECTURE + "' is '" + arch + "': unsupported architecture (llama is supported)");
        String p = arch + ".";
        int hidden = g.intAtLeast(p + "embedding_length", 1);
        int heads = g.intAtLeast(p + "attention.head_count", 1);
        int kvHeads = g.intAtLeast(p + "attention.head_count_kv", 1, heads);
        if (heads % kvHeads != 0)
            throw new FormatException(g.file() + ": metadata '" + p + "attention.head_count_kv' (" + kvHeads + ") must divide head_count (" + heads + ")");
        int headDim = g.intAtLeast(p + "attention.key_length", 1, hidden / heads);
        String scaling = g.has(p + "rope.scaling.type") ? g.string(p + "rope.scaling.type") : "none";
        if (!scaling.equals("none"))
            throw new FormatException(g.file() + ": metadata '" + p + "rope.scaling.type' is '" + scaling + "': unsupported rope scaling");
        if (g.tensors().containsKey("rope_freqs.weight"))
            throw new FormatException(g.file() + ": tensor 'rope_freqs.weight' (Llama 3.1 rope scaling in GGUF) is unsupported; load the Hugging Face folder instead");
        int vocab = g.has(p + "vocab_size") ? g.intAtLeast(p + "vocab_size", 1) : g.strings("tokenizer.ggml.tokens").size();
        Set<Integer> eos = new LinkedHashSet<>();
        for (String key : List.of("tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"))
            if (g.has(key)) eos.add((int) g.integer(key));
        return new ModelConfig(Architecture.LLAMA, vocab, hidden, g.intAtLeast(p + "block_count", 1), heads, kvHeads, headDim,
                g.intAtLeast(p + "feed_forward_length", 1), g.intAtLeast(p + "context_length", 1, 2048),
                (float) g.number(p + "attention.layer_norm_rms_epsilon", 1e-5),
                (float) g.number(p + "rope.freq_base", 10000), null, g.intAtLeast(p + "rope.dimension_count", 1, headDim), 0,
                !g.tensors().containsKey("output.weight"), (int) g.integer("tokenizer.ggml.bos_token_id", -1),
                eos.stream().mapToInt(Integer::intValue).toArray());
    }

    static Tokenizer tokenizer(Gguf g) {
        String key = "tokenizer.ggml.model";
        if (!g.has(key) || !g.has("tokenizer.ggml.tokens"))
            throw new FormatException(g.file() + ": no tokenizer (metadata '" + (g.has(key) ? "tokenizer.ggml.tokens" : key) + "' is missing)");
        String model = g.string(key);
        return switch (model) {
            case "llama" -> SentencePieceTokenizer.fromGguf(g);
            case "gpt2" -> BpeTokenizer.fromGguf(g);
            default -> throw new FormatException(g.file() + ": metadata '" + key + "' is '" + model + "': unsupported tokenizer (llama and gpt2 are supported)");
        };
    }

    static ModelWeights weights(ModelConfig c, WeightSet w, Arena arena) {
        long h = c.hidden(), q = c.qDim(), kv = c.kvDim(), f = c.ffn(), v = c.vocabSize();
        Tensor embed = loadable(w.require("token_embd.weight", v, h), arena);
        List<LayerWeights> layers = new ArrayList<>();
        for (int i = 0; i < c.layers(); i++) {
            String p = "blk." + i + ".";
            Tensor wq = unpermuteRows(loadable(w.require(p + "attn_q.weight", q, h), arena), c.heads(), arena);
            Tensor wk = unpermuteRows(loadable(w.require(p + "attn_k.weight", kv, h), arena), c.kvHeads(), arena);
            layers.add(new LayerWeights(w.require(p + "attn_norm.weight", h), null,
                    wq, null, wk, null,
                    loadable(w.require(p + "attn_v.weight", kv, h), arena), null,
                    loadable(w.require(p + "attn_output.weight", h, q), arena), null,
                    w.require(p + "ffn_norm.weight", h), null,
                    loadable(w.require(p + "ffn_gate.weight", f, h), arena), loadable(w.require(p + "ffn_up.weight", f, h), arena), null,
                    loadable(w.require(p + "ffn_down.weight", h, f), arena), null));
        }
        Tensor head = c.tiedEmbeddings() ? embed : loadable(w.require("output.weight", v, h), arena);
        return new ModelWeights(embed, null, layers, w.require("output_norm.weight", h), null, head);
    }

    /** {@code t} in a type the engine reads: K-quants become F16 (new memory), others stay as they are. */
    static Tensor loadable(Tensor t, Arena arena) {
        if (t.dtype() != DType.Q4_K && t.dtype() != DType.Q6_K) return t;
        int cols = (int) t.dim(t.rank() - 1);
        long rows = t.rows();
        MemorySegment out = arena.allocate(t.elements() * 2, 64);
        float[] row = new float[cols];
        for (long r = 0; r < rows; r++) {
            Quants.dequantize(t.dtype(), t.data().asSlice(r * t.rowBytes(), t.rowBytes()), cols, row, 0);
            for (int i = 0; i < cols; i++) out.set(F16_LE, (r * cols + i) * 2, Float.floatToFloat16(row[i]));
        }
        return new Tensor(t.name(), DType.F16, t.shape(), out, t.file());
    }

    private static final ValueLayout.OfShort F16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * Undoes llama.cpp's {@code permute(w, n_head)} ({@code w.reshape(n_head, 2, d/2, ...).swapaxes(1, 2)}) on the rows of
     * a Q or K weight: GGUF row {@code h*d + 2j + i} is Hugging Face row {@code h*d + i*d/2 + j} (i in {0,1}, j < d/2),
     * so the engine applies half-split RoPE to every model. Rows are copied whole, so any row-wise type works.
     */
    static Tensor unpermuteRows(Tensor t, int heads, Arena arena) {
        long rows = t.dim(0);
        if (rows % heads != 0 || (rows / heads) % 2 != 0)
            throw new FormatException(t.file() + ": tensor '" + t.name() + "' has " + rows + " rows, not an even head size for " + heads + " heads");
        long d = rows / heads, half = d / 2, rowBytes = t.rowBytes();
        MemorySegment out = arena.allocate(t.data().byteSize(), 64);
        for (long hd = 0; hd < heads; hd++)
            for (long i = 0; i < 2; i++)
                for (long j = 0; j < half; j++) {
                    long src = hd * d + 2 * j + i, dst = hd * d + i * half + j;
                    MemorySegment.copy(t.data(), src * rowBytes, out, dst * rowBytes, rowBytes);
                }
        return new Tensor(t.name(), t.dtype(), t.shape(), out, t.file());
    }
}
