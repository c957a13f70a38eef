package polar.tornado.compiler;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import polar.tornado.graph.KernelRef;

/**
 * Translates a kernel's Java source (the subset in {@code docs/kernels.md}) to CUDA C or OpenCL C.
 *
 * <p>The source is read at run time from the classpath resource {@code <package>/<TopLevelClass>.java}
 * and parsed with the JDK's own compiler (no attribution); the translator infers the few types it
 * needs. Translations are cached per kernel, dialect and specialised constants. With
 * {@code -Dpolar.kernels.print=true} each translation is printed to stderr once.
 */
public final class KernelCompiler {
    private KernelCompiler() {}

    private record Key(KernelRef kernel, Dialect dialect, Map<Integer, Integer> constants) {}

    private static final Map<Key, KernelSource> TRANSLATIONS = new ConcurrentHashMap<>();
    private static final Map<KernelRef, KernelInfo> INFOS = new ConcurrentHashMap<>();

    /**
     * Translates {@code kernel} for {@code dialect}.
     *
     * @param constants values of specialised arguments, by argument index (context excluded)
     * @throws KernelCompileException naming the Java file and line of an unsupported construct
     */
    public static KernelSource translate(KernelRef kernel, Dialect dialect, Map<Integer, Integer> constants) {
        Key key = new Key(kernel, dialect, Map.copyOf(new TreeMap<>(constants)));
        KernelSource cached = TRANSLATIONS.get(key);
        if (cached != null) return cached;
        Translator.Result r = new Translator(dialect, constants, false).translate(kernel);
        KernelSource source = new KernelSource(r.entryName(), dialect, r.code());
        if (TRANSLATIONS.putIfAbsent(key, source) == null && Boolean.getBoolean("polar.kernels.print")) {
            System.err.println("---- " + dialect + " " + r.entryName() + "\n" + r.code());
        }
        return TRANSLATIONS.get(key);
    }

    /** The translated source of {@code kernel}, for printing (for example by a command-line tool). */
    public static String print(KernelRef kernel, Dialect dialect, Map<Integer, Integer> constants) {
        return translate(kernel, dialect, constants).code();
    }

    /** The entry-point name {@link #translate} gives the kernel with these constants. */
    public static String entryName(KernelRef kernel, Map<Integer, Integer> constants) {
        return Translator.entryName(kernel, constants);
    }

    /**
     * Facts about the kernel's body (cached). Local arrays sized by an int parameter (to be
     * specialised at launch) count as 0 bytes here.
     *
     * @throws KernelCompileException as {@link #translate} does
     */
    public static KernelInfo analyze(KernelRef kernel) {
        return INFOS.computeIfAbsent(kernel, k -> new Translator(Dialect.CUDA, Map.of(), true).translate(k).info());
    }
}
