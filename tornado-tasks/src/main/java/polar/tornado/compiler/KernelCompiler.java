package polar.tornado.compiler;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import polar.tornado.graph.Arg;
import polar.tornado.graph.KernelRef;
import polar.tornado.graph.KernelTask;

/**
 * Translates a kernel's Java source (the subset in {@code docs/kernels.md}) to CUDA C or OpenCL C.
 *
 * <p>The source is read at run time from the classpath resource {@code <package>/<TopLevelClass>.java}
 * and parsed with the JDK's own compiler (no attribution); the translator infers the few types it
 * needs. Translations are cached per kernel, dialect and specialised constants. With
 * {@code -Dpolar.kernels.print=true} each translation is printed to stderr once. With
 * {@code -Dpolar.kernels.checkBounds=true} OpenCL translations check every buffer index (a debug
 * mode, see {@link #CHECK_BOUNDS_PROPERTY}).
 */
public final class KernelCompiler {
    private KernelCompiler() {}

    /**
     * System property: when {@code true}, OpenCL translations check every buffer access against the
     * buffer's size; an access outside prints the Java file, line, buffer and index from the device
     * ({@code printf}) and uses element 0 instead, so a kernel's out-of-range access is named
     * instead of corrupting memory. For debugging only (slower). The JVM backend always checks.
     */
    public static final String CHECK_BOUNDS_PROPERTY = "polar.kernels.checkBounds";

    private record Key(KernelRef kernel, Dialect dialect, Map<Integer, Integer> constants, boolean checkBounds) {}

    private static boolean checkBounds(Dialect dialect) {
        return dialect == Dialect.OPENCL && Boolean.getBoolean(CHECK_BOUNDS_PROPERTY);
    }

    private static final Map<Key, KernelSource> TRANSLATIONS = new ConcurrentHashMap<>();
    private static final Map<Key, KernelInfo> INFOS = new ConcurrentHashMap<>();

    /**
     * Translates {@code kernel} for {@code dialect}.
     *
     * @param constants values of specialised arguments, by argument index (context excluded)
     * @throws KernelCompileException naming the Java file and line of an unsupported construct
     */
    public static KernelSource translate(KernelRef kernel, Dialect dialect, Map<Integer, Integer> constants) {
        Key key = new Key(kernel, dialect, Map.copyOf(new TreeMap<>(constants)), checkBounds(dialect));
        KernelSource cached = TRANSLATIONS.get(key);
        if (cached != null) return cached;
        Translator unit = new Translator(dialect, false, key.checkBounds);
        String entry = unit.add(kernel, key.constants).name();
        KernelSource source = new KernelSource(entry, dialect, unit.code());
        if (TRANSLATIONS.putIfAbsent(key, source) == null) printIfAsked(source);
        return TRANSLATIONS.get(key);
    }

    /**
     * Translates several kernels into one translation unit (one program to build, helpers and
     * device functions shared): one {@link KernelSource} per distinct kernel and constants, in
     * order of first appearance, all with the same {@code code}. Not cached.
     */
    public static List<KernelSource> translate(List<KernelTask> tasks, Dialect dialect) {
        Translator unit = new Translator(dialect, false, checkBounds(dialect));
        Set<String> names = new LinkedHashSet<>();
        for (KernelTask t : tasks) names.add(unit.add(t.kernel(), constants(t)).name());
        String code = unit.code();
        List<KernelSource> sources = new ArrayList<>();
        for (String name : names) sources.add(new KernelSource(name, dialect, code));
        if (!sources.isEmpty()) printIfAsked(sources.getFirst());
        return sources;
    }

    /** The specialised arguments of a task ({@code Arg.constant}), by argument index. */
    public static Map<Integer, Integer> constants(KernelTask task) {
        Map<Integer, Integer> c = new TreeMap<>();
        for (int i = 0; i < task.args().size(); i++) {
            if (task.args().get(i) instanceof Arg.Scalar<?> s && s.specialised()) c.put(i, (Integer) s.value());
        }
        return c;
    }

    private static void printIfAsked(KernelSource source) {
        if (Boolean.getBoolean("polar.kernels.print")) {
            System.err.println("---- " + source.dialect() + " " + source.entryName() + "\n" + source.code());
        }
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
     * Facts about the kernel's body (cached). A local array sized by an int argument counts as one
     * element here (its size is known only once the argument is specialised): see
     * {@link #analyze(KernelRef, Map)} for exact sizes.
     *
     * @throws KernelCompileException as {@link #translate} does
     */
    public static KernelInfo analyze(KernelRef kernel) {
        return INFOS.computeIfAbsent(new Key(kernel, Dialect.CUDA, Map.of(), false), k -> new Translator(Dialect.CUDA, true).add(kernel, Map.of()).info());
    }

    /** The kernel's outermost {@code @Parallel} loops, in source order (none for a {@code KernelContext} kernel). */
    public static List<ParallelLoop> outerParallelLoops(KernelRef kernel) {
        return LOOPS.computeIfAbsent(kernel, k -> new Translator(Dialect.CUDA, true).add(kernel, Map.of()).outerLoops());
    }

    private static final Map<KernelRef, List<ParallelLoop>> LOOPS = new ConcurrentHashMap<>();

    /** Facts about the kernel's body once {@code constants} are specialised (cached). */
    public static KernelInfo analyze(KernelRef kernel, Map<Integer, Integer> constants) {
        Map<Integer, Integer> c = Map.copyOf(new TreeMap<>(constants));
        return INFOS.computeIfAbsent(new Key(kernel, Dialect.CUDA, c, false), k -> new Translator(Dialect.CUDA, true).add(kernel, c).info());
    }
}
