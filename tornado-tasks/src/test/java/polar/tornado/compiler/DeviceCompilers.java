package polar.tornado.compiler;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Builds generated code with real device compilers, for tests: CUDA C with {@code nvcc --ptx}
 * and OpenCL C with the first OpenCL platform (PoCL in CI, see {@link OpenClRunner}). Each returns the
 * compiler's log when the build fails, empty when it succeeds; absent tools are reported by
 * {@link #hasNvcc()} and {@link #hasOpenCl()} so tests can skip.
 */
final class DeviceCompilers {
    private DeviceCompilers() {}

    // ---- CUDA

    static Optional<Path> nvcc() {
        for (String p : new String[] {"/usr/local/cuda/bin/nvcc", "/usr/local/bin/nvcc", "/usr/bin/nvcc"}) {
            if (Files.isExecutable(Path.of(p))) return Optional.of(Path.of(p));
        }
        return Optional.empty();
    }

    static boolean hasNvcc() { return nvcc().isPresent(); }

    /** {@code nvcc --ptx -arch=sm_90} on {@code code}; the log on failure. */
    static Optional<String> buildCuda(String code) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("polar-nvcc");
        try {
            Path src = Files.writeString(dir.resolve("kernel.cu"), code);
            Process p = new ProcessBuilder(nvcc().orElseThrow().toString(), "--ptx", "-arch=sm_90", "-Werror", "all-warnings",
                    "-o", dir.resolve("kernel.ptx").toString(), src.toString()).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(120, TimeUnit.SECONDS)) p.destroyForcibly();
            return p.exitValue() == 0 ? Optional.empty() : Optional.of(log);
        } finally {
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dir);
        }
    }

    // ---- OpenCL

    static boolean hasOpenCl() { return OpenClRunner.available(); }

    /** Builds {@code code} as OpenCL C 1.2 for the first device of the first platform; the build log on failure. */
    static Optional<String> buildOpenCl(String code) throws Throwable {
        try (OpenClRunner cl = new OpenClRunner()) {
            return cl.build(code);
        }
    }
}
