package polar.tornado.compiler;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import polar.tornado.graph.KernelRef;
import polar.tornado.graph.KernelTask;

/**
 * Every kernel shipped in {@code polar.tornado.kernels} translates to both dialects, and the
 * translations build, as one unit per dialect, with nvcc and OpenCL where they are installed.
 * Kernels whose local memory is sized by an argument are translated with their int arguments
 * specialised to 64.
 */
class ShippedKernelsTest {

    static Stream<String> kernels() throws IOException, URISyntaxException, ClassNotFoundException {
        URL dir = ShippedKernelsTest.class.getClassLoader().getResource("polar/tornado/kernels");
        List<String> names = new ArrayList<>();
        if (dir == null || !dir.getProtocol().equals("file")) return names.stream();
        try (Stream<Path> files = Files.list(Path.of(dir.toURI()))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".class") && !p.getFileName().toString().contains("$")).sorted().toList()) {
                Class<?> c = Class.forName("polar.tornado.kernels." + f.getFileName().toString().replace(".class", ""));
                Map<String, Integer> overloads = new HashMap<>();
                for (Method m : c.getDeclaredMethods()) overloads.merge(m.getName(), 1, Integer::sum);
                for (Method m : c.getDeclaredMethods()) {
                    // an overloaded kernel is named by a method reference only (KernelRef.of(Class, name) refuses it)
                    if (Modifier.isPublic(m.getModifiers()) && Modifier.isStatic(m.getModifiers()) && m.getReturnType() == void.class
                            && overloads.get(m.getName()) == 1) {
                        names.add(c.getSimpleName() + "." + m.getName());
                    }
                }
            }
        }
        return names.stream().sorted();
    }

    private static KernelRef kernel(String name) throws ClassNotFoundException {
        int dot = name.indexOf('.');
        return KernelRef.of(Class.forName("polar.tornado.kernels." + name.substring(0, dot)), name.substring(dot + 1));
    }

    /** No constants, or every int argument specialised to 64 where local memory is sized by an argument. */
    private static Map<Integer, Integer> constants(KernelRef kernel) {
        try {
            // translate, not only analyze: local arrays of device functions are sized at translation
            KernelCompiler.translate(kernel, Dialect.CUDA, Map.of());
            return Map.of();
        } catch (KernelCompileException e) {
            if (!e.getMessage().contains("local memory size must be a compile-time constant")) throw e;
            Map<Integer, Integer> constants = new HashMap<>();
            Class<?>[] types = kernel.argumentTypes();
            for (int i = 0; i < types.length; i++) if (types[i] == int.class) constants.put(i, 64);
            return constants;
        }
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void translates(String name) throws ClassNotFoundException {
        KernelRef kernel = kernel(name);
        for (Dialect d : Dialect.values()) KernelCompiler.translate(kernel, d, constants(kernel));
    }

    /** The kernels that translate (the test above names those that don't), as one unit per dialect. */
    private static List<KernelTask> translatable() throws Exception {
        List<KernelTask> tasks = new ArrayList<>();
        for (String name : kernels().toList()) {
            KernelRef kernel = kernel(name);
            try {
                for (Dialect d : Dialect.values()) KernelCompiler.translate(kernel, d, constants(kernel));
                tasks.add(TestTasks.task(kernel, constants(kernel)));
            } catch (KernelCompileException e) {
                // reported by translates()
            }
        }
        return tasks;
    }

    @Test
    void buildWithNvcc() throws Exception {
        assumeTrue(DeviceCompilers.hasNvcc(), "nvcc not installed");
        List<KernelTask> tasks = translatable();
        assumeTrue(!tasks.isEmpty(), "no kernels shipped");
        String code = KernelCompiler.translate(tasks, Dialect.CUDA).getFirst().code();
        Optional<String> log = DeviceCompilers.buildCuda(code);
        if (log.isPresent()) fail("nvcc rejected the shipped kernels:\n" + log.get() + "\n" + code);
    }

    @Test
    void buildWithOpenCl() throws Throwable {
        assumeTrue(DeviceCompilers.hasOpenCl(), "no OpenCL platform");
        List<KernelTask> tasks = translatable();
        assumeTrue(!tasks.isEmpty(), "no kernels shipped");
        String code = KernelCompiler.translate(tasks, Dialect.OPENCL).getFirst().code();
        Optional<String> log = DeviceCompilers.buildOpenCl(code);
        if (log.isPresent()) fail("OpenCL rejected the shipped kernels:\n" + log.get() + "\n" + code);
    }
}
