package polar.tornado.graph;

import java.io.Serializable;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.SerializedLambda;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.Map;
import polar.tornado.KernelContext;

/**
 * A kernel: a static method of a kernel class, named by a method reference. The compiler reads
 * the method's Java source (shipped with the classes) and the JVM backend invokes the method.
 */
public final class KernelRef {
    private static final Map<Class<?>, KernelRef> CACHE = new ConcurrentHashMap<>();

    private final Method method;
    private final MethodHandle handle;

    private KernelRef(Method method) {
        if (!Modifier.isStatic(method.getModifiers())) {
            throw new IllegalArgumentException("kernel " + method + " must be a static method");
        }
        this.method = method;
        try {
            method.setAccessible(true);
            this.handle = MethodHandles.lookup().unreflect(method);
        } catch (IllegalAccessException | RuntimeException e) {
            throw new IllegalArgumentException("kernel " + method + " is not accessible", e);
        }
    }

    /** The kernel behind a method reference such as {@code Elementwise::add}. */
    public static KernelRef of(Serializable methodReference) {
        return CACHE.computeIfAbsent(methodReference.getClass(), c -> new KernelRef(resolve(methodReference)));
    }

    /** The kernel {@code owner.name}; the name must not be overloaded. */
    public static KernelRef of(Class<?> owner, String name) {
        Method found = null;
        for (Method m : owner.getDeclaredMethods()) {
            if (m.getName().equals(name)) {
                if (found != null) throw new IllegalArgumentException("kernel name " + owner.getName() + "." + name + " is overloaded");
                found = m;
            }
        }
        if (found == null) throw new IllegalArgumentException("no kernel " + owner.getName() + "." + name);
        return new KernelRef(found);
    }

    private static Method resolve(Serializable ref) {
        SerializedLambda lambda;
        try {
            Method writeReplace = ref.getClass().getDeclaredMethod("writeReplace");
            writeReplace.setAccessible(true);
            lambda = (SerializedLambda) writeReplace.invoke(ref);
        } catch (ReflectiveOperationException e) {
            throw new IllegalArgumentException("not a method reference: " + ref, e);
        }
        if (lambda.getImplMethodName().startsWith("lambda$")) {
            throw new IllegalArgumentException("a kernel must be a method reference (Class::method), not a lambda: " + lambda.getImplClass());
        }
        try {
            Class<?> owner = Class.forName(lambda.getImplClass().replace('/', '.'), false, ref.getClass().getClassLoader());
            MethodType type = MethodType.fromMethodDescriptorString(lambda.getImplMethodSignature(), owner.getClassLoader());
            return owner.getDeclaredMethod(lambda.getImplMethodName(), type.parameterArray());
        } catch (ReflectiveOperationException e) {
            throw new IllegalArgumentException("cannot resolve kernel " + lambda.getImplClass() + "." + lambda.getImplMethodName(), e);
        }
    }

    public Method method() { return method; }

    public Class<?> owner() { return method.getDeclaringClass(); }

    public String name() { return method.getName(); }

    /** Whether the first parameter is a {@link KernelContext}. */
    public boolean usesContext() {
        Class<?>[] p = method.getParameterTypes();
        return p.length > 0 && p[0] == KernelContext.class;
    }

    /** Parameter types without the leading {@link KernelContext}, if any. */
    public Class<?>[] argumentTypes() {
        Class<?>[] p = method.getParameterTypes();
        return usesContext() ? Arrays.copyOfRange(p, 1, p.length) : p;
    }

    /** Calls the kernel in this JVM (the context, if any, first). */
    public void invoke(Object... arguments) {
        try {
            handle.invokeWithArguments(arguments);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("kernel " + this + " failed", t);
        }
    }

    @Override
    public String toString() { return owner().getSimpleName() + "." + name(); }

    @Override
    public boolean equals(Object o) { return o instanceof KernelRef k && k.method.equals(method); }

    @Override
    public int hashCode() { return method.hashCode(); }
}
