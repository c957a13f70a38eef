package polar.model;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import polar.formats.FormatException;

/**
 * Loads a model from a Hugging Face folder ({@code config.json}, {@code *.safetensors},
 * {@code tokenizer.json}) or a {@code .gguf} file. Tensors stay memory-mapped where the file's layout
 * is the engine's; GGUF Q/K rows are un-permuted and K-quants dequantised into new memory.
 */
public final class ModelLoader {
    private ModelLoader() {}

    /** Loads {@code path}; the mappings are released when the model becomes unreachable. */
    public static Model load(Path path) throws IOException {
        return load(path, Arena.ofAuto());
    }

    /** Loads {@code path} with its mappings and copies owned by {@code arena}. */
    public static Model load(Path path, Arena arena) throws IOException {
        if (!Files.exists(path)) throw new FormatException(path + ": no such file or folder");
        if (Files.isDirectory(path)) return HuggingFaceModel.load(path, arena);
        if (path.getFileName().toString().endsWith(".gguf")) return GgufModel.load(path, arena);
        if (path.getFileName().toString().equals(HuggingFaceModel.CONFIG)) return HuggingFaceModel.load(path.toAbsolutePath().getParent(), arena);
        throw new FormatException(path + ": not a model (expected a Hugging Face folder or a .gguf file)");
    }
}
