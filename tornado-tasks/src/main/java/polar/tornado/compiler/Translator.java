package polar.tornado.compiler;

import com.sun.source.tree.*;
import com.sun.source.util.TreeScanner;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import javax.lang.model.element.Name;
import polar.tornado.KernelContext;
import polar.tornado.graph.KernelRef;
import polar.tornado.compiler.Type.Array;
import polar.tornado.compiler.Type.Buffer;
import polar.tornado.compiler.Type.Context;
import polar.tornado.compiler.Type.Prim;
import polar.tornado.compiler.Type.Space;
import polar.tornado.compiler.Target.Index;

/**
 * Translates one kernel, and the static methods it calls, from javac trees to one CUDA C or
 * OpenCL C translation unit. Types are inferred here (javac only parsed the source): declared
 * types of parameters and locals, literal types, Java's numeric promotion, intrinsic results.
 * Everything dialect-specific goes through {@link Target}.
 */
final class Translator {
    /** A translated expression: C code that is safe as an operand (parenthesised unless atomic), and its Java type. */
    record Expr(String code, Type type) {}

    /** One kernel added to the unit: its entry point and what was learned about it. */
    record Entry(String name, KernelInfo info, List<ParallelLoop> outerLoops) {}

    private record Var(String code, Type type, boolean assignable, Long constant) {}

    private record FunctionKey(MethodTree method, List<Type> params) {}

    private record DeviceFunction(String name, Type returnType, List<Type> params, boolean usesWarp, boolean usesBarriers,
                                  Divergence resultLevel, String code) {}

    /**
     * How far a value or a condition can differ between the work-items of a group: not at all,
     * between warps only (e.g. {@code warpId()}), or between any two work-items.
     */
    enum Divergence {
        UNIFORM, WARP, THREAD;

        Divergence max(Divergence o) { return compareTo(o) >= 0 ? this : o; }
    }

    private static final class Loop {
        final String label;
        final boolean parallel;
        /** A switch statement: a target of break, not of continue. */
        boolean isSwitch;
        boolean breakUsed, continueUsed;
        /** The highest divergence of a break or continue that leaves this loop's body early. */
        Divergence jumpLevel = Divergence.UNIFORM;
        /** The first barrier, warp operation or call of one in the body (checked again if the condition turns out divergent). */
        Tree firstCollective;
        String firstCollectiveWhat;
        boolean firstCollectiveIsWarp;

        Loop(String label, boolean parallel) {
            this.label = label;
            this.parallel = parallel;
        }
    }

    private static final int MAX_PARALLEL_DIMENSIONS = 3;

    private record ContextId(Index index, int dim) {}

    /** KernelContext fields: ids and sizes per dimension. */
    private static final Map<String, ContextId> CONTEXT_IDS = Map.ofEntries(
            Map.entry("globalIdx", new ContextId(Index.GLOBAL_ID, 0)), Map.entry("globalIdy", new ContextId(Index.GLOBAL_ID, 1)),
            Map.entry("globalIdz", new ContextId(Index.GLOBAL_ID, 2)), Map.entry("localIdx", new ContextId(Index.LOCAL_ID, 0)),
            Map.entry("localIdy", new ContextId(Index.LOCAL_ID, 1)), Map.entry("localIdz", new ContextId(Index.LOCAL_ID, 2)),
            Map.entry("groupIdx", new ContextId(Index.GROUP_ID, 0)), Map.entry("groupIdy", new ContextId(Index.GROUP_ID, 1)),
            Map.entry("groupIdz", new ContextId(Index.GROUP_ID, 2)), Map.entry("localGroupSizeX", new ContextId(Index.LOCAL_SIZE, 0)),
            Map.entry("localGroupSizeY", new ContextId(Index.LOCAL_SIZE, 1)), Map.entry("localGroupSizeZ", new ContextId(Index.LOCAL_SIZE, 2)),
            Map.entry("globalGroupSizeX", new ContextId(Index.GLOBAL_SIZE, 0)), Map.entry("globalGroupSizeY", new ContextId(Index.GLOBAL_SIZE, 1)),
            Map.entry("globalGroupSizeZ", new ContextId(Index.GLOBAL_SIZE, 2)));

    private final Target target;
    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final StringBuilder entryCode = new StringBuilder();
    private final boolean analysisOnly;
    private final boolean checkBounds;
    private final Map<FunctionKey, DeviceFunction> functions = new LinkedHashMap<>();
    private final List<MethodTree> callStack = new ArrayList<>();
    private final Set<String> functionNames = new HashSet<>();

    /**
     * A translation unit, to which {@link #add} adds kernels; they share helpers and device functions.
     *
     * @param analysisOnly tolerate local arrays sized by a (not yet specialised) int parameter: the
     *                     code is thrown away and only the {@link KernelInfo} is kept
     */
    Translator(Dialect dialect, boolean analysisOnly) {
        this(dialect, analysisOnly, false);
    }

    /** @param checkBounds check every buffer index against the buffer's size (see {@link KernelCompiler#CHECK_BOUNDS_PROPERTY}) */
    Translator(Dialect dialect, boolean analysisOnly, boolean checkBounds) {
        this.target = Target.of(dialect);
        this.analysisOnly = analysisOnly;
        this.checkBounds = checkBounds;
    }

    /** The entry-point name: {@code Class_method}, plus {@code _c<index>_<value>} per specialised argument. */
    static String entryName(KernelRef kernel, Map<Integer, Integer> constants) {
        StringBuilder sb = new StringBuilder(classPrefix(kernel.owner())).append('_').append(kernel.name());
        new TreeMap<>(constants).forEach((i, v) -> sb.append("_c").append(i).append('_').append(v < 0 ? "m" + -(long) v : v));
        return sb.toString();
    }

    private static String classPrefix(Class<?> c) {
        return c.getEnclosingClass() == null ? c.getSimpleName() : classPrefix(c.getEnclosingClass()) + "_" + c.getSimpleName();
    }

    /** Translates {@code kernel} with {@code constants} specialised into this unit (once per entry name). */
    Entry add(KernelRef kernel, Map<Integer, Integer> constants) {
        String name = entryName(kernel, constants);
        Entry known = entries.get(name);
        if (known != null) return known;
        SourceUnit unit = SourceUnit.of(kernel.owner());
        MethodTree method = unit.method(kernel.method());
        int arguments = kernel.argumentTypes().length;
        for (int i : constants.keySet()) {
            if (i < 0 || i >= arguments || kernel.argumentTypes()[i] != int.class) {
                throw new IllegalArgumentException(kernel + ": argument " + i + " cannot be specialised (only int arguments can; the kernel has " + arguments + " arguments)");
            }
        }
        Function f = new Function(unit, kernel.owner(), method, null, new TreeMap<>(constants));
        String body = f.translateBody();
        entryCode.append("// ").append(kernel.owner().getSimpleName()).append('.').append(kernel.name())
                .append(constants.isEmpty() ? "" : " with arguments " + new TreeMap<>(constants) + " specialised")
                .append(", from ").append(unit.fileName).append('\n');
        entryCode.append(target.entry(name, f.params)).append(" {\n").append(body).append("}\n");
        Entry entry = new Entry(name, new KernelInfo(f.maxParallelDepth, f.usesBarriers, f.usesWarp, f.localMemoryBytes), List.copyOf(f.outerLoops));
        entries.put(name, entry);
        return entry;
    }

    /** The complete translation unit: header, helpers, device functions (callees first), kernels. */
    String code() {
        StringBuilder code = new StringBuilder("// translated by polar's kernel compiler (polar.tornado.compiler.KernelCompiler)\n");
        code.append(target.header());
        code.append(target.prelude());
        for (DeviceFunction d : functions.values()) code.append(d.code).append('\n');
        return code.append(entryCode).toString();
    }

    // ---- C code helpers

    private static final Pattern IDENTIFIER_OR_NUMBER = Pattern.compile("[A-Za-z_]\\w*|\\d[\\w.]*([eE][+-]?\\d+)?[fFlL]*");

    /** Wraps {@code code} in parentheses unless it is already an operand (name, number, call, indexing, parenthesised). */
    static String paren(String code) {
        return atomic(code) ? code : "(" + code + ")";
    }

    private static boolean atomic(String code) {
        if (IDENTIFIER_OR_NUMBER.matcher(code).matches()) return true;
        int i = 0;
        if (code.startsWith("(")) {
            return closing(code, 0) == code.length() - 1;
        }
        while (i < code.length() && (Character.isLetterOrDigit(code.charAt(i)) || code.charAt(i) == '_')) i++;
        if (i == 0 || !Character.isLetter(code.charAt(0)) && code.charAt(0) != '_') return false;
        while (i < code.length()) {
            char c = code.charAt(i);
            if (c != '(' && c != '[') return false;
            int close = closing(code, i);
            if (close < 0) return false;
            i = close + 1;
        }
        return true;
    }

    /** Index of the bracket closing the one at {@code open}, or -1. */
    private static int closing(String code, int open) {
        int depth = 0;
        for (int i = open; i < code.length(); i++) {
            char c = code.charAt(i);
            if (c == '(' || c == '[') depth++;
            else if (c == ')' || c == ']') {
                if (--depth == 0) return i;
            }
        }
        return -1;
    }

    /** {@code code} without one pair of enclosing parentheses, for statement and argument positions. */
    static String strip(String code) {
        return code.startsWith("(") && closing(code, 0) == code.length() - 1 ? code.substring(1, code.length() - 1) : code;
    }

    private static final Set<String> RESERVED = Set.of(
            // C, C++, CUDA and OpenCL words that are not Java keywords
            "auto", "register", "restrict", "signed", "unsigned", "struct", "union", "typedef", "extern", "inline", "sizeof",
            "bool", "half", "uchar", "ushort", "uint", "ulong", "size_t", "ptrdiff_t", "intptr_t", "uintptr_t", "template",
            "typename", "namespace", "using", "operator", "friend", "virtual", "delete", "mutable", "explicit", "asm", "and",
            "or", "not", "xor", "bitand", "bitor", "compl", "and_eq", "or_eq", "xor_eq", "not_eq", "export", "wchar_t",
            "global", "local", "constant", "kernel", "read_only", "write_only", "read_write", "complex", "imaginary",
            "dim3", "threadIdx", "blockIdx", "blockDim", "gridDim", "warpSize", "uint4", "float4", "float8", "ushort8",
            "NULL", "NAN", "INFINITY", "MAXFLOAT", "HUGE_VALF", "FLT_MAX", "FLT_MIN", "FLT_EPSILON", "INT_MAX", "INT_MIN",
            "CHAR_BIT", "M_PI", "M_E", "M_PI_F", "M_E_F", "event_t", "sampler_t", "image2d_t", "printf", "barrier", "main",
            // functions the translator emits
            "min", "max", "abs", "llabs", "fabs", "fabsf", "fmax", "fmaxf", "fmin", "fminf", "fmod", "fmodf", "exp", "expf",
            "log", "logf", "log10", "log10f", "log1p", "log1pf", "expm1", "expm1f", "sqrt", "sqrtf", "cbrt", "cbrtf", "sin",
            "sinf", "cos", "cosf", "tan", "tanf", "asin", "asinf", "acos", "acosf", "atan", "atanf", "atan2", "atan2f", "sinh",
            "sinhf", "cosh", "coshf", "tanh", "tanhf", "pow", "powf", "hypot", "hypotf", "floor", "floorf", "ceil", "ceilf",
            "rint", "rintf", "fma", "fmaf", "copysign", "copysignf", "isnan", "isinf", "isfinite", "popcount", "clz",
            "atomicAdd", "atomic_add", "atomic_cmpxchg", "as_int", "as_uint", "as_float", "convert_int_sat", "convert_long_sat",
            "vload_half", "vstore_half_rte", "vload4", "vstore4", "vload8", "get_global_id", "get_local_id", "get_group_id",
            "get_local_size", "get_global_size");

    /** The C name of a Java identifier: unchanged unless it is a C word, a function the unit calls, or starts with our prefix. */
    static String cName(String javaName) {
        return RESERVED.contains(javaName) || javaName.startsWith("polar_") || javaName.startsWith("__") ? javaName + "_" : javaName;
    }

    private String literal(Object value, Prim type) {
        return switch (type) {
            case BOOLEAN -> ((Boolean) value) ? "true" : "false";
            case CHAR -> Integer.toString((Character) value);
            case BYTE, SHORT, INT -> {
                int i = ((Number) value).intValue();
                yield i == Integer.MIN_VALUE ? "(-2147483647 - 1)" : i < 0 ? "(" + i + ")" : Integer.toString(i);
            }
            case LONG -> {
                long l = (Long) value;
                String s = l == Long.MIN_VALUE ? "(-9223372036854775807" + target.longSuffix() + " - 1)" : l + target.longSuffix();
                yield l < 0 && l != Long.MIN_VALUE ? "(" + s + ")" : s;
            }
            case FLOAT -> {
                float f = (Float) value;
                if (Float.isNaN(f) || Float.isInfinite(f)) yield paren(target.floatSpecial(f));
                String s = Float.toString(f) + "f";
                yield f < 0 || (f == 0 && 1 / f < 0) ? "(" + s + ")" : s;
            }
            case DOUBLE -> {
                double d = (Double) value;
                target.usesDouble = true;
                if (Double.isNaN(d) || Double.isInfinite(d)) yield paren(target.doubleSpecial(d));
                String s = Double.toString(d);
                yield d < 0 || (d == 0 && 1 / d < 0) ? "(" + s + ")" : s;
            }
            case VOID -> throw new IllegalArgumentException("void literal");
        };
    }

    /** The value of a static final primitive field, or null if {@code c} has no such field. */
    private static Field staticField(Class<?> c, String name) {
        for (Class<?> k = c; k != null; k = k.getSuperclass()) {
            try {
                return k.getDeclaredField(name);
            } catch (NoSuchFieldException e) {
                // try the superclass
            }
        }
        try {
            return c.getField(name);
        } catch (NoSuchFieldException e) {
            return null;
        }
    }

    /** One method being translated: the kernel itself, or a static method it calls (a device function). */
    private final class Function {
        final SourceUnit unit;
        final Class<?> owner;
        final MethodTree method;
        /** Argument types of a device function (arrays carry their address space); null for the kernel. */
        final List<Type> argumentTypes;
        final boolean isKernel;
        /** Specialised arguments of a kernel, by argument index. */
        final Map<Integer, Integer> constants;
        final List<String> params = new ArrayList<>();
        final Deque<Map<String, Var>> scopes = new ArrayDeque<>();
        final Deque<Loop> loops = new ArrayDeque<>();
        final Set<String> generatedNames = new HashSet<>();
        final Set<String> intParameters = new HashSet<>();
        StringBuilder out = new StringBuilder();
        int indent = 1;
        int parallelDepth;
        int maxParallelDepth;
        final List<ParallelLoop> outerLoops = new ArrayList<>();
        boolean usesBarriers, usesWarp, hasContext;
        int localMemoryBytes;
        Type returnType = Prim.VOID;
        // divergence analysis: barriers and warp operations must be reached by the whole group
        final Map<Var, Divergence> varLevels = new IdentityHashMap<>();
        final Deque<Divergence> control = new ArrayDeque<>();
        final Map<MethodInvocationTree, Divergence> helperCalls = new IdentityHashMap<>();
        Divergence returnLevel = Divergence.UNIFORM;
        Divergence resultLevel = Divergence.UNIFORM;

        Function(SourceUnit unit, Class<?> owner, MethodTree method, List<Type> argumentTypes, Map<Integer, Integer> constants) {
            this.constants = constants;
            this.unit = unit;
            this.owner = owner;
            this.method = method;
            this.argumentTypes = argumentTypes;
            this.isKernel = argumentTypes == null;
        }

        KernelCompileException error(Tree tree, String message) {
            return unit.error(tree, message);
        }

        // ---- functions

        /** Declares the parameters and translates the body; returns the body's code. */
        String translateBody() {
            scopes.push(new HashMap<>());
            List<String> prologue = new ArrayList<>();
            List<? extends VariableTree> ps = method.getParameters();
            int argument = 0;
            for (int i = 0; i < ps.size(); i++) {
                VariableTree p = ps.get(i);
                String javaName = p.getName().toString();
                String name = cName(javaName);
                Type t = isKernel ? typeOf(p.getType()) : argumentTypes.get(i);
                if (t == Context.INSTANCE) {
                    if (isKernel && i != 0) throw error(p, "the KernelContext must be the kernel's first parameter");
                    hasContext = true;
                    scopes.peek().put(javaName, new Var("", t, false, null));
                    continue;
                }
                if (isKernel && constants.containsKey(argument)) {
                    int value = constants.get(argument++);
                    prologue.add("const int " + name + " = " + literal(value, Prim.INT) + ";");
                    scopes.peek().put(javaName, new Var(name, Prim.INT, false, (long) value));
                    continue;
                }
                argument++;
                switch (t) {
                    case Buffer b -> {
                        params.add(target.bufferParam(b, name));
                        params.add("int " + name + "_size");
                        generatedNames.add(name + "_size");
                    }
                    case Array a -> params.add(target.arrayParam(a, name));
                    case Prim prim when !isKernel || prim == Prim.INT || prim == Prim.FLOAT -> params.add(target.type(prim) + " " + name);
                    default -> throw error(p, "kernel parameter " + javaName + " has type " + p.getType() + "; kernels take buffers, int and float");
                }
                if (t == Prim.INT) intParameters.add(javaName);
                scopes.peek().put(javaName, new Var(name, t, t instanceof Prim, null));
            }
            Type declaredReturn = typeOf(method.getReturnType());
            if (!(declaredReturn instanceof Prim)) throw error(method.getReturnType(), "device functions return a primitive or void, not " + method.getReturnType());
            if (isKernel && declaredReturn != Prim.VOID) throw error(method, "a kernel returns void");
            returnType = declaredReturn;
            if (method.getBody() == null) throw error(method, "method " + method.getName() + " has no body");
            for (String line : prologue) line(line);
            int prologueEnd = out.length();
            for (StatementTree s : method.getBody().getStatements()) statement(s, true);
            if (isKernel && usesWarp && target.warpScratchParam() != null) {
                out.insert(prologueEnd, "    " + target.localArray(Prim.FLOAT, Target.WARP_SCRATCH, Target.MAX_WARP_EMULATION_GROUP) + ";\n");
            }
            if (!isKernel && usesWarp && target.warpScratchParam() != null) params.addFirst(target.warpScratchParam());
            return out.toString();
        }

        /** A call of static method {@code cls.name}: translated once per argument-type signature as a device function. */
        Expr callFunction(MethodInvocationTree site, Class<?> cls, String name, List<? extends ExpressionTree> argumentTrees) {
            SourceUnit calleeUnit = SourceUnit.of(cls);
            List<Expr> args = new ArrayList<>();
            for (ExpressionTree a : argumentTrees) args.add(expr(a));
            MethodTree callee = null;
            int best = -1;
            for (MethodTree m : calleeUnit.methods(cls, name)) {
                if (m.getParameters().size() != args.size()) continue;
                int score = match(calleeUnit, m, args);
                if (score > best) {
                    best = score;
                    callee = m;
                }
            }
            if (callee == null) {
                throw error(site, "no static method " + cls.getSimpleName() + "." + name + " taking (" + typeList(args) + ") in " + calleeUnit.fileName);
            }
            if (!callee.getModifiers().getFlags().contains(javax.lang.model.element.Modifier.STATIC)) {
                throw error(site, "instance method calls are not supported in kernels: " + cls.getSimpleName() + "." + name + " is not static");
            }
            if (callee == method || callStack.contains(callee)) {
                throw error(site, "recursion is not supported in kernels: " + cls.getSimpleName() + "." + name + " calls itself (directly or through other methods)");
            }
            List<Type> types = new ArrayList<>();
            for (int i = 0; i < args.size(); i++) {
                Type declared = resolveType(calleeUnit, callee.getParameters().get(i).getType());
                types.add(declared instanceof Array && args.get(i).type instanceof Array a ? a.unsized() : declared);
            }
            FunctionKey key = new FunctionKey(callee, types);
            DeviceFunction f = functions.get(key);
            if (f == null) {
                callStack.add(method);
                callStack.add(callee);
                Function body = new Function(calleeUnit, cls, callee, types, Map.of());
                String code = body.translateBody();
                callStack.removeLast();
                callStack.removeLast();
                // "fn_" keeps device functions apart from entry points (a kernel may also be called as a function)
                String fname = "fn_" + classPrefix(cls) + "_" + name;
                for (int v = 2; !functionNames.add(fname); v++) fname = "fn_" + classPrefix(cls) + "_" + name + "_v" + v;
                String ret = target.type((Prim) body.returnType);
                f = new DeviceFunction(fname, body.returnType, types, body.usesWarp, body.usesBarriers, body.resultLevel,
                        target.function(ret, fname, body.params, types.stream().anyMatch(t -> t instanceof Array a && a.space() == Space.PRIVATE))
                                + " {\n" + code + "}\n");
                functions.put(key, f);
            }
            usesWarp |= f.usesWarp;
            usesBarriers |= f.usesBarriers;
            helperCalls.put(site, f.resultLevel);
            if (f.usesBarriers) collective(site, "call of " + cls.getSimpleName() + "." + name + " (which has barriers)", false);
            if (f.usesWarp) collective(site, "call of " + cls.getSimpleName() + "." + name + " (which has warp operations)", true);
            List<String> callArgs = new ArrayList<>();
            if (f.usesWarp && target.warpScratchParam() != null) callArgs.add(Target.WARP_SCRATCH);
            for (int i = 0; i < args.size(); i++) {
                Expr a = args.get(i);
                switch (f.params.get(i)) {
                    case Context c -> { }
                    case Buffer b -> {
                        callArgs.add(a.code);
                        callArgs.add(a.code + "_size");
                    }
                    default -> callArgs.add(strip(a.code));
                }
            }
            return new Expr(f.name + "(" + String.join(", ", callArgs) + ")", f.returnType);
        }

        /** How well arguments fit a method's parameters: -1 if they don't, higher for exact matches. */
        private int match(SourceUnit calleeUnit, MethodTree m, List<Expr> args) {
            int score = 0;
            for (int i = 0; i < args.size(); i++) {
                Type p;
                try {
                    p = resolveType(calleeUnit, m.getParameters().get(i).getType());
                } catch (KernelCompileException e) {
                    return -1;
                }
                Type a = args.get(i).type;
                if (p.equals(a) || p instanceof Array pa && a instanceof Array aa && pa.element() == aa.element()) score += 2;
                else if (!(p instanceof Prim pp && a instanceof Prim ap && widens(ap, pp))) return -1;
            }
            return score;
        }

        // ---- statements

        void line(String code) {
            out.append("    ".repeat(indent)).append(code).append('\n');
        }

        void statement(StatementTree s, boolean topLevel) {
            switch (s) {
                case BlockTree b -> {
                    line("{");
                    block(b.getStatements());
                    line("}");
                }
                case VariableTree v -> declare(v, topLevel);
                case ExpressionStatementTree e -> line(strip(expr(e.getExpression()).code) + ";");
                case IfTree i -> ifStatement(i, false);
                case ForLoopTree f -> loop(f, null);
                case WhileLoopTree w -> loop(w, null);
                case DoWhileLoopTree d -> loop(d, null);
                case LabeledStatementTree l -> {
                    if (!(l.getStatement() instanceof ForLoopTree || l.getStatement() instanceof WhileLoopTree || l.getStatement() instanceof DoWhileLoopTree)) {
                        throw error(l, "labels are supported on loops only");
                    }
                    loop(l.getStatement(), l.getLabel().toString());
                }
                case BreakTree b -> jump(b, b.getLabel(), true);
                case ContinueTree c -> jump(c, c.getLabel(), false);
                case ReturnTree r -> returnStatement(r);
                case EmptyStatementTree e -> { }
                case ThrowTree t -> throw error(t, "exceptions are not supported in kernels (throw)");
                case TryTree t -> throw error(t, "exceptions are not supported in kernels (try/catch)");
                case SynchronizedTree t -> throw error(t, "synchronized is not supported in kernels (use ctx.atomicAdd or barriers)");
                case AssertTree a -> throw error(a, "assert is not supported in kernels");
                case EnhancedForLoopTree f -> throw error(f, "for-each loops are not supported in kernels; use an indexed loop");
                case SwitchTree sw -> switchStatement(sw);
                case ClassTree c -> throw error(c, "local classes are not supported in kernels");
                default -> throw error(s, "unsupported statement in a kernel: " + s.getKind());
            }
        }

        /** Statements in a new scope, one level deeper. */
        void block(List<? extends StatementTree> statements) {
            scopes.push(new HashMap<>());
            indent++;
            for (StatementTree s : statements) statement(s, false);
            indent--;
            scopes.pop();
        }

        void body(StatementTree s) {
            block(s instanceof BlockTree b ? b.getStatements() : List.of(s));
        }

        void ifStatement(IfTree i, boolean elseIf) {
            line((elseIf ? "} else if (" : "if (") + condition(i.getCondition()) + ") {");
            control.push(level(i.getCondition()));
            body(i.getThenStatement());
            StatementTree e = i.getElseStatement();
            if (e instanceof IfTree next) {
                ifStatement(next, true); // continues the chain and closes it
            } else {
                if (e != null) {
                    line("} else {");
                    body(e);
                }
                line("}");
            }
            control.pop();
        }

        String condition(ExpressionTree c) {
            Expr e = expr(c);
            if (e.type != Prim.BOOLEAN) throw error(c, "condition must be boolean: " + c);
            return strip(e.code);
        }

        void loopBody(StatementTree s, Loop loop) {
            loops.push(loop);
            if (loop.label == null) {
                body(s);
            } else {
                // the body in a block of its own, so "goto continue" skips no declaration in scope at the label (C++)
                indent++;
                line("{");
                body(s);
                line("}");
                if (loop.continueUsed) line(continueLabel(loop.label) + ": ;");
                indent--;
            }
            loops.pop();
        }

        /** A for, while or do-while loop, perhaps labelled. */
        void loop(StatementTree s, String label) {
            if (s instanceof ForLoopTree f && f.getInitializer().size() == 1 && f.getInitializer().getFirst() instanceof VariableTree v && isParallel(v)) {
                parallelFor(f, v, label);
                return;
            }
            Loop loop = new Loop(label, false);
            scopes.push(new HashMap<>());
            ExpressionTree condition;
            StatementTree body;
            switch (s) {
                case ForLoopTree f -> {
                    String init = forInit(f.getInitializer());
                    String cond = f.getCondition() == null ? "" : condition(f.getCondition());
                    List<String> updates = new ArrayList<>();
                    for (ExpressionStatementTree u : f.getUpdate()) updates.add(strip(expr(u.getExpression()).code));
                    line("for (" + init + "; " + cond + "; " + String.join(", ", updates) + ") {");
                    condition = f.getCondition();
                    body = f.getStatement();
                }
                case WhileLoopTree w -> {
                    line("while (" + condition(w.getCondition()) + ") {");
                    condition = w.getCondition();
                    body = w.getStatement();
                }
                case DoWhileLoopTree d -> {
                    line("do {");
                    condition = d.getCondition();
                    body = d.getStatement();
                }
                default -> throw new IllegalStateException(s.getKind().toString());
            }
            Divergence before = condition == null ? Divergence.UNIFORM : level(condition);
            control.push(before);
            loopBody(body, loop);
            control.pop();
            if (s instanceof DoWhileLoopTree) line("} while (" + condition(condition) + ");");
            else line("}");
            // the body may have made the condition divergent for the next iteration
            if (condition != null && loop.firstCollective != null) {
                checkCollective(loop.firstCollective, loop.firstCollectiveWhat, loop.firstCollectiveIsWarp, level(condition).max(control()));
            }
            scopes.pop();
            if (loop.breakUsed) line(breakLabelName(loop.label) + ": ;");
        }

        String breakLabelName(String label) { return "polar_break_" + label; }

        String continueLabel(String label) { return "polar_continue_" + label; }

        void jump(StatementTree s, Name label, boolean isBreak) {
            String what = isBreak ? "break" : "continue";
            if (loops.isEmpty()) throw error(s, what + " outside a loop");
            Loop target = null;
            if (label != null) {
                for (Loop l : loops) if (label.contentEquals(String.valueOf(l.label))) target = l;
            } else {
                for (Loop l : loops) {
                    if (isBreak || !l.isSwitch) {
                        target = l;
                        break;
                    }
                }
            }
            if (target == null) throw error(s, "unknown label " + label);
            if (isBreak && target.parallel) {
                throw error(s, "break out of a @Parallel loop is not supported (its iterations run on different work-items)");
            }
            target.jumpLevel = target.jumpLevel.max(control());
            if (label == null) {
                line(what + ";");
            } else {
                if (isBreak) target.breakUsed = true;
                else target.continueUsed = true;
                line("goto " + (isBreak ? breakLabelName(target.label) : continueLabel(target.label)) + ";");
            }
        }

        /** A switch over an integer with constant case labels (classic or arrow form). */
        void switchStatement(SwitchTree sw) {
            String selector = strip(integral(sw.getExpression()).code);
            line("switch (" + selector + ") {");
            Loop entry = new Loop(null, false);
            entry.isSwitch = true;
            loops.push(entry);
            control.push(level(sw.getExpression()));
            for (CaseTree c : sw.getCases()) {
                List<String> labels = new ArrayList<>();
                for (CaseLabelTree label : c.getLabels()) {
                    switch (label) {
                        case DefaultCaseLabelTree d -> labels.add("default:");
                        case ConstantCaseLabelTree k when constantValue(k.getConstantExpression()) instanceof Long v -> labels.add("case " + v + ":");
                        default -> throw error(label, "case labels in kernels are integer constants: " + label);
                    }
                }
                line(String.join(" ", labels) + " {");
                if (c.getCaseKind() == CaseTree.CaseKind.RULE) {
                    switch (c.getBody()) {
                        case BlockTree b -> block(b.getStatements());
                        case StatementTree st -> block(List.of(st));
                        case ExpressionTree e -> {
                            indent++;
                            line(strip(expr(e).code) + ";");
                            indent--;
                        }
                        default -> throw error(c, "unsupported case body");
                    }
                    indent++;
                    line("break;");
                    indent--;
                } else {
                    block(c.getStatements());
                }
                line("}");
            }
            control.pop();
            loops.pop();
            line("}");
        }

        void returnStatement(ReturnTree r) {
            if (parallelDepth > 0) {
                throw error(r, "return inside a @Parallel loop would end the whole kernel; use continue to skip an iteration");
            }
            if (r.getExpression() == null) {
                if (returnType != Prim.VOID) throw error(r, "missing return value");
                returnLevel = returnLevel.max(control());
                line("return;");
            } else {
                if (returnType == Prim.VOID) throw error(r, "a kernel returns no value");
                Expr e = expr(r.getExpression());
                if (!(e.type instanceof Prim)) throw error(r, "device functions return primitives, not " + e.type);
                resultLevel = resultLevel.max(level(r.getExpression())).max(control());
                returnLevel = returnLevel.max(control());
                line("return " + strip(e.code) + ";");
            }
        }

        String forInit(List<? extends StatementTree> init) {
            List<String> parts = new ArrayList<>();
            String type = null;
            for (StatementTree s : init) {
                if (s instanceof VariableTree v) {
                    Prim p = declaredPrim(v);
                    String value = v.getInitializer() == null ? "" : " = " + strip(convert(expr(v.getInitializer()), p, v).code);
                    String decl = declareVar(v, p) + value;
                    parts.add(type == null ? target.type(p) + " " + decl : decl);
                    type = target.type(p);
                } else if (s instanceof ExpressionStatementTree e) {
                    parts.add(strip(expr(e.getExpression()).code));
                } else {
                    throw error(s, "unsupported for-loop initialiser");
                }
            }
            return String.join(", ", parts);
        }

        boolean isParallel(VariableTree v) {
            for (AnnotationTree a : v.getModifiers().getAnnotations()) {
                if (SourceUnit.simpleName(a.getAnnotationType()).equals("Parallel")) return true;
            }
            return v.getType() instanceof AnnotatedTypeTree at
                    && at.getAnnotations().stream().anyMatch(a -> SourceUnit.simpleName(a.getAnnotationType()).equals("Parallel"));
        }

        /** {@code for (@Parallel int i = start; i < bound; i++)} as a grid-stride loop over dimension x, y or z. */
        void parallelFor(ForLoopTree f, VariableTree v, String label) {
            if (!isKernel) throw error(f, "@Parallel loops must be in the kernel method, not in a method it calls");
            if (hasContext) throw error(f, "@Parallel loops cannot be used in a KernelContext kernel; use the context's ids");
            if (parallelDepth >= MAX_PARALLEL_DIMENSIONS) throw error(f, "at most " + MAX_PARALLEL_DIMENSIONS + " nested @Parallel loops are supported");
            String form = "a @Parallel loop has the form for (@Parallel int i = start; i < bound; i++)";
            if (declaredPrim(v) != Prim.INT || v.getInitializer() == null) throw error(f, form);
            String var = v.getName().toString();
            if (!(f.getCondition() instanceof BinaryTree cond) || cond.getKind() != Tree.Kind.LESS_THAN
                    || !(cond.getLeftOperand() instanceof IdentifierTree left) || !left.getName().contentEquals(var)) {
                throw error(f, form);
            }
            if (f.getUpdate().size() != 1 || !isIncrement(f.getUpdate().getFirst().getExpression(), var)) throw error(f, form);
            int dim = parallelDepth;
            if (dim == 0) outerLoops.add(new ParallelLoop(var, unit.line(f)));
            scopes.push(new HashMap<>());
            String start = strip(convert(expr(v.getInitializer()), Prim.INT, v).code);
            String name = declareVar(v, Prim.INT);
            String bound = strip(expr(cond.getRightOperand()).code);
            String first = start.equals("0") ? target.index(Index.GLOBAL_ID, dim) : paren(start) + " + " + paren(target.index(Index.GLOBAL_ID, dim));
            line("for (int " + name + " = " + first + "; " + name + " < " + bound + "; " + name + " += " + paren(target.index(Index.GLOBAL_SIZE, dim)) + ") {");
            parallelDepth++;
            maxParallelDepth = Math.max(maxParallelDepth, parallelDepth);
            varLevels.put(lookup(var), Divergence.THREAD);
            Loop loop = new Loop(label, true);
            loopBody(f.getStatement(), loop);
            parallelDepth--;
            line("}");
            scopes.pop();
        }

        boolean isIncrement(ExpressionTree e, String var) {
            return switch (e) {
                case UnaryTree u when u.getKind() == Tree.Kind.POSTFIX_INCREMENT || u.getKind() == Tree.Kind.PREFIX_INCREMENT ->
                        u.getExpression() instanceof IdentifierTree id && id.getName().contentEquals(var);
                case CompoundAssignmentTree c when c.getKind() == Tree.Kind.PLUS_ASSIGNMENT ->
                        c.getVariable() instanceof IdentifierTree id && id.getName().contentEquals(var)
                                && c.getExpression() instanceof LiteralTree l && Integer.valueOf(1).equals(l.getValue());
                default -> false;
            };
        }

        // ---- declarations

        Prim declaredPrim(VariableTree v) {
            if (v.getType() == null) {
                if (v.getInitializer() == null) throw error(v, "var needs an initialiser");
                Type t = expr(v.getInitializer()).type;
                if (!(t instanceof Prim p) || p == Prim.VOID) throw error(v, "var " + v.getName() + " must have a primitive type, not " + t);
                return p;
            }
            Type t = typeOf(v.getType());
            if (!(t instanceof Prim p)) throw error(v, "variable " + v.getName() + " must have a primitive type here, not " + v.getType());
            return p;
        }

        /** Adds a variable to the current scope; returns its C name. */
        String declareVar(VariableTree v, Type t) {
            String javaName = v.getName().toString();
            String name = cName(javaName);
            if (generatedNames.contains(name)) name = name + "_";
            Long constant = null;
            if (v.getModifiers().getFlags().contains(javax.lang.model.element.Modifier.FINAL) && v.getInitializer() != null && t instanceof Prim p && p.integral()) {
                constant = constantValue(v.getInitializer());
            }
            Var var = new Var(name, t, !(t instanceof Array), constant);
            scopes.peek().put(javaName, var);
            Divergence d = (v.getInitializer() == null ? Divergence.UNIFORM : level(v.getInitializer())).max(control());
            if (d != Divergence.UNIFORM && !(t instanceof Array a && a.space() == Space.LOCAL)) varLevels.put(var, d);
            return name;
        }

        void declare(VariableTree v, boolean topLevel) {
            ExpressionTree init = v.getInitializer();
            boolean array = v.getType() instanceof ArrayTypeTree
                    || v.getType() == null && init != null && (init instanceof NewArrayTree || isLocalAllocation(init));
            if (!array) {
                if (v.getType() != null && !(typeOf(v.getType()) instanceof Prim)) {
                    throw error(v, "local variables of type " + v.getType() + " are not supported in kernels; use the parameter directly");
                }
                Prim p = declaredPrim(v);
                String value = init == null ? "" : " = " + strip(convert(expr(init), p, v).code);
                String name = declareVar(v, p);
                line(target.type(p) + " " + name + value + ";");
                return;
            }
            Prim element = v.getType() instanceof ArrayTypeTree at ? arrayElement(at) : null;
            if (init instanceof MethodInvocationTree mi && isLocalAllocation(mi)) {
                if (!isKernel) throw error(v, "local arrays must be allocated in the kernel method itself, not in a method it calls");
                if (!topLevel) throw error(v, "allocate local arrays at the top level of the kernel body (OpenCL declares local memory at kernel scope)");
                String allocator = ((MemberSelectTree) mi.getMethodSelect()).getIdentifier().toString();
                Prim e = allocator.equals("allocateFloatLocalArray") ? Prim.FLOAT : Prim.INT;
                if (element != null && element != e) throw error(v, allocator + " gives " + e + "[], not " + element + "[]");
                ExpressionTree size = mi.getArguments().getFirst();
                Long n = constantValue(size);
                // analysis before specialisation: count one element, so "uses local memory" stays true
                if (n == null && analysisOnly && referencesIntParameter(size)) n = 1L;
                if (n == null) {
                    throw error(size, "local memory size must be a compile-time constant (a literal, a static final int, or a specialised parameter): " + size);
                }
                if (n <= 0) throw error(size, "local memory size must be positive, not " + n);
                String name = declareVar(v, new Array(e, Space.LOCAL, n.intValue()));
                line(target.localArray(e, name, n.intValue()) + ";");
                localMemoryBytes += 4 * n.intValue();
                return;
            }
            if (init instanceof NewArrayTree na) {
                if (na.getType() != null) {
                    Type t = typeOf(na.getType());
                    if (!(t instanceof Prim p)) throw error(na, "only one-dimensional arrays of primitives are supported in kernels");
                    element = p;
                }
                if (element == null) throw error(v, "cannot tell the array's element type");
                if (na.getInitializers() != null) {
                    List<String> values = new ArrayList<>();
                    for (ExpressionTree e : na.getInitializers()) values.add(strip(convert(expr(e), element, e).code));
                    String name = declareVar(v, new Array(element, Space.PRIVATE, values.size()));
                    line(target.type(element) + " " + name + "[" + values.size() + "] = {" + String.join(", ", values) + "};");
                    return;
                }
                if (na.getDimensions().size() != 1) throw error(na, "only one-dimensional arrays are supported in kernels");
                Long n = constantValue(na.getDimensions().getFirst());
                if (n == null || n <= 0) {
                    throw error(na, "object allocation is not supported in kernels: private arrays need a positive compile-time constant size (" + na + ")");
                }
                String name = declareVar(v, new Array(element, Space.PRIVATE, n.intValue()));
                line(target.type(element) + " " + name + "[" + n + "] = {0};");
                return;
            }
            throw error(v, "an array variable must be initialised with new " + (element == null ? "T" : element) + "[N] (N constant) or a local allocation; arrays cannot be aliased");
        }

        Prim arrayElement(ArrayTypeTree at) {
            if (!(typeOf(at.getType()) instanceof Prim p)) throw error(at, "only one-dimensional arrays of primitives are supported in kernels");
            return p;
        }

        boolean isLocalAllocation(ExpressionTree e) {
            return e instanceof MethodInvocationTree mi && mi.getMethodSelect() instanceof MemberSelectTree ms
                    && ms.getExpression() instanceof IdentifierTree id && lookup(id.getName().toString()) instanceof Var v && v.type == Context.INSTANCE
                    && (ms.getIdentifier().contentEquals("allocateFloatLocalArray") || ms.getIdentifier().contentEquals("allocateIntLocalArray"));
        }

        boolean referencesIntParameter(ExpressionTree e) {
            boolean[] found = {false};
            new TreeScanner<Void, Void>() {
                @Override
                public Void visitIdentifier(IdentifierTree id, Void unused) {
                    if (intParameters.contains(id.getName().toString())) found[0] = true;
                    return null;
                }
            }.scan(e, null);
            return found[0];
        }

        // ---- types and names

        Type typeOf(Tree t) {
            return resolveType(unit, t);
        }

        Var lookup(String javaName) {
            for (Map<String, Var> scope : scopes) {
                Var v = scope.get(javaName);
                if (v != null) return v;
            }
            return null;
        }

        /** The value of an integral compile-time constant expression (literals, static finals, specialised parameters), or null. */
        Long constantValue(ExpressionTree e) {
            return switch (e) {
                case LiteralTree l -> l.getValue() instanceof Number n && !(n instanceof Float || n instanceof Double) ? Long.valueOf(n.longValue())
                        : l.getValue() instanceof Character c ? Long.valueOf(c) : null;
                case ParenthesizedTree p -> constantValue(p.getExpression());
                case IdentifierTree id -> {
                    Var v = lookup(id.getName().toString());
                    if (v != null) yield v.constant;
                    Field f = staticFieldFor(id.getName().toString());
                    yield f == null ? null : integralConstant(f);
                }
                case MemberSelectTree ms -> {
                    Class<?> c = ms.getExpression() instanceof IdentifierTree id && lookup(id.getName().toString()) != null ? null
                            : unit.resolveClass(ms.getExpression().toString(), owner);
                    Field f = c == null ? null : staticField(c, ms.getIdentifier().toString());
                    yield f == null ? null : integralConstant(f);
                }
                case TypeCastTree c when c.getType() instanceof PrimitiveTypeTree p && p.getPrimitiveTypeKind().isPrimitive() -> {
                    Long v = constantValue(c.getExpression());
                    yield v == null ? null : switch (p.getPrimitiveTypeKind()) {
                        case INT -> Long.valueOf(v.intValue());
                        case LONG -> v;
                        case SHORT -> Long.valueOf(v.shortValue());
                        case BYTE -> Long.valueOf(v.byteValue());
                        case CHAR -> Long.valueOf((char) v.longValue());
                        default -> null;
                    };
                }
                case UnaryTree u -> {
                    Long v = constantValue(u.getExpression());
                    yield v == null ? null : switch (u.getKind()) {
                        case UNARY_MINUS -> -v;
                        case UNARY_PLUS -> v;
                        case BITWISE_COMPLEMENT -> ~v;
                        default -> null;
                    };
                }
                case BinaryTree b -> {
                    Long l = constantValue(b.getLeftOperand()), r = constantValue(b.getRightOperand());
                    if (l == null || r == null) yield null;
                    yield switch (b.getKind()) {
                        case PLUS -> l + r;
                        case MINUS -> l - r;
                        case MULTIPLY -> l * r;
                        case DIVIDE -> r == 0 ? null : l / r;
                        case REMAINDER -> r == 0 ? null : l % r;
                        case LEFT_SHIFT -> l << r;
                        case RIGHT_SHIFT -> l >> r;
                        case AND -> l & r;
                        case OR -> l | r;
                        case XOR -> l ^ r;
                        default -> null;
                    };
                }
                default -> null;
            };
        }

        Long integralConstant(Field f) {
            if (!Modifier.isStatic(f.getModifiers()) || !Modifier.isFinal(f.getModifiers())) return null;
            Class<?> t = f.getType();
            if (t != int.class && t != long.class && t != short.class && t != byte.class && t != char.class) return null;
            Object v = fieldValue(f, null);
            return v instanceof Character c ? Long.valueOf(c) : Long.valueOf(((Number) v).longValue());
        }

        /** A static field that a simple name refers to: in this class or an enclosing one, or statically imported. */
        Field staticFieldFor(String name) {
            for (Class<?> c = owner; c != null; c = c.getEnclosingClass()) {
                Field f = staticField(c, name);
                if (f != null) return f;
            }
            Class<?> imported = unit.staticImportOwner(name, owner);
            return imported == null ? null : staticField(imported, name);
        }

        Object fieldValue(Field f, Tree site) {
            try {
                f.trySetAccessible();
                return f.get(null);
            } catch (IllegalAccessException | RuntimeException e) {
                throw error(site == null ? method : site, "cannot read constant " + f.getDeclaringClass().getSimpleName() + "." + f.getName() + ": " + e);
            }
        }

        Expr constantField(Field f, Tree site) {
            String what = f.getDeclaringClass().getSimpleName() + "." + f.getName();
            if (!Modifier.isStatic(f.getModifiers()) || !Modifier.isFinal(f.getModifiers())) {
                throw error(site, "field " + what + " is not a static final constant; kernels cannot read or write fields");
            }
            Prim p = f.getType().isPrimitive() ? Prim.named(f.getType().getName()) : null;
            if (p == null) throw error(site, "field " + what + " is not a primitive constant (kernels can only read static final primitives)");
            return new Expr(literal(fieldValue(f, site), p), p);
        }

        // ---- divergence

        /** The divergence of the current control flow: enclosing conditions, early returns, early loop exits. */
        Divergence control() {
            Divergence d = returnLevel;
            for (Divergence c : control) d = d.max(c);
            for (Loop l : loops) d = d.max(l.jumpLevel);
            return d;
        }

        /** A barrier or warp operation (or a call of a method with one) here: the whole group must reach it. */
        void collective(Tree site, String what, boolean warp) {
            checkCollective(site, what, warp, control());
            for (Loop l : loops) {
                if (l.firstCollective == null) {
                    l.firstCollective = site;
                    l.firstCollectiveWhat = what;
                    l.firstCollectiveIsWarp = warp;
                }
            }
        }

        void checkCollective(Tree site, String what, boolean warp, Divergence d) {
            if (d == Divergence.UNIFORM) return;
            if (!warp) {
                throw error(site, what + " under a condition that differs between work-items of the group: every work-item must reach it"
                        + " (keep it out of branches and loops that depend on local or global ids, laneId() or warpId(), and out of code after an early return)");
            }
            if (d == Divergence.THREAD) {
                throw error(site, what + " under a condition that differs between lanes: all 32 lanes of a warp must reach it");
            }
            if (target instanceof Target.OpenCl) {
                throw error(site, what + " under a condition that differs between warps (such as warpId()): OpenCL emulates warp operations"
                        + " with group barriers, so every work-item of the group must reach them; compute it in every warp and use the result where needed");
            }
        }

        /** Records that {@code target} is assigned a value of divergence {@code value} here. */
        void assigned(ExpressionTree target, Divergence value) {
            Divergence d = value.max(control());
            switch (target) {
                case ParenthesizedTree p -> assigned(p.getExpression(), value);
                case IdentifierTree id when lookup(id.getName().toString()) instanceof Var v && d != Divergence.UNIFORM ->
                        varLevels.merge(v, d, Divergence::max);
                case ArrayAccessTree a when a.getExpression() instanceof IdentifierTree id && lookup(id.getName().toString()) instanceof Var v
                        && v.type instanceof Array array && array.space() == Space.PRIVATE -> {
                    Divergence e = d.max(level(a.getIndex()));
                    if (e != Divergence.UNIFORM) varLevels.merge(v, e, Divergence::max);
                }
                default -> { } // local (group) arrays: a read is as divergent as its index
            }
        }

        /** How far the value of {@code e} can differ between the work-items of a group. */
        Divergence level(ExpressionTree e) {
            return switch (e) {
                case null -> Divergence.UNIFORM;
                case LiteralTree l -> Divergence.UNIFORM;
                case IdentifierTree id -> {
                    Var v = lookup(id.getName().toString());
                    yield v == null ? Divergence.UNIFORM : varLevels.getOrDefault(v, Divergence.UNIFORM);
                }
                case MemberSelectTree ms -> {
                    String m = ms.getIdentifier().toString();
                    boolean context = ms.getExpression() instanceof IdentifierTree r && lookup(r.getName().toString()) instanceof Var v && v.type == Context.INSTANCE;
                    yield context && (m.startsWith("localId") || m.startsWith("globalId")) ? Divergence.THREAD : Divergence.UNIFORM;
                }
                case MethodInvocationTree mi -> {
                    Divergence args = Divergence.UNIFORM;
                    for (ExpressionTree a : mi.getArguments()) args = args.max(level(a));
                    Divergence helper = helperCalls.get(mi);
                    if (helper != null) yield args.max(helper);
                    boolean context = mi.getMethodSelect() instanceof MemberSelectTree ms && ms.getExpression() instanceof IdentifierTree r
                            && lookup(r.getName().toString()) instanceof Var v && v.type == Context.INSTANCE;
                    if (!context) yield args;
                    yield switch (((MemberSelectTree) mi.getMethodSelect()).getIdentifier().toString()) {
                        case "laneId", "warpShuffle", "warpShuffleXor", "atomicAdd" -> Divergence.THREAD;
                        case "warpId" -> Divergence.WARP;
                        case "warpReduceSum", "warpReduceMax" -> args == Divergence.UNIFORM ? Divergence.UNIFORM : Divergence.WARP;
                        default -> args;
                    };
                }
                case ArrayAccessTree a -> level(a.getExpression()).max(level(a.getIndex()));
                case ParenthesizedTree p -> level(p.getExpression());
                case TypeCastTree c -> level(c.getExpression());
                case UnaryTree u -> level(u.getExpression());
                case BinaryTree b -> level(b.getLeftOperand()).max(level(b.getRightOperand()));
                case ConditionalExpressionTree c -> level(c.getCondition()).max(level(c.getTrueExpression())).max(level(c.getFalseExpression()));
                case AssignmentTree a -> level(a.getExpression()).max(level(a.getVariable()));
                case CompoundAssignmentTree c -> level(c.getExpression()).max(level(c.getVariable()));
                case NewArrayTree n -> {
                    Divergence d = Divergence.UNIFORM;
                    if (n.getInitializers() != null) for (ExpressionTree i : n.getInitializers()) d = d.max(level(i));
                    yield d;
                }
                default -> Divergence.THREAD;
            };
        }

        // ---- expressions

        Expr expr(ExpressionTree e) {
            return switch (e) {
                case ParenthesizedTree p -> {
                    Expr inner = expr(p.getExpression());
                    yield new Expr("(" + strip(inner.code) + ")", inner.type);
                }
                case LiteralTree l -> literalExpr(l);
                case IdentifierTree id -> identifier(id);
                case MemberSelectTree ms -> memberSelect(ms);
                case MethodInvocationTree mi -> invocation(mi);
                case BinaryTree b -> binary(b);
                case UnaryTree u -> unary(u);
                case AssignmentTree a -> {
                    Expr lhs = lvalue(a.getVariable());
                    Expr rhs = convert(expr(a.getExpression()), (Prim) lhs.type, a);
                    assigned(a.getVariable(), level(a.getExpression()));
                    yield new Expr("(" + lhs.code + " = " + strip(rhs.code) + ")", lhs.type);
                }
                case CompoundAssignmentTree c -> compoundAssignment(c);
                case ConditionalExpressionTree c -> conditional(c);
                case TypeCastTree c -> cast(c);
                case ArrayAccessTree a -> {
                    Expr array = expr(a.getExpression());
                    if (!(array.type instanceof Array t)) throw error(a, "indexing applies to Java arrays only; buffers use get(i) and set(i, v): " + a);
                    Expr index = integral(a.getIndex());
                    yield new Expr(array.code + "[" + strip(index.code) + "]", t.element());
                }
                case NewClassTree n -> throw error(n, "object allocation is not supported in kernels: " + n);
                case NewArrayTree n -> throw error(n, "object allocation is not supported in kernels: arrays are declared as locals with a constant size (float[] r = new float[8]): " + n);
                case LambdaExpressionTree l -> throw error(l, "lambdas are not supported in kernels");
                case MemberReferenceTree m -> throw error(m, "method references are not supported in kernels");
                case InstanceOfTree i -> throw error(i, "instanceof is not supported in kernels");
                case SwitchExpressionTree s -> throw error(s, "switch expressions are not supported in kernels; use ?: or if/else");
                default -> throw error(e, "unsupported expression in a kernel: " + e.getKind() + " " + e);
            };
        }

        Expr literalExpr(LiteralTree l) {
            Prim p = switch (l.getKind()) {
                case INT_LITERAL -> Prim.INT;
                case LONG_LITERAL -> Prim.LONG;
                case FLOAT_LITERAL -> Prim.FLOAT;
                case DOUBLE_LITERAL -> Prim.DOUBLE;
                case BOOLEAN_LITERAL -> Prim.BOOLEAN;
                case CHAR_LITERAL -> Prim.CHAR;
                case STRING_LITERAL -> throw error(l, "strings are not supported in kernels");
                case NULL_LITERAL -> throw error(l, "null is not supported in kernels");
                default -> throw error(l, "unsupported literal " + l);
            };
            return new Expr(literal(l.getValue(), p), p);
        }

        Expr identifier(IdentifierTree id) {
            String name = id.getName().toString();
            if (name.equals("this") || name.equals("super")) throw error(id, "'" + name + "' is not supported in kernels (kernels are static methods)");
            Var v = lookup(name);
            if (v != null) return new Expr(v.code, v.type);
            Field f = staticFieldFor(name);
            if (f != null) return constantField(f, id);
            throw error(id, "unknown name " + name);
        }

        Expr memberSelect(MemberSelectTree ms) {
            String member = ms.getIdentifier().toString();
            ExpressionTree receiver = ms.getExpression();
            if (receiver instanceof IdentifierTree rid && lookup(rid.getName().toString()) instanceof Var v) {
                switch (v.type) {
                    case Context c -> {
                        Expr id = contextField(member);
                        if (id == null) throw error(ms, "KernelContext has no field " + member + " usable in kernels");
                        return id;
                    }
                    case Array a when member.equals("length") -> {
                        if (a.length() < 0) throw error(ms, "the length of array parameter " + rid + " is not known here; pass it as an int");
                        return new Expr(Integer.toString(a.length()), Prim.INT);
                    }
                    default -> throw error(ms, "field access " + ms + " is not supported in kernels");
                }
            }
            if (receiver instanceof IdentifierTree || receiver instanceof MemberSelectTree) {
                Class<?> c = unit.resolveClass(receiver.toString(), owner);
                if (c != null) {
                    Field f = staticField(c, member);
                    if (f == null) throw error(ms, "unknown field " + ms);
                    return constantField(f, ms);
                }
            }
            throw error(ms, "field access " + ms + " is not supported in kernels");
        }

        Expr contextField(String member) {
            ContextId id = CONTEXT_IDS.get(member);
            return id == null ? null : new Expr(paren(target.index(id.index, id.dim)), Prim.INT);
        }

        Expr invocation(MethodInvocationTree mi) {
            List<? extends ExpressionTree> args = mi.getArguments();
            if (mi.getMethodSelect() instanceof IdentifierTree id) {
                String name = id.getName().toString();
                for (Class<?> c = owner; c != null; c = c.getEnclosingClass()) {
                    if (!unit.methods(c, name).isEmpty()) return callFunction(mi, c, name, args);
                }
                Class<?> imported = unit.staticImportOwner(name, owner);
                if (imported != null) return staticCall(mi, imported, name, args);
                throw error(mi, "unknown method " + name);
            }
            MemberSelectTree ms = (MemberSelectTree) mi.getMethodSelect();
            String name = ms.getIdentifier().toString();
            ExpressionTree receiver = ms.getExpression();
            if (receiver instanceof IdentifierTree rid && lookup(rid.getName().toString()) instanceof Var v) {
                return switch (v.type) {
                    case Buffer b -> bufferCall(mi, b, v.code, name, args);
                    case Context c -> contextCall(mi, name, args);
                    default -> throw error(mi, "instance method calls are not supported in kernels: " + mi
                            + " (only buffer methods, KernelContext intrinsics, Math functions and static methods of kernel classes)");
                };
            }
            if (receiver instanceof IdentifierTree || receiver instanceof MemberSelectTree) {
                String r = receiver.toString();
                Class<?> c = r.equals("this") || r.equals("super") ? null : unit.resolveClass(r, owner);
                if (c != null) return staticCall(mi, c, name, args);
            } else {
                expr(receiver); // reports what the receiver itself does wrong, such as an allocation
            }
            throw error(mi, "instance method calls are not supported in kernels: " + mi
                    + " (only buffer methods, KernelContext intrinsics, Math functions and static methods of kernel classes)");
        }

        Expr staticCall(MethodInvocationTree mi, Class<?> c, String name, List<? extends ExpressionTree> args) {
            if (c == Math.class || c == StrictMath.class) return mathCall(mi, name, args);
            if (c == Float.class || c == Double.class || c == Integer.class || c == Long.class) return boxCall(mi, c, name, args);
            if (SourceUnit.available(c)) return callFunction(mi, c, name, args);
            throw error(mi, c.getSimpleName() + "." + name + " is not supported in kernels (only Math, Float, Double, Integer and Long"
                    + " intrinsics and static methods of classes whose source ships with them)");
        }

        List<Expr> numericArgs(MethodInvocationTree mi, List<? extends ExpressionTree> args, int count) {
            if (args.size() != count) throw error(mi, mi.getMethodSelect() + " takes " + count + " argument(s) here");
            List<Expr> r = new ArrayList<>();
            for (ExpressionTree a : args) {
                Expr e = expr(a);
                if (!(e.type instanceof Prim p) || !p.numeric()) throw error(a, "numeric argument expected: " + a);
                r.add(e);
            }
            return r;
        }

        Prim promoteAll(List<Expr> args) {
            Prim t = ((Prim) args.getFirst().type).promoted();
            for (Expr e : args) t = Prim.promote(t, (Prim) e.type);
            return t;
        }

        String call(String fn, List<Expr> args, Prim t) {
            List<String> codes = new ArrayList<>();
            for (Expr a : args) codes.add(strip(convert(a, t, null).code));
            return fn + "(" + String.join(", ", codes) + ")";
        }

        private static final Map<String, Integer> FLOATING_MATH = Map.ofEntries(
                Map.entry("exp", 1), Map.entry("log", 1), Map.entry("log10", 1), Map.entry("log1p", 1), Map.entry("expm1", 1),
                Map.entry("sqrt", 1), Map.entry("cbrt", 1), Map.entry("sin", 1), Map.entry("cos", 1), Map.entry("tan", 1),
                Map.entry("asin", 1), Map.entry("acos", 1), Map.entry("atan", 1), Map.entry("sinh", 1), Map.entry("cosh", 1),
                Map.entry("tanh", 1), Map.entry("floor", 1), Map.entry("ceil", 1), Map.entry("rint", 1), Map.entry("atan2", 2),
                Map.entry("pow", 2), Map.entry("hypot", 2), Map.entry("copySign", 2), Map.entry("fma", 3));

        /**
         * Math functions. A function of float arguments computes in float on the device (expf,
         * sqrtf, ...): Java computes Math.exp in double and the kernel casts back, so results agree
         * to float rounding. Integer arguments of floating functions compute in double, as in Java.
         */
        Expr mathCall(MethodInvocationTree mi, String name, List<? extends ExpressionTree> argTrees) {
            Integer arity = FLOATING_MATH.get(name);
            if (arity != null) {
                List<Expr> args = numericArgs(mi, argTrees, arity);
                Prim t = promoteAll(args);
                if (!t.floating()) t = Prim.DOUBLE;
                String base = name.equals("copySign") ? "copysign" : name;
                return new Expr(call(target.math(base, t), args, t), t);
            }
            return switch (name) {
                case "abs" -> {
                    List<Expr> args = numericArgs(mi, argTrees, 1);
                    Prim t = promoteAll(args);
                    yield new Expr(paren(t.floating() ? call(target.math("fabs", t), args, t) : target.intAbs(strip(args.getFirst().code), t)), t);
                }
                case "max", "min" -> minMax(mi, name, argTrees);
                case "round" -> {
                    List<Expr> args = numericArgs(mi, argTrees, 1);
                    Prim t = promoteAll(args);
                    if (!t.floating()) yield args.getFirst();
                    Prim result = t == Prim.FLOAT ? Prim.INT : Prim.LONG;
                    String half = t == Prim.FLOAT ? "0.5f" : "0.5";
                    String floor = target.math("floor", t) + "(" + strip(args.getFirst().code) + " + " + half + ")";
                    yield new Expr(paren(target.floatToIntegral(floor, result)), result);
                }
                case "clamp" -> {
                    List<Expr> args = numericArgs(mi, argTrees, 3);
                    Prim t = promoteAll(args);
                    String v = strip(convert(args.get(0), t, null).code), lo = strip(convert(args.get(1), t, null).code), hi = strip(convert(args.get(2), t, null).code);
                    String max = t.floating() ? target.math("fmax", t) : "max", min = t.floating() ? target.math("fmin", t) : "min";
                    // Math.clamp(long, int, int) returns int
                    Prim result = t == Prim.LONG && args.get(1).type != Prim.LONG && args.get(2).type != Prim.LONG ? Prim.INT : t;
                    String code = min + "(" + max + "(" + v + ", " + lo + "), " + hi + ")";
                    yield new Expr(result == t ? code : "((int) " + code + ")", result);
                }
                default -> throw error(mi, "Math." + name + " is not supported in kernels");
            };
        }

        Expr minMax(MethodInvocationTree mi, String name, List<? extends ExpressionTree> argTrees) {
            List<Expr> args = numericArgs(mi, argTrees, 2);
            Prim t = promoteAll(args);
            String fn = t.floating() ? target.math(name.equals("max") ? "fmax" : "fmin", t) : name;
            return new Expr(call(fn, args, t), t);
        }

        /** Float, Double, Integer and Long intrinsics. */
        Expr boxCall(MethodInvocationTree mi, Class<?> c, String name, List<? extends ExpressionTree> argTrees) {
            Prim own = c == Float.class ? Prim.FLOAT : c == Double.class ? Prim.DOUBLE : c == Integer.class ? Prim.INT : Prim.LONG;
            String what = c.getSimpleName() + "." + name;
            switch (name) {
                case "isNaN", "isInfinite", "isFinite" -> {
                    if (!own.floating()) break;
                    List<Expr> args = numericArgs(mi, argTrees, 1);
                    String fn = switch (name) {
                        case "isNaN" -> "isnan";
                        case "isInfinite" -> "isinf";
                        default -> "isfinite";
                    };
                    return new Expr(call(fn, args, own), Prim.BOOLEAN);
                }
                case "max", "min" -> {
                    return minMax(mi, name, argTrees);
                }
                case "sum" -> {
                    List<Expr> args = numericArgs(mi, argTrees, 2);
                    return new Expr("(" + strip(convert(args.get(0), own, null).code) + " + " + strip(convert(args.get(1), own, null).code) + ")", own);
                }
                case "floatToRawIntBits", "floatToIntBits" -> {
                    return new Expr(target.floatBits(strip(convert(numericArgs(mi, argTrees, 1).getFirst(), Prim.FLOAT, null).code)), Prim.INT);
                }
                case "intBitsToFloat" -> {
                    return new Expr(target.intBitsToFloat(strip(convert(numericArgs(mi, argTrees, 1).getFirst(), Prim.INT, null).code)), Prim.FLOAT);
                }
                case "float16ToFloat" -> {
                    return new Expr(paren(target.halfToFloat(strip(numericArgs(mi, argTrees, 1).getFirst().code))), Prim.FLOAT);
                }
                case "floatToFloat16" -> {
                    return new Expr(paren(target.floatToHalf(strip(convert(numericArgs(mi, argTrees, 1).getFirst(), Prim.FLOAT, null).code))), Prim.SHORT);
                }
                case "bitCount", "numberOfLeadingZeros" -> {
                    if (own.floating()) break;
                    String x = strip(convert(numericArgs(mi, argTrees, 1).getFirst(), own, null).code);
                    String code = name.equals("bitCount") ? target.bitCount(x, own) : target.leadingZeros(x, own);
                    return new Expr(paren(own == Prim.LONG ? "(int) " + paren(code) : code), Prim.INT);
                }
                default -> { }
            }
            throw error(mi, what + " is not supported in kernels");
        }

        Expr bufferCall(MethodInvocationTree mi, Buffer b, String array, String name, List<? extends ExpressionTree> args) {
            String what = b + "." + name;
            switch (name) {
                case "get" -> {
                    expectArgs(mi, args, 1);
                    return new Expr(paren(target.load(b, array, checked(mi, array, name, strip(integral(args.getFirst()).code), 1))), b.element);
                }
                case "set" -> {
                    expectArgs(mi, args, 2);
                    String index = checked(mi, array, name, strip(integral(args.get(0)).code), 1);
                    Expr value = convert(expr(args.get(1)), b.element, args.get(1));
                    return new Expr(paren(target.store(b, array, index, strip(value.code))), Prim.VOID);
                }
                case "getSize" -> {
                    expectArgs(mi, args, 0);
                    return new Expr(array + "_size", Prim.INT);
                }
                case "getBits" -> {
                    if (b != Buffer.HALF_ARRAY) break;
                    expectArgs(mi, args, 1);
                    return new Expr(paren(target.halfBits(array, checked(mi, array, name, strip(integral(args.getFirst()).code), 1))), Prim.SHORT);
                }
                case "load8", "store8", "load4", "store4" -> {
                    int width = name.endsWith("8") ? 8 : 4;
                    boolean load = name.startsWith("load");
                    boolean supported = width == 8 ? b == Buffer.HALF_ARRAY || (load && b == Buffer.BFLOAT16_ARRAY) : b == Buffer.FLOAT_ARRAY;
                    if (!supported) break;
                    expectArgs(mi, args, 2);
                    String index = checked(mi, array, name, strip(integral(args.get(0)).code), width);
                    Expr regs = expr(args.get(1));
                    if (!(regs.type instanceof Array a) || a.element() != Prim.FLOAT || a.space() != Space.PRIVATE) {
                        throw error(args.get(1), what + " needs a private float array (float[] regs = new float[" + width + "]), not " + args.get(1));
                    }
                    if (a.length() >= 0 && a.length() < width) throw error(args.get(1), what + " needs at least " + width + " registers, " + args.get(1) + " has " + a.length());
                    String code = switch (name) {
                        case "load8" -> b == Buffer.HALF_ARRAY ? target.load8Half(array, index, regs.code) : target.load8BFloat16(array, index, regs.code);
                        case "store8" -> target.store8Half(array, index, regs.code);
                        case "load4" -> target.load4Float(array, index, regs.code);
                        default -> target.store4Float(array, index, regs.code);
                    };
                    return new Expr(code, Prim.VOID);
                }
                default -> { }
            }
            throw error(mi, "instance method " + what + " is not supported in kernels (buffers offer get, set, getSize and the wide loads)");
        }

        /**
         * {@code index} of {@code width} elements of buffer {@code array}, checked against the
         * buffer's size when the unit checks bounds: out of range, the device prints the Java
         * file, line and access and uses index 0 instead.
         */
        String checked(Tree site, String array, String access, String index, int width) {
            if (!checkBounds) return index;
            String where = unit.fileName + ":" + unit.line(site) + " " + array + "." + access;
            return target.checkedIndex(where, index, array + "_size", width);
        }

        Expr contextCall(MethodInvocationTree mi, String name, List<? extends ExpressionTree> args) {
            switch (name) {
                case "localBarrier", "globalBarrier" -> {
                    expectArgs(mi, args, 0);
                    usesBarriers = true;
                    collective(mi, "barrier", false);
                    return new Expr(target.barrier(name.equals("globalBarrier")), Prim.VOID);
                }
                case "globalFence" -> {
                    expectArgs(mi, args, 0);
                    return new Expr(target.globalFence(), Prim.VOID);
                }
                case "laneId", "warpId" -> {
                    expectArgs(mi, args, 0);
                    return new Expr(name.equals("laneId") ? target.laneId() : target.warpId(), Prim.INT);
                }
                case "warpShuffle", "warpShuffleXor" -> {
                    expectArgs(mi, args, 2);
                    usesWarp = true;
                    collective(mi, "warp operation", true);
                    String v = strip(convert(expr(args.get(0)), Prim.FLOAT, args.get(0)).code);
                    String lane = strip(integral(args.get(1)).code);
                    return new Expr(name.equals("warpShuffle") ? target.warpShuffle(v, lane) : target.warpShuffleXor(v, lane), Prim.FLOAT);
                }
                case "warpReduceSum", "warpReduceMax" -> {
                    expectArgs(mi, args, 1);
                    usesWarp = true;
                    collective(mi, "warp operation", true);
                    String v = strip(convert(expr(args.getFirst()), Prim.FLOAT, args.getFirst()).code);
                    return new Expr(name.equals("warpReduceSum") ? target.warpReduceSum(v) : target.warpReduceMax(v), Prim.FLOAT);
                }
                case "atomicAdd" -> {
                    expectArgs(mi, args, 3);
                    Expr array = expr(args.get(0));
                    if (array.type instanceof Array a && a.space() == Space.LOCAL && a.element() == Prim.INT) {
                        // group-local counters: the same atomicAdd / atomic_add on a local address
                        String index = strip(integral(args.get(1)).code);
                        String value = strip(convert(expr(args.get(2)), Prim.INT, args.get(2)).code);
                        return new Expr(target.atomicAdd(Buffer.INT_ARRAY, array.code, index, value), Prim.INT);
                    }
                    if (!(array.type == Buffer.INT_ARRAY || array.type == Buffer.FLOAT_ARRAY)) {
                        throw error(args.get(0), "atomicAdd takes an IntArray, a FloatArray or a local int array, not " + args.get(0));
                    }
                    Buffer b = (Buffer) array.type;
                    String index = checked(mi, array.code, name, strip(integral(args.get(1)).code), 1);
                    String value = strip(convert(expr(args.get(2)), b.element, args.get(2)).code);
                    return new Expr(target.atomicAdd(b, array.code, index, value), b.element);
                }
                case "allocateFloatLocalArray", "allocateIntLocalArray" ->
                        throw error(mi, "allocate local arrays in a declaration at the top level of the kernel body: float[] s = ctx." + name + "(N)");
                default -> throw error(mi, "KernelContext." + name + " is not supported in kernels");
            }
        }

        void expectArgs(MethodInvocationTree mi, List<? extends ExpressionTree> args, int n) {
            if (args.size() != n) throw error(mi, mi.getMethodSelect() + " takes " + n + " argument(s)");
        }

        Expr integral(ExpressionTree t) {
            Expr e = expr(t);
            if (!(e.type instanceof Prim p) || !p.integral()) throw error(t, "integer expected: " + t);
            return e;
        }

        Prim numeric(Expr e, Tree site) {
            if (!(e.type instanceof Prim p) || !p.numeric()) throw error(site, "numeric operand expected, not " + e.type + ": " + site);
            return p;
        }

        Expr binary(BinaryTree b) {
            Tree.Kind k = b.getKind();
            Expr l = expr(b.getLeftOperand());
            boolean shortCircuit = k == Tree.Kind.CONDITIONAL_AND || k == Tree.Kind.CONDITIONAL_OR;
            if (shortCircuit) control.push(level(b.getLeftOperand()));
            Expr r = expr(b.getRightOperand());
            if (shortCircuit) control.pop();
            switch (k) {
                case CONDITIONAL_AND, CONDITIONAL_OR -> {
                    if (l.type != Prim.BOOLEAN || r.type != Prim.BOOLEAN) throw error(b, "boolean operands expected: " + b);
                    return new Expr("(" + l.code + (k == Tree.Kind.CONDITIONAL_AND ? " && " : " || ") + r.code + ")", Prim.BOOLEAN);
                }
                case EQUAL_TO, NOT_EQUAL_TO -> {
                    if (!(l.type instanceof Prim) || !(r.type instanceof Prim)) throw error(b, "only primitives can be compared: " + b);
                    return new Expr("(" + l.code + (k == Tree.Kind.EQUAL_TO ? " == " : " != ") + r.code + ")", Prim.BOOLEAN);
                }
                case AND, OR, XOR -> {
                    String op = k == Tree.Kind.AND ? " & " : k == Tree.Kind.OR ? " | " : " ^ ";
                    if (l.type == Prim.BOOLEAN && r.type == Prim.BOOLEAN) return new Expr("(" + l.code + op + r.code + ")", Prim.BOOLEAN);
                    Prim t = Prim.promote(numeric(l, b), numeric(r, b));
                    if (!t.integral()) throw error(b, "bitwise operators need integers: " + b);
                    return new Expr("(" + l.code + op + r.code + ")", t);
                }
                default -> { }
            }
            Prim lt = numeric(l, b), rt = numeric(r, b);
            Prim t = Prim.promote(lt, rt);
            return switch (k) {
                case LESS_THAN, GREATER_THAN, LESS_THAN_EQUAL, GREATER_THAN_EQUAL ->
                        new Expr("(" + l.code + " " + operator(k) + " " + r.code + ")", Prim.BOOLEAN);
                case PLUS, MINUS, MULTIPLY, DIVIDE -> new Expr("(" + l.code + " " + operator(k) + " " + r.code + ")", t);
                case REMAINDER -> t.floating()
                        ? new Expr(call(target.math("fmod", t), List.of(l, r), t), t)
                        : new Expr("(" + l.code + " % " + r.code + ")", t);
                case LEFT_SHIFT, RIGHT_SHIFT, UNSIGNED_RIGHT_SHIFT -> {
                    Prim s = lt.promoted();
                    if (!s.integral() || !rt.integral()) throw error(b, "shifts need integers: " + b);
                    yield new Expr(shift(k, l.code, r.code, s), s);
                }
                default -> throw error(b, "unsupported operator " + k + ": " + b);
            };
        }

        String shift(Tree.Kind k, String l, String r, Prim t) {
            if (k != Tree.Kind.UNSIGNED_RIGHT_SHIFT) return "(" + l + (k == Tree.Kind.LEFT_SHIFT ? " << " : " >> ") + r + ")";
            String type = target.type(t);
            return "((" + type + ") ((unsigned " + type + ") " + l + " >> " + r + "))";
        }

        String operator(Tree.Kind k) {
            return switch (k) {
                case LESS_THAN -> "<";
                case GREATER_THAN -> ">";
                case LESS_THAN_EQUAL -> "<=";
                case GREATER_THAN_EQUAL -> ">=";
                case PLUS -> "+";
                case MINUS -> "-";
                case MULTIPLY -> "*";
                case DIVIDE -> "/";
                case PLUS_ASSIGNMENT -> "+=";
                case MINUS_ASSIGNMENT -> "-=";
                case MULTIPLY_ASSIGNMENT -> "*=";
                case DIVIDE_ASSIGNMENT -> "/=";
                case REMAINDER_ASSIGNMENT -> "%=";
                case LEFT_SHIFT_ASSIGNMENT -> "<<=";
                case RIGHT_SHIFT_ASSIGNMENT -> ">>=";
                case AND_ASSIGNMENT -> "&=";
                case OR_ASSIGNMENT -> "|=";
                case XOR_ASSIGNMENT -> "^=";
                default -> throw new IllegalArgumentException(k.toString());
            };
        }

        Expr unary(UnaryTree u) {
            return switch (u.getKind()) {
                case LOGICAL_COMPLEMENT -> {
                    Expr e = expr(u.getExpression());
                    if (e.type != Prim.BOOLEAN) throw error(u, "boolean operand expected: " + u);
                    yield new Expr("(!" + e.code + ")", Prim.BOOLEAN);
                }
                case UNARY_MINUS, UNARY_PLUS, BITWISE_COMPLEMENT -> {
                    Expr e = expr(u.getExpression());
                    Prim t = numeric(e, u).promoted();
                    if (u.getKind() == Tree.Kind.BITWISE_COMPLEMENT && !t.integral()) throw error(u, "~ needs an integer: " + u);
                    String op = u.getKind() == Tree.Kind.UNARY_MINUS ? "-" : u.getKind() == Tree.Kind.UNARY_PLUS ? "+" : "~";
                    yield new Expr("(" + op + e.code + ")", t);
                }
                case PREFIX_INCREMENT, PREFIX_DECREMENT, POSTFIX_INCREMENT, POSTFIX_DECREMENT -> {
                    Expr e = lvalue(u.getExpression());
                    numeric(e, u);
                    assigned(u.getExpression(), Divergence.UNIFORM);
                    String op = u.getKind() == Tree.Kind.PREFIX_INCREMENT || u.getKind() == Tree.Kind.POSTFIX_INCREMENT ? "++" : "--";
                    boolean prefix = u.getKind() == Tree.Kind.PREFIX_INCREMENT || u.getKind() == Tree.Kind.PREFIX_DECREMENT;
                    yield new Expr("(" + (prefix ? op + e.code : e.code + op) + ")", e.type);
                }
                default -> throw error(u, "unsupported operator " + u.getKind() + ": " + u);
            };
        }

        /** A target of assignment: a primitive local or parameter, or an element of a Java array. */
        Expr lvalue(ExpressionTree t) {
            switch (t) {
                case ParenthesizedTree p -> {
                    return lvalue(p.getExpression());
                }
                case IdentifierTree id -> {
                    Var v = lookup(id.getName().toString());
                    if (v == null) throw error(t, "field writes are not supported in kernels: " + id + " is not a local variable or parameter");
                    if (v.type instanceof Prim && v.constant != null && !v.assignable) {
                        throw error(t, id + " is a constant (a specialised parameter or final local) and cannot be assigned");
                    }
                    if (!(v.type instanceof Prim)) throw error(t, v.type + " variable " + id + " cannot be reassigned in a kernel");
                    return new Expr(v.code, v.type);
                }
                case ArrayAccessTree a -> {
                    return expr(a);
                }
                case MemberSelectTree ms -> throw error(t, "field writes are not supported in kernels: " + ms);
                default -> throw error(t, "cannot assign to " + t);
            }
        }

        Expr compoundAssignment(CompoundAssignmentTree c) {
            Expr lhs = lvalue(c.getVariable());
            Expr rhs = expr(c.getExpression());
            assigned(c.getVariable(), level(c.getExpression()));
            Prim lt = numeric(lhs, c);
            Prim rt = c.getKind() == Tree.Kind.AND_ASSIGNMENT || c.getKind() == Tree.Kind.OR_ASSIGNMENT || c.getKind() == Tree.Kind.XOR_ASSIGNMENT
                    ? (Prim) rhs.type : numeric(rhs, c);
            Prim t = Prim.promote(lt, rt);
            return switch (c.getKind()) {
                case UNSIGNED_RIGHT_SHIFT_ASSIGNMENT -> new Expr("(" + lhs.code + " = " + shift(Tree.Kind.UNSIGNED_RIGHT_SHIFT, lhs.code, rhs.code, lt.promoted()) + ")", lt);
                case REMAINDER_ASSIGNMENT -> t.floating()
                        ? new Expr("(" + lhs.code + " = " + call(target.math("fmod", t), List.of(lhs, rhs), t) + ")", lt)
                        : new Expr("(" + lhs.code + " %= " + strip(rhs.code) + ")", lt);
                default -> new Expr("(" + lhs.code + " " + operator(c.getKind()) + " " + strip(rhs.code) + ")", lt);
            };
        }

        Expr conditional(ConditionalExpressionTree c) {
            String cond = condition(c.getCondition());
            control.push(level(c.getCondition()));
            Expr a = expr(c.getTrueExpression()), b = expr(c.getFalseExpression());
            control.pop();
            Type t;
            if (a.type.equals(b.type)) t = a.type;
            else if (a.type instanceof Prim pa && b.type instanceof Prim pb && pa.numeric() && pb.numeric()) t = Prim.promote(pa, pb);
            else throw error(c, "the branches of ?: have types " + a.type + " and " + b.type);
            if (!(t instanceof Prim)) throw error(c, "?: must give a primitive in kernels");
            return new Expr("(" + paren(cond) + " ? " + a.code + " : " + b.code + ")", t);
        }

        Expr cast(TypeCastTree c) {
            Type to = typeOf(c.getType());
            Expr e = expr(c.getExpression());
            if (!(to instanceof Prim p) || !(e.type instanceof Prim from)) throw error(c, "only casts between primitive types are supported in kernels: " + c);
            if (from == p) return e;
            if (p == Prim.BOOLEAN || from == Prim.BOOLEAN) throw error(c, "cannot cast between boolean and numbers: " + c);
            if (from.floating() && p.integral()) return new Expr(paren(target.floatToIntegral(strip(e.code), p)), p);
            return new Expr("((" + target.type(p) + ") " + e.code + ")", p);
        }

        /** {@code e} converted to {@code t} as an assignment would (explicitly, so overloaded OpenCL builtins see the right type). */
        Expr convert(Expr e, Prim t, Tree site) {
            if (e.type == t) return e;
            if (e.type == Prim.INT && t.floating() && e.code.matches("\\d+")) {
                return new Expr(e.code + (t == Prim.FLOAT ? ".0f" : ".0"), t); // 0 -> 0.0f
            }
            if (!(e.type instanceof Prim from) || from == Prim.VOID) {
                throw error(site == null ? method : site, "a " + t + " value is expected, not " + e.type);
            }
            if (from == Prim.BOOLEAN || t == Prim.BOOLEAN) throw error(site == null ? method : site, "a " + t + " value is expected, not " + from);
            if (from.floating() && t.integral()) return new Expr(paren(target.floatToIntegral(strip(e.code), t)), t);
            return new Expr("((" + target.type(t) + ") " + e.code + ")", t);
        }

        String typeList(List<Expr> args) {
            List<String> s = new ArrayList<>();
            for (Expr a : args) s.add(a.type.toString());
            return String.join(", ", s);
        }
    }

    /** Java's widening primitive conversions (method invocation). */
    private static boolean widens(Prim from, Prim to) {
        if (from == to) return true;
        return switch (from) {
            case BYTE -> to == Prim.SHORT || to == Prim.INT || to == Prim.LONG || to == Prim.FLOAT || to == Prim.DOUBLE;
            case SHORT, CHAR -> to == Prim.INT || to == Prim.LONG || to == Prim.FLOAT || to == Prim.DOUBLE;
            case INT -> to == Prim.LONG || to == Prim.FLOAT || to == Prim.DOUBLE;
            case LONG -> to == Prim.FLOAT || to == Prim.DOUBLE;
            case FLOAT -> to == Prim.DOUBLE;
            default -> false;
        };
    }

    /** The type a declared Java type denotes in kernels. */
    Type resolveType(SourceUnit unit, Tree t) {
        return switch (t) {
            case PrimitiveTypeTree p -> {
                Prim prim = Prim.named(p.getPrimitiveTypeKind().name());
                if (prim == null) throw unit.error(t, "unsupported type " + t);
                yield prim;
            }
            case ArrayTypeTree a -> {
                if (!(resolveType(unit, a.getType()) instanceof Prim p) || p == Prim.VOID) throw unit.error(t, "only one-dimensional arrays of primitives are supported in kernels: " + t);
                yield new Array(p, Space.PRIVATE, -1);
            }
            case AnnotatedTypeTree a -> resolveType(unit, a.getUnderlyingType());
            case IdentifierTree id -> named(unit, t, SourceUnit.simpleName(id));
            case MemberSelectTree ms -> named(unit, t, SourceUnit.simpleName(ms));
            default -> throw unit.error(t, "type " + t + " is not supported in kernels");
        };
    }

    private static Type named(SourceUnit unit, Tree t, String name) {
        Buffer b = Buffer.named(name);
        if (b != null) return b;
        if (name.equals(KernelContext.class.getSimpleName())) return Context.INSTANCE;
        if (name.equals("String")) throw unit.error(t, "strings are not supported in kernels");
        throw unit.error(t, "type " + name + " is not supported in kernels (primitives, primitive arrays, buffers and KernelContext are)");
    }
}
