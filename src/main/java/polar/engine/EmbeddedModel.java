package polar.engine;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * The default model shipped inside the jar (tiny-llama, 6.5M parameters), so {@code polar generate}
 * works with no model at hand. Model files are memory-mapped, so they are extracted once to
 * {@code <cache>/models/tiny-llama-<hash>/}, where {@code <cache>} is {@code $POLAR_CACHE}, else
 * {@code $XDG_CACHE_HOME/polar}, else {@code ~/.cache/polar}; the hash of the contents keeps a
 * changed model from reusing an old folder.
 */
public final class EmbeddedModel {
    private EmbeddedModel() {}

    public static final String NAME = "tiny-llama";
    private static final String RESOURCE_DIR = "/polar/models/" + NAME + "/";
    private static final List<String> FILES = List.of("config.json", "generation_config.json", "model.safetensors",
            "tokenizer.json", "tokenizer_config.json");

    /** The folder holding the extracted model, extracting it on first use. */
    public static Path path() {
        try {
            byte[][] contents = new byte[FILES.size()][];
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (int i = 0; i < FILES.size(); i++) {
                contents[i] = resource(FILES.get(i));
                sha.update(FILES.get(i).getBytes());
                sha.update(contents[i]);
            }
            String hash = HexFormat.of().formatHex(sha.digest()).substring(0, 16);
            Path dir = cacheRoot().resolve("models").resolve(NAME + "-" + hash);
            if (complete(dir)) return dir;
            Files.createDirectories(dir.getParent());
            Path tmp = Files.createTempDirectory(dir.getParent(), NAME + ".tmp");
            for (int i = 0; i < FILES.size(); i++) Files.write(tmp.resolve(FILES.get(i)), contents[i]);
            try {
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException | java.nio.file.DirectoryNotEmptyException e) {
                // another process extracted it first (or the folder was left incomplete): keep theirs or replace it
                if (!complete(dir)) throw new IOException("cannot extract the embedded model to " + dir, e);
                for (String f : FILES) Files.deleteIfExists(tmp.resolve(f));
                Files.deleteIfExists(tmp);
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("embedded model: " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Where Polar keeps extracted files. */
    public static Path cacheRoot() {
        String polar = System.getenv("POLAR_CACHE");
        if (polar != null && !polar.isBlank()) return Path.of(polar);
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) return Path.of(xdg, "polar");
        return Path.of(System.getProperty("user.home"), ".cache", "polar");
    }

    private static boolean complete(Path dir) {
        return FILES.stream().allMatch(f -> Files.isRegularFile(dir.resolve(f)));
    }

    private static byte[] resource(String file) throws IOException {
        try (InputStream in = EmbeddedModel.class.getResourceAsStream(RESOURCE_DIR + file)) {
            if (in == null) throw new IOException("resource " + RESOURCE_DIR + file + " is missing from the class path");
            return in.readAllBytes();
        }
    }
}
