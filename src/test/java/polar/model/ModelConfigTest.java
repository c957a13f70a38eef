package polar.model;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import polar.formats.FormatException;

/** config.json as the Hugging Face variants write it: rope_theta in either place, llama3 rope scaling, GQA, OPT. */
class ModelConfigTest {

    @TempDir Path dir;

    private static final String LLAMA = """
            "model_type": "llama", "vocab_size": 128256, "hidden_size": 4096, "num_hidden_layers": 32,
            "num_attention_heads": 32, "intermediate_size": 14336, "max_position_embeddings": 131072, "rms_norm_eps": 1e-05
            """;

    private ModelConfig config(String json) throws IOException {
        Files.writeString(dir.resolve("config.json"), "{" + json + "}");
        return HuggingFaceModel.config(dir);
    }

    @Test
    void ropeThetaAtTheTopLevel() throws IOException {
        ModelConfig c = config(LLAMA + ", \"rope_theta\": 500000.0, \"num_key_value_heads\": 8");
        assertEquals(500000f, c.ropeTheta());
        assertEquals(8, c.kvHeads());
        assertEquals(4, c.groupSize());
        assertEquals(128, c.headDim(), "head_dim defaults to hidden / heads");
        assertEquals(128, c.ropeDims());
        assertNull(c.ropeScaling());
        assertFalse(c.tiedEmbeddings());
        assertEquals(Architecture.LLAMA, c.architecture());
    }

    @Test
    void ropeThetaInRopeParameters() throws IOException {
        ModelConfig c = config(LLAMA + ", \"rope_parameters\": {\"rope_theta\": 1000000.0, \"rope_type\": \"default\"}");
        assertEquals(1e6f, c.ropeTheta());
        assertEquals(32, c.kvHeads(), "num_key_value_heads defaults to the head count");
        assertNull(c.ropeScaling());
    }

    @Test
    void ropeThetaDefaultsTo10000() throws IOException {
        assertEquals(10000f, config(LLAMA).ropeTheta());
    }

    @Test
    void llama3RopeScalingAtTheTopLevel() throws IOException {
        ModelConfig c = config(LLAMA + """
                , "rope_theta": 500000.0, "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 8192, "rope_type": "llama3"}, "tie_word_embeddings": true""");
        assertEquals(new ModelConfig.RopeScaling(8f, 1f, 4f, 8192), c.ropeScaling());
        assertEquals(500000f, c.ropeTheta());
        assertTrue(c.tiedEmbeddings());
    }

    @Test
    void llama3RopeScalingInRopeParameters() throws IOException {
        ModelConfig c = config(LLAMA + """
                , "rope_parameters": {"rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 8192, "rope_type": "llama3"}""");
        assertEquals(new ModelConfig.RopeScaling(32f, 1f, 4f, 8192), c.ropeScaling());
        assertEquals(500000f, c.ropeTheta());
    }

    @Test
    void unsupportedRopeScalingIsNamed() {
        FormatException e = assertThrows(FormatException.class, () -> config(LLAMA + ", \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4.0}"));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("'type'") && e.getMessage().contains("yarn"), e.getMessage());
    }

    @Test
    void architecturesListAndExplicitHeadDim() throws IOException {
        ModelConfig c = config("""
                "architectures": ["MistralForCausalLM"], "vocab_size": 32000, "hidden_size": 4096, "num_hidden_layers": 32,
                "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 96, "intermediate_size": 14336,
                "max_position_embeddings": 32768, "sliding_window": 4096""");
        assertEquals(Architecture.LLAMA, c.architecture());
        assertEquals(4096, c.maxPositions(), "the context stops at the sliding window, where full attention is still exact");
        assertEquals(96, c.headDim());
        assertEquals(32 * 96, c.qDim());
        assertEquals(8 * 96, c.kvDim());
    }

    @Test
    void eosFromGenerationConfigMayBeAList() throws IOException {
        Files.writeString(dir.resolve("generation_config.json"), "{\"bos_token_id\": 128000, \"eos_token_id\": [128001, 128008, 128009]}");
        ModelConfig c = config(LLAMA + ", \"bos_token_id\": 1, \"eos_token_id\": 128001");
        assertEquals(128000, c.bosId());
        assertArrayEquals(new int[] {128001, 128008, 128009}, c.eosIds());
        assertTrue(c.isEos(128009));
        assertFalse(c.isEos(1));
    }

    @Test
    void optConfig() throws IOException {
        ModelConfig c = config("""
                "model_type": "opt", "vocab_size": 50272, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                "ffn_dim": 3072, "max_position_embeddings": 2048, "do_layer_norm_before": true, "word_embed_proj_dim": 768,
                "activation_function": "relu", "enable_bias": true, "bos_token_id": 2, "eos_token_id": 2""");
        assertEquals(Architecture.OPT, c.architecture());
        assertEquals(64, c.headDim());
        assertEquals(12, c.kvHeads());
        assertEquals(2, c.positionOffset());
        assertTrue(c.tiedEmbeddings());
        assertEquals(0f, c.ropeTheta());
    }

    @Test
    void unsupportedOptVariantsAreNamed() {
        String opt = "\"model_type\": \"opt\", \"vocab_size\": 50272, \"hidden_size\": 1024, \"num_hidden_layers\": 24, \"num_attention_heads\": 16, \"ffn_dim\": 4096";
        FormatException e = assertThrows(FormatException.class, () -> config(opt + ", \"do_layer_norm_before\": false"));
        assertTrue(e.getMessage().contains("'do_layer_norm_before'"), e.getMessage());
        e = assertThrows(FormatException.class, () -> config(opt + ", \"word_embed_proj_dim\": 512"));
        assertTrue(e.getMessage().contains("'word_embed_proj_dim'") && e.getMessage().contains("unsupported"), e.getMessage());
        e = assertThrows(FormatException.class, () -> config(opt + ", \"activation_function\": \"gelu\""));
        assertTrue(e.getMessage().contains("'activation_function'"), e.getMessage());
    }

    @Test
    void unknownModelTypeNamesFileAndField() {
        FormatException e = assertThrows(FormatException.class, () -> config("\"model_type\": \"gpt_neox\", \"vocab_size\": 10"));
        assertEquals(dir.resolve("config.json") + ": field 'model_type' names an unsupported architecture ('gpt_neox'); supported: llama, mistral, opt",
                e.getMessage());
    }

    @Test
    void missingAndIllTypedFieldsAreNamed() {
        FormatException e = assertThrows(FormatException.class, () -> config("\"model_type\": \"llama\", \"vocab_size\": 10, \"hidden_size\": 64"));
        assertTrue(e.getMessage().contains("config.json: field 'num_hidden_layers' is missing"), e.getMessage());
        e = assertThrows(FormatException.class, () -> config(LLAMA + ", \"num_key_value_heads\": 5"));
        assertTrue(e.getMessage().contains("'num_key_value_heads'") && e.getMessage().contains("must divide"), e.getMessage());
        e = assertThrows(FormatException.class, () -> config(LLAMA.replace("\"hidden_size\": 4096", "\"hidden_size\": \"big\"")));
        assertTrue(e.getMessage().contains("field 'hidden_size' must be an integer, got \"big\""), e.getMessage());
    }
}
