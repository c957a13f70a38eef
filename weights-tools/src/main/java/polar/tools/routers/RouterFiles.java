package polar.tools.routers;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import polar.engine.sparsity.RouterWeights;
import polar.formats.Safetensors;

/** Writes routers as {@value RouterWeights#FILE_NAME} (float32 safetensors, read back with {@link RouterWeights#load}). */
public final class RouterFiles {
    private RouterFiles() {}

    public static void save(RouterWeights routers, Path file) {
        try {
            Safetensors.write(file, routers.tensors(), Map.of("format", "polar-routers", "version", "1"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
