package polar.model;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** The read-only test assets in ../shared (models, golden outputs, corpora); tests skip when absent. */
public final class SharedAssets {
    private SharedAssets() {}

    public static Path root() { return Path.of(System.getProperty("polar.shared", "../shared")); }

    /** {@code relative} under the shared folder; skips the calling test when it does not exist. */
    public static Path require(String relative) {
        Path p = root().resolve(relative);
        assumeTrue(Files.exists(p), () -> p + " is absent");
        return p;
    }
}
