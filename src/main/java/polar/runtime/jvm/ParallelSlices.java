package polar.runtime.jvm;

import java.io.IOException;
import java.io.InputStream;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.ClassModel;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.CodeElement;
import java.lang.classfile.CodeModel;
import java.lang.classfile.CodeTransform;
import java.lang.classfile.Label;
import java.lang.classfile.MethodModel;
import java.lang.classfile.Opcode;
import java.lang.classfile.TypeKind;
import java.lang.classfile.instruction.BranchInstruction;
import java.lang.classfile.instruction.LabelTarget;
import java.lang.classfile.instruction.LineNumber;
import java.lang.classfile.instruction.LocalVariable;
import java.lang.classfile.instruction.StoreInstruction;
import java.lang.constant.ClassDesc;
import java.lang.constant.ConstantDescs;
import java.lang.constant.MethodTypeDesc;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import polar.tornado.compiler.KernelCompiler;
import polar.tornado.compiler.ParallelLoop;
import polar.tornado.graph.KernelRef;

/**
 * Splits the outermost {@code @Parallel} loops of a kernel over the cores. The kernel's bytecode
 * is copied with each such loop {@code for (int i = start; i < bound; i++)} turned into
 * {@code for (int i = max(start, from); i < min(bound, to); i++)}, where {@code [from, to)} is the
 * calling thread's slice (see {@link #run}); slices partition all ints, so every iteration runs
 * exactly once, whatever the grid. Iterations are independent (the {@code @Parallel} contract),
 * so the results are those of the serial loop, bit for bit.
 *
 * <p>The loops are found from the kernel's source (their variable and line) in the bytecode's
 * debug tables (javac's default {@code -g}); a kernel compiled without them, or whose loop does not
 * have javac's usual shape, is not split ({@link #sliced} returns null) and runs serially.
 */
public final class ParallelSlices {
    private ParallelSlices() {}

    /** The calling thread's slice {@code {from, to}}; the whole int range outside {@link #run}. */
    private static final ThreadLocal<int[]> SLICE = ThreadLocal.withInitial(() -> new int[] {Integer.MIN_VALUE, Integer.MAX_VALUE});

    /** Called by the transformed loop's initialisation: its first iteration in this thread's slice. */
    public static int from(int start) {
        return Math.max(start, SLICE.get()[0]);
    }

    /** Called once per transformed loop entry: the end of this thread's slice (the loop bound is capped by it). */
    public static int to() {
        return SLICE.get()[1];
    }

    private static final MethodTypeDesc INT_TO_INT = MethodTypeDesc.of(ConstantDescs.CD_int, ConstantDescs.CD_int);
    private static final MethodTypeDesc TO_INT = MethodTypeDesc.of(ConstantDescs.CD_int);
    private static final MethodTypeDesc MIN = MethodTypeDesc.of(ConstantDescs.CD_int, ConstantDescs.CD_int, ConstantDescs.CD_int);
    private static final ClassDesc SELF = ClassDesc.of(ParallelSlices.class.getName());
    private static final ClassDesc MATH = ClassDesc.of(Math.class.getName());

    private record Sliced(MethodHandle handle) {}

    private static final Map<KernelRef, Sliced> CACHE = new ConcurrentHashMap<>();

    /** A handle on a copy of {@code kernel} whose outermost {@code @Parallel} loops run only this thread's slice, or null if it cannot be made. */
    static MethodHandle sliced(KernelRef kernel) {
        return CACHE.computeIfAbsent(kernel, k -> new Sliced(transform(k))).handle();
    }

    /** Sets this thread's slice to {@code [from, to)} for the duration of {@code body}. */
    static void inSlice(int from, int to, Runnable body) {
        int[] slice = SLICE.get();
        int oldFrom = slice[0], oldTo = slice[1];
        slice[0] = from;
        slice[1] = to;
        try {
            body.run();
        } finally {
            slice[0] = oldFrom;
            slice[1] = oldTo;
        }
    }

    private static MethodHandle transform(KernelRef kernel) {
        try {
            List<ParallelLoop> loops = KernelCompiler.outerParallelLoops(kernel);
            if (loops.isEmpty()) return null;
            Class<?> owner = kernel.owner();
            Method method = kernel.method();
            byte[] bytes;
            try (InputStream in = owner.getResourceAsStream(owner.getName().substring(owner.getName().lastIndexOf('.') + 1) + ".class")) {
                if (in == null) return null;
                bytes = in.readAllBytes();
            }
            ClassFile cf = ClassFile.of(ClassFile.ClassHierarchyResolverOption.of(
                    ClassHierarchyResolver.ofResourceParsing(owner.getClassLoader()).orElse(ClassHierarchyResolver.defaultResolver())));
            ClassModel model = cf.parse(bytes);
            String descriptor = MethodType.methodType(method.getReturnType(), method.getParameterTypes()).toMethodDescriptorString();
            MethodModel target = null;
            for (MethodModel m : model.methods()) {
                if (m.methodName().equalsString(method.getName()) && m.methodType().equalsString(descriptor)) target = m;
            }
            if (target == null || target.code().isEmpty()) return null;
            Map<Integer, Site> sites = sites(target.code().get(), loops);
            if (sites == null) return null;
            byte[] transformed = cf.transformClass(model, ClassTransform.transformingMethodBodies(
                    m -> m.methodName().equalsString(method.getName()) && m.methodType().equalsString(descriptor),
                    CodeTransform.ofStateful(() -> new SliceTransform(sites))));
            MethodHandles.Lookup lookup = MethodHandles.privateLookupIn(owner, MethodHandles.lookup())
                    .defineHiddenClass(transformed, true, MethodHandles.Lookup.ClassOption.NESTMATE);
            return lookup.findStatic(lookup.lookupClass(), method.getName(), MethodType.methodType(method.getReturnType(), method.getParameterTypes()));
        } catch (IOException | ReflectiveOperationException | RuntimeException | LinkageError e) {
            return null; // the serial loop is always correct
        }
    }

    /** What to insert before element {@code index}: at a loop's initial store, or at its exit test. */
    private enum Kind { INIT, TEST }

    private record Site(Kind kind, int loop) {}

    /**
     * Finds each loop's initial {@code istore} (on the loop's line, right before the variable's
     * scope starts) and its exit test (the first branch after it, an {@code if_icmpge} to the end
     * of the variable's scope). Null unless every loop is found exactly once.
     */
    private static Map<Integer, Site> sites(CodeModel code, List<ParallelLoop> loops) {
        List<CodeElement> elements = code.elementList();
        Map<Label, Integer> labelAt = new HashMap<>();
        int[] lineAt = new int[elements.size()];
        int line = 0;
        List<LocalVariable> variables = new ArrayList<>();
        for (int i = 0; i < elements.size(); i++) {
            switch (elements.get(i)) {
                case LabelTarget t -> labelAt.put(t.label(), i);
                case LineNumber n -> line = n.line();
                case LocalVariable v -> variables.add(v);
                default -> { }
            }
            lineAt[i] = line;
        }
        Map<Integer, Site> sites = new HashMap<>();
        for (int l = 0; l < loops.size(); l++) {
            ParallelLoop loop = loops.get(l);
            int found = 0;
            for (LocalVariable v : variables) {
                if (!v.name().equalsString(loop.variable()) || !v.typeSymbol().equals(ConstantDescs.CD_int)) continue;
                Integer start = labelAt.get(v.startScope());
                if (start == null) continue;
                int store = start - 1;
                while (store >= 0 && !(elements.get(store) instanceof java.lang.classfile.Instruction)) store--;
                if (store < 0 || !(elements.get(store) instanceof StoreInstruction s) || s.slot() != v.slot()
                        || s.typeKind() != TypeKind.INT || lineAt[store] != loop.line()) continue;
                int test = start;
                while (test < elements.size() && !(elements.get(test) instanceof BranchInstruction)) test++;
                if (test == elements.size() || !(elements.get(test) instanceof BranchInstruction b)
                        || b.opcode() != Opcode.IF_ICMPGE || !b.target().equals(v.endScope())) {
                    return null;
                }
                sites.put(store, new Site(Kind.INIT, l));
                sites.put(test, new Site(Kind.TEST, l));
                found++;
            }
            if (found != 1) return null;
        }
        return sites;
    }

    /** Inserts the slice bounds at the sites (elements counted in stream order, as {@link #sites} indexed them). */
    private static final class SliceTransform implements CodeTransform {
        private final Map<Integer, Site> sites;
        private final Map<Integer, Integer> toSlots = new HashMap<>();
        private int index;

        SliceTransform(Map<Integer, Site> sites) {
            this.sites = sites;
        }

        @Override
        public void accept(java.lang.classfile.CodeBuilder b, CodeElement e) {
            Site site = sites.get(index++);
            if (site != null) {
                switch (site.kind()) {
                    case INIT -> { // stack: start -> max(start, from); the slice's end kept in a new local
                        b.invokestatic(SELF, "from", INT_TO_INT);
                        int slot = b.allocateLocal(TypeKind.INT);
                        toSlots.put(site.loop(), slot);
                        b.invokestatic(SELF, "to", TO_INT);
                        b.istore(slot);
                    }
                    case TEST -> { // stack: i, bound -> i, min(bound, to)
                        b.iload(toSlots.get(site.loop()));
                        b.invokestatic(MATH, "min", MIN);
                    }
                }
            }
            b.with(e);
        }
    }
}
