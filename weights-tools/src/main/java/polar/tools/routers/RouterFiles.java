package polar.tools.routers;

import java.nio.file.Path;
import java.util.Map;
import polar.engine.sparsity.RouterWeights;
import polar.tools.io.SafetensorsWriter;

/** Writes routers as {@value RouterWeights#FILE_NAME} (read back with {@link RouterWeights#load}). */
public final class RouterFiles {
    private RouterFiles() {}

    public static void save(RouterWeights routers, Path file) {
        SafetensorsWriter.write(file, routers.tensors(), Map.of("format", "polar-routers", "version", "1"));
    }
}
