package polar.model;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import polar.formats.FormatException;
import polar.formats.Json;
import polar.formats.JsonFields;
import polar.formats.Safetensors;
import polar.formats.Tensor;

/** A Hugging Face model folder: {@code config.json}, {@code *.safetensors}, {@code tokenizer.json}, {@code generation_config.json}. */
final class HuggingFaceModel {
    private HuggingFaceModel() {}

    static final String CONFIG = "config.json", GENERATION_CONFIG = "generation_config.json", TOKENIZER = "tokenizer.json";

    static Model load(Path folder, Arena arena) throws IOException {
        ModelConfig config = config(folder);
        Path tokenizerFile = folder.resolve(TOKENIZER);
        if (!Files.exists(tokenizerFile))
            throw new FormatException(folder + ": " + TOKENIZER + " is missing (Polar reads the tokenizer from it"
                    + (Files.exists(folder.resolve("tokenizer.model")) ? "; a SentencePiece tokenizer.model alone is not supported" : "") + ")");
        Tokenizer tokenizer = BpeTokenizer.load(tokenizerFile);
        Safetensors st = Safetensors.open(folder, arena);
        ModelWeights weights = weights(config, new WeightSet(st.tensors(), folder.toString()));
        return new Model(config, weights, tokenizer, folder);
    }

    /** The config of {@code folder}'s {@code config.json}, with BOS/EOS completed from {@code generation_config.json}. */
    static ModelConfig config(Path folder) throws IOException {
        Path file = folder.resolve(CONFIG);
        if (!Files.exists(file)) throw new FormatException(folder + ": " + CONFIG + " is missing");
        JsonFields c = JsonFields.of(Json.parse(file), file.toString());
        Path genFile = folder.resolve(GENERATION_CONFIG);
        JsonFields gen = Files.exists(genFile) ? JsonFields.of(Json.parse(genFile), genFile.toString()) : null;
        return config(c, gen);
    }

    static ModelConfig config(JsonFields c, JsonFields gen) {
        Architecture arch = architecture(c);
        int bos = (int) (gen != null && gen.has("bos_token_id") ? gen.integer("bos_token_id") : c.integer("bos_token_id", -1));
        Set<Integer> eos = new LinkedHashSet<>();
        for (JsonFields f : new JsonFields[] {gen, c})
            if (f != null && f.has("eos_token_id")) for (long e : f.integers("eos_token_id")) eos.add((int) e);
        int[] eosIds = eos.stream().mapToInt(Integer::intValue).toArray();
        int vocab = c.intAtLeast("vocab_size", 1);
        int hidden = c.intAtLeast("hidden_size", 1);
        int layers = c.intAtLeast("num_hidden_layers", 1);
        int heads = c.intAtLeast("num_attention_heads", 1);
        return switch (arch) {
            case LLAMA -> {
                int kvHeads = c.intAtLeast("num_key_value_heads", 1, heads);
                if (heads % kvHeads != 0)
                    throw c.error("num_key_value_heads", "(" + kvHeads + ") must divide num_attention_heads (" + heads + ")");
                int headDim = c.intAtLeast("head_dim", 1, hidden / heads);
                String act = c.string("hidden_act", "silu");
                if (!act.equals("silu")) throw c.error("hidden_act", "is '" + act + "': only silu is supported for Llama-family models");
                if (c.bool("mlp_bias", false)) throw c.error("mlp_bias", "is true: MLP biases are not supported for Llama-family models");
                JsonFields ropeParameters = c.objectOrNull("rope_parameters");
                float theta = (float) (c.has("rope_theta") ? c.number("rope_theta")
                        : ropeParameters != null ? ropeParameters.number("rope_theta", 10000) : 10000);
                JsonFields scaling = c.has("rope_scaling") ? c.object("rope_scaling") : ropeParameters;
                // Mistral's sliding window: within it, full attention is exact, so the context stops there.
                int maxPositions = c.intAtLeast("max_position_embeddings", 1, 2048);
                if (c.has("sliding_window")) maxPositions = Math.min(maxPositions, c.intAtLeast("sliding_window", 1));
                yield new ModelConfig(arch, vocab, hidden, layers, heads, kvHeads, headDim,
                        c.intAtLeast("intermediate_size", 1), maxPositions,
                        (float) c.number("rms_norm_eps", 1e-6), theta, ropeScaling(scaling), headDim, 0,
                        c.bool("tie_word_embeddings", false), bos, eosIds);
            }
            case OPT -> {
                if (!c.bool("do_layer_norm_before", true))
                    throw c.error("do_layer_norm_before", "is false: post-LayerNorm OPT (350m) is unsupported");
                if (c.has("word_embed_proj_dim") && c.integer("word_embed_proj_dim") != hidden)
                    throw c.error("word_embed_proj_dim", "(" + c.integer("word_embed_proj_dim") + ") differs from hidden_size ("
                            + hidden + "): OPT with embedding projections is unsupported");
                String act = c.string("activation_function", "relu");
                if (!act.equals("relu")) throw c.error("activation_function", "is '" + act + "': only relu is supported for OPT");
                if (c.bool("_remove_final_layer_norm", false))
                    throw c.error("_remove_final_layer_norm", "is true: OPT without a final LayerNorm is unsupported");
                if (!c.bool("layer_norm_elementwise_affine", true))
                    throw c.error("layer_norm_elementwise_affine", "is false: LayerNorm without weights is unsupported");
                if (hidden % heads != 0) throw c.error("num_attention_heads", "(" + heads + ") must divide hidden_size (" + hidden + ")");
                yield new ModelConfig(arch, vocab, hidden, layers, heads, heads, hidden / heads,
                        c.intAtLeast("ffn_dim", 1), c.intAtLeast("max_position_embeddings", 1, 2048),
                        1e-5f, 0f, null, 0, OPT_POSITION_OFFSET, c.bool("tie_word_embeddings", true), bos, eosIds);
            }
        };
    }

    /** OPT's learned position table has two extra leading rows (fairseq's padding offset). */
    static final int OPT_POSITION_OFFSET = 2;

    private static Architecture architecture(JsonFields c) {
        String type = c.string("model_type", "");
        List<String> declared = new ArrayList<>();
        if (c.has("architectures")) for (Object o : c.list("architectures")) declared.add(String.valueOf(o));
        if (type.equals("llama") || type.equals("mistral") || declared.contains("LlamaForCausalLM") || declared.contains("MistralForCausalLM"))
            return Architecture.LLAMA;
        if (type.equals("opt") || declared.contains("OPTForCausalLM")) return Architecture.OPT;
        throw c.error(c.has("model_type") ? "model_type" : "architectures", "names an unsupported architecture ("
                + (c.has("model_type") ? "'" + type + "'" : Json.write(declared)) + "); supported: llama, mistral, opt");
    }

    /** {@code rope_scaling} (or v5's {@code rope_parameters}): null for none/default, llama3 parameters, else unsupported. */
    static ModelConfig.RopeScaling ropeScaling(JsonFields s) {
        if (s == null) return null;
        String key = s.has("rope_type") ? "rope_type" : "type";
        String type = s.string(key, "default");
        return switch (type) {
            case "default" -> null;
            case "llama3" -> new ModelConfig.RopeScaling((float) s.number("factor"), (float) s.number("low_freq_factor"),
                    (float) s.number("high_freq_factor"), s.intAtLeast("original_max_position_embeddings", 1));
            default -> throw s.error(key, "is '" + type + "': only llama3 rope scaling is supported");
        };
    }

    static ModelWeights weights(ModelConfig c, WeightSet w) {
        long h = c.hidden(), q = c.qDim(), kv = c.kvDim(), f = c.ffn(), v = c.vocabSize();
        List<LayerWeights> layers = new ArrayList<>();
        return switch (c.architecture()) {
            case LLAMA -> {
                Tensor embed = w.require("model.embed_tokens.weight", v, h);
                for (int i = 0; i < c.layers(); i++) {
                    String p = "model.layers." + i + ".";
                    layers.add(new LayerWeights(w.require(p + "input_layernorm.weight", h), null,
                            w.require(p + "self_attn.q_proj.weight", q, h), w.optional(p + "self_attn.q_proj.bias", q),
                            w.require(p + "self_attn.k_proj.weight", kv, h), w.optional(p + "self_attn.k_proj.bias", kv),
                            w.require(p + "self_attn.v_proj.weight", kv, h), w.optional(p + "self_attn.v_proj.bias", kv),
                            w.require(p + "self_attn.o_proj.weight", h, q), w.optional(p + "self_attn.o_proj.bias", h),
                            w.require(p + "post_attention_layernorm.weight", h), null,
                            w.require(p + "mlp.gate_proj.weight", f, h), w.require(p + "mlp.up_proj.weight", f, h), null,
                            w.require(p + "mlp.down_proj.weight", h, f), null));
                }
                Tensor head = c.tiedEmbeddings() ? embed : w.require("lm_head.weight", v, h);
                yield new ModelWeights(embed, null, layers, w.require("model.norm.weight", h), null, head);
            }
            case OPT -> {
                String d = "model.decoder.";
                Tensor embed = w.require(d + "embed_tokens.weight", v, h);
                Tensor positions = w.require(d + "embed_positions.weight", c.maxPositions() + (long) c.positionOffset(), h);
                boolean biases = w.has(d + "layers.0.self_attn.q_proj.bias");
                for (int i = 0; i < c.layers(); i++) {
                    String p = d + "layers." + i + ".";
                    layers.add(new LayerWeights(
                            w.require(p + "self_attn_layer_norm.weight", h), w.require(p + "self_attn_layer_norm.bias", h),
                            w.require(p + "self_attn.q_proj.weight", h, h), bias(w, biases, p + "self_attn.q_proj.bias", h),
                            w.require(p + "self_attn.k_proj.weight", h, h), bias(w, biases, p + "self_attn.k_proj.bias", h),
                            w.require(p + "self_attn.v_proj.weight", h, h), bias(w, biases, p + "self_attn.v_proj.bias", h),
                            w.require(p + "self_attn.out_proj.weight", h, h), bias(w, biases, p + "self_attn.out_proj.bias", h),
                            w.require(p + "final_layer_norm.weight", h), w.require(p + "final_layer_norm.bias", h),
                            null, w.require(p + "fc1.weight", f, h), bias(w, biases, p + "fc1.bias", f),
                            w.require(p + "fc2.weight", h, f), bias(w, biases, p + "fc2.bias", h)));
                }
                Tensor head = c.tiedEmbeddings() ? embed : w.require("lm_head.weight", v, h);
                yield new ModelWeights(embed, positions, layers,
                        w.require(d + "final_layer_norm.weight", h), w.require(d + "final_layer_norm.bias", h), head);
            }
        };
    }

    /** OPT biases (enable_bias) are all present or all absent, as the first layer's q_proj shows. */
    private static Tensor bias(WeightSet w, boolean present, String name, long size) {
        return present ? w.require(name, size) : null;
    }
}
