package polar.tornado.compiler;

import com.sun.source.tree.ClassTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ImportTree;
import com.sun.source.tree.MethodTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.VariableTree;
import com.sun.source.util.JavacTask;
import com.sun.source.util.SourcePositions;
import com.sun.source.util.Trees;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;

/**
 * The parsed Java source of one top-level kernel class, read from the classpath resource
 * {@code <package>/<TopLevelClass>.java} and parsed (not attributed) with the JDK's compiler.
 * Also resolves names the way the source sees them (imports, same package, java.lang).
 */
final class SourceUnit {
    private static final Map<Class<?>, SourceUnit> CACHE = new ConcurrentHashMap<>();

    final String fileName;
    final Class<?> topLevel;
    private final CompilationUnitTree unit;
    private final SourcePositions positions;

    private SourceUnit(String fileName, Class<?> topLevel, CompilationUnitTree unit, SourcePositions positions) {
        this.fileName = fileName;
        this.topLevel = topLevel;
        this.unit = unit;
        this.positions = positions;
    }

    /** The source of the top-level class enclosing {@code cls} (cached). */
    static SourceUnit of(Class<?> cls) {
        Class<?> top = cls;
        while (top.getEnclosingClass() != null) top = top.getEnclosingClass();
        return CACHE.computeIfAbsent(top, SourceUnit::load);
    }

    /** Whether the source of {@code cls} is on the classpath. */
    static boolean available(Class<?> cls) {
        Class<?> top = cls;
        while (top.getEnclosingClass() != null) top = top.getEnclosingClass();
        return CACHE.containsKey(top) || (top.getClassLoader() != null && top.getClassLoader().getResource(resourcePath(top)) != null);
    }

    private static String resourcePath(Class<?> top) {
        return top.getName().replace('.', '/') + ".java";
    }

    private static SourceUnit load(Class<?> top) {
        String path = resourcePath(top);
        String fileName = top.getSimpleName() + ".java";
        ClassLoader loader = top.getClassLoader();
        String text;
        try (InputStream in = loader == null ? null : loader.getResourceAsStream(path)) {
            if (in == null) {
                throw new KernelCompileException(fileName, 0, "source not found on the classpath as resource " + path
                        + " (kernel classes ship their .java files as resources, see tornado-tasks/pom.xml)");
            }
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new KernelCompileException(fileName, 0, "cannot read source resource " + path + ": " + e);
        }
        return parse(fileName, text, top);
    }

    /** Parses {@code text} as the source of {@code top}; syntax errors name the file and line. */
    static SourceUnit parse(String fileName, String text, Class<?> top) {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        if (javac == null) {
            throw new IllegalStateException("the kernel compiler needs the jdk.compiler module (run on a JDK, or a runtime image that includes jdk.compiler)");
        }
        JavaFileObject file = new SimpleJavaFileObject(URI.create("string:///" + fileName), JavaFileObject.Kind.SOURCE) {
            @Override
            public CharSequence getCharContent(boolean ignoreEncodingErrors) { return text; }
        };
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        JavacTask task = (JavacTask) javac.getTask(null, null, diagnostics, List.of("-proc:none"), null, List.of(file));
        CompilationUnitTree unit;
        try {
            unit = task.parse().iterator().next();
        } catch (IOException e) {
            throw new KernelCompileException(fileName, 0, "cannot parse: " + e);
        }
        for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
            if (d.getKind() == Diagnostic.Kind.ERROR) {
                throw new KernelCompileException(fileName, d.getLineNumber(), "syntax error: " + d.getMessage(null));
            }
        }
        return new SourceUnit(fileName, top, unit, Trees.instance(task).getSourcePositions());
    }

    /** 1-based line of {@code tree}'s first character. */
    long line(Tree tree) {
        long pos = positions.getStartPosition(unit, tree);
        return pos < 0 ? 0 : unit.getLineMap().getLineNumber(pos);
    }

    KernelCompileException error(Tree tree, String message) {
        return new KernelCompileException(fileName, line(tree), message);
    }

    /** The declaration of {@code cls} (the top-level class or one nested in it). */
    ClassTree classTree(Class<?> cls) {
        if (cls == topLevel) {
            for (Tree t : unit.getTypeDecls()) {
                if (t instanceof ClassTree c && c.getSimpleName().contentEquals(cls.getSimpleName())) return c;
            }
        } else if (cls.getEnclosingClass() != null) {
            for (Tree t : classTree(cls.getEnclosingClass()).getMembers()) {
                if (t instanceof ClassTree c && c.getSimpleName().contentEquals(cls.getSimpleName())) return c;
            }
        }
        throw new KernelCompileException(fileName, 0, "no declaration of class " + cls.getName() + " in " + fileName);
    }

    /** Methods of {@code cls} named {@code name}, in source order. */
    List<MethodTree> methods(Class<?> cls, String name) {
        List<MethodTree> r = new ArrayList<>();
        for (Tree t : classTree(cls).getMembers()) {
            if (t instanceof MethodTree m && m.getName().contentEquals(name)) r.add(m);
        }
        return r;
    }

    /** The declaration of a reflected method, matched by name and parameter type names. */
    MethodTree method(Method method) {
        Class<?>[] types = method.getParameterTypes();
        for (MethodTree m : methods(method.getDeclaringClass(), method.getName())) {
            List<? extends VariableTree> params = m.getParameters();
            if (params.size() != types.length) continue;
            boolean same = true;
            for (int i = 0; i < types.length && same; i++) {
                same = simpleName(params.get(i).getType()).equals(types[i].getSimpleName());
            }
            if (same) return m;
        }
        throw new KernelCompileException(fileName, 0, "no source declaration of " + method);
    }

    /** The simple name of a type as written: {@code float[]}, {@code FloatArray} for {@code polar.tornado.types.FloatArray}. */
    static String simpleName(Tree type) {
        String s = type.toString().replaceAll("@\\S+\\s+", "").replace(" ", "");
        int generic = s.indexOf('<');
        if (generic >= 0) s = s.substring(0, generic);
        int dot = s.lastIndexOf('.');
        return dot >= 0 ? s.substring(dot + 1) : s;
    }

    /**
     * The class a name denotes in this source, seen from {@code context}: nested and enclosing
     * classes, single-type imports, the same package, {@code java.lang}, on-demand imports; or
     * null. A qualified name is loaded as written.
     */
    Class<?> resolveClass(String name, Class<?> context) {
        ClassLoader loader = topLevel.getClassLoader();
        if (name.contains(".")) {
            Class<?> c = load(name, loader);
            if (c != null) return c;
            int dot = name.indexOf('.');
            Class<?> first = resolveClass(name.substring(0, dot), context);
            return first == null ? null : load(first.getName() + name.substring(dot), loader);
        }
        for (Class<?> c = context; c != null; c = c.getEnclosingClass()) {
            if (c.getSimpleName().equals(name)) return c;
            for (Class<?> nested : c.getDeclaredClasses()) if (nested.getSimpleName().equals(name)) return nested;
        }
        for (ImportTree imp : unit.getImports()) {
            String q = imp.getQualifiedIdentifier().toString();
            if (!imp.isStatic() && q.endsWith("." + name)) {
                Class<?> c = load(q, loader);
                if (c != null) return c;
            }
        }
        String pkg = unit.getPackageName() == null ? "" : unit.getPackageName().toString() + ".";
        Class<?> c = load(pkg + name, loader);
        if (c == null) c = load("java.lang." + name, loader);
        for (ImportTree imp : unit.getImports()) {
            String q = imp.getQualifiedIdentifier().toString();
            if (c == null && !imp.isStatic() && q.endsWith(".*")) c = load(q.substring(0, q.length() - 1) + name, loader);
        }
        return c;
    }

    /** The class that a static import brings {@code member} from ({@code import static a.B.member} or {@code a.B.*}), or null. */
    Class<?> staticImportOwner(String member, Class<?> context) {
        ClassLoader loader = topLevel.getClassLoader();
        for (ImportTree imp : unit.getImports()) {
            String q = imp.getQualifiedIdentifier().toString();
            if (imp.isStatic() && (q.endsWith("." + member) || q.endsWith(".*"))) {
                Class<?> c = load(q.substring(0, q.lastIndexOf('.')), loader);
                if (c != null && hasMember(c, member)) return c;
            }
        }
        return null;
    }

    private static boolean hasMember(Class<?> c, String member) {
        for (Method m : c.getMethods()) if (m.getName().equals(member)) return true;
        for (Method m : c.getDeclaredMethods()) if (m.getName().equals(member)) return true;
        try {
            c.getField(member);
            return true;
        } catch (NoSuchFieldException e) {
            return false;
        }
    }

    /** Loads {@code a.b.C.D}, trying nested-class spellings ({@code a.b.C$D}) too. */
    private static Class<?> load(String dotted, ClassLoader loader) {
        String name = dotted;
        while (true) {
            try {
                return Class.forName(name, false, loader);
            } catch (ClassNotFoundException | LinkageError e) {
                int dot = name.lastIndexOf('.');
                if (dot < 0) return null;
                name = name.substring(0, dot) + "$" + name.substring(dot + 1);
            }
        }
    }
}
