package polar.tornado.compiler;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import polar.tornado.graph.Arg;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.KernelRef;
import polar.tornado.graph.KernelTask;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;

/** Kernel tasks over placeholder buffers, for translating several kernels into one unit. */
final class TestTasks {
    private TestTasks() {}

    private static final class Placeholder<T extends DeviceArray> extends Buffer<T> {
        Placeholder(ElementType<T> type) { super(type, 64, "placeholder " + type); }
    }

    /** A task of {@code kernel} with placeholder arguments; ints listed in {@code constants} are specialised. */
    static KernelTask task(KernelRef kernel, Map<Integer, Integer> constants) {
        List<Arg<?>> args = new ArrayList<>();
        Class<?>[] types = kernel.argumentTypes();
        for (int i = 0; i < types.length; i++) {
            Class<?> t = types[i];
            if (t == int.class) args.add(constants.containsKey(i) ? Arg.constant(constants.get(i)) : Arg.i32(1));
            else if (t == float.class) args.add(Arg.f32(1f));
            else args.add(new Placeholder<>(ElementType.of(t)));
        }
        return new KernelTask(kernel, kernel.usesContext() ? Grid.groups(1, 256) : Grid.of(256), args);
    }
}
