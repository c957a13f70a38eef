package polar.tornado.graph;

import java.util.ArrayList;
import java.util.List;

/** A launch of a Java kernel over a grid, with its arguments in the kernel's parameter order. */
public record KernelTask(KernelRef kernel, Grid grid, List<Arg<?>> args) implements Task {
    public KernelTask {
        args = List.copyOf(args);
        Class<?>[] params = kernel.argumentTypes();
        if (params.length != args.size()) {
            throw new IllegalArgumentException(kernel + " takes " + params.length + " arguments, given " + args.size());
        }
        for (int i = 0; i < params.length; i++) {
            Arg<?> a = args.get(i);
            Class<?> p = params[i];
            boolean ok = switch (a) {
                case Buffer<?> b -> b.type().arrayClass() == p;
                case Arg.Scalar<?> s -> (p == int.class && s.value() instanceof Integer)
                        || (p == float.class && s.value() instanceof Float && !s.specialised());
            };
            if (!ok) throw new IllegalArgumentException(kernel + " argument " + i + " must be " + p.getSimpleName() + ", given " + a);
        }
    }

    @Override
    public List<Buffer<?>> buffers() {
        List<Buffer<?>> r = new ArrayList<>();
        for (Arg<?> a : args) if (a instanceof Buffer<?> b) r.add(b);
        return r;
    }

    @Override
    public String toString() { return kernel + " " + grid + " " + args; }
}
