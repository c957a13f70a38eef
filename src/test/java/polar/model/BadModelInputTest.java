package polar.model;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import polar.formats.FormatException;

/** Broken Hugging Face folders, built from the shared tiny models in a temporary folder, give errors naming file and tensor or field. */
class BadModelInputTest {

    @TempDir Path dir;

    /** A copy of {@code model}'s folder: config.json rewritten by {@code edit}, the other files linked (or copied when {@code copy}). */
    private Path folder(String model, java.util.function.UnaryOperator<String> edit, boolean copyWeights, String... leaveOut) throws IOException {
        Path source = SharedAssets.require("models/" + model);
        Path target = Files.createDirectory(dir.resolve(model));
        try (var files = Files.list(source)) {
            for (Path f : files.toList()) {
                String name = f.getFileName().toString();
                if (java.util.List.of(leaveOut).contains(name)) continue;
                if (name.equals("config.json")) Files.writeString(target.resolve(name), edit.apply(Files.readString(f)));
                else if (copyWeights && name.endsWith(".safetensors")) Files.copy(f, target.resolve(name));
                else Files.createSymbolicLink(target.resolve(name), f.toAbsolutePath());
            }
        }
        return target;
    }

    @Test
    void tensorShapeDisagreeingWithConfig() throws IOException {
        Path f = folder("tiny-llama", c -> c.replace("\"intermediate_size\": 704", "\"intermediate_size\": 700"), false);
        FormatException e = assertThrows(FormatException.class, () -> ModelLoader.load(f));
        assertEquals(f.resolve("model.safetensors") + ": tensor 'model.layers.0.mlp.gate_proj.weight' has shape [704, 256] but the config implies [700, 256]",
                e.getMessage());
    }

    @Test
    void kvHeadsDisagreeingWithKProjection() throws IOException {
        Path f = folder("tiny-llama", c -> c.replace("\"num_key_value_heads\": 4", "\"num_key_value_heads\": 2"), false);
        FormatException e = assertThrows(FormatException.class, () -> ModelLoader.load(f));
        assertTrue(e.getMessage().contains("tensor 'model.layers.0.self_attn.k_proj.weight' has shape [128, 256] but the config implies [64, 256]"), e.getMessage());
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        Path f = folder("tiny-opt", c -> c.replace("\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false"), false);
        FormatException e = assertThrows(FormatException.class, () -> ModelLoader.load(f));
        assertEquals(f + ": tensor 'lm_head.weight' is missing", e.getMessage());
    }

    @Test
    void missingTokenizer() throws IOException {
        Path f = folder("tiny-llama", c -> c, false, "tokenizer.json");
        FormatException e = assertThrows(FormatException.class, () -> ModelLoader.load(f));
        assertTrue(e.getMessage().startsWith(f + ": tokenizer.json is missing"), e.getMessage());
    }

    @Test
    void missingConfig() throws IOException {
        Path f = folder("tiny-llama", c -> c, false, "config.json");
        FormatException e = assertThrows(FormatException.class, () -> ModelLoader.load(f));
        assertEquals(f + ": config.json is missing", e.getMessage());
    }

    @Test
    void unknownModelType() throws IOException {
        Path f = folder("tiny-opt", c -> c.replace("\"model_type\": \"opt\"", "\"model_type\": \"bloom\"").replace("OPTForCausalLM", "BloomForCausalLM"), false);
        FormatException e = assertThrows(FormatException.class, () -> ModelLoader.load(f));
        assertTrue(e.getMessage().startsWith(f.resolve("config.json") + ": field 'model_type' names an unsupported architecture ('bloom')"), e.getMessage());
    }

    @Test
    void truncatedSafetensors() throws IOException {
        Path f = folder("tiny-opt", c -> c, true);
        Path weights = f.resolve("model.safetensors");
        try (RandomAccessFile file = new RandomAccessFile(weights.toFile(), "rw")) { file.setLength(file.length() / 2); }
        FormatException e = assertThrows(FormatException.class, () -> ModelLoader.load(f));
        assertTrue(e.getMessage().startsWith(weights + ": tensor 'model.decoder.layers."), e.getMessage());
        assertTrue(e.getMessage().contains("beyond the end of the file"), e.getMessage());
    }

    @Test
    void corruptSafetensorsHeader() throws IOException {
        Path f = folder("tiny-llama", c -> c, true);
        Path weights = f.resolve("model.safetensors");
        try (RandomAccessFile file = new RandomAccessFile(weights.toFile(), "rw")) {
            file.seek(8 + 15); // the ':' after "__metadata__"
            file.write('#');
        }
        FormatException e = assertThrows(FormatException.class, () -> ModelLoader.load(f));
        assertTrue(e.getMessage().startsWith(weights + ": corrupt safetensors header: "), e.getMessage());
        assertTrue(e.getMessage().contains(":1:16: expected ':'"), e.getMessage());
    }
}
