package polar.runtime;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.IntFunction;
import polar.runtime.cuda.CudaBackend;
import polar.runtime.jvm.JvmBackend;
import polar.runtime.opencl.OpenClBackend;
import polar.tornado.runtime.Backend;

/**
 * Opens a backend by name ({@code jvm}, {@code cuda}, {@code opencl}, or {@link #AUTO}) and device
 * index. {@code auto} picks CUDA if there is a CUDA device, else an OpenCL GPU, else the JVM.
 */
public final class Backends {
    private Backends() {}

    /** The name that lets Polar choose the device. */
    public static final String AUTO = "auto";

    /**
     * One kind of backend.
     *
     * @param available whether it can run on this machine (its library loads and it has a device)
     * @param preferred whether {@code auto} may pick it: OpenCL only on a GPU, since on a CPU the
     *                  JVM's own kernels serve as well
     * @param open      opens the device with the given index
     */
    public record Provider(String name, BooleanSupplier available, BooleanSupplier preferred, IntFunction<Backend> open) {}

    /** In {@code auto}'s order of preference: cuda, opencl, jvm (the GPU backends are added where they are merged). */
    private static final List<Provider> PROVIDERS = List.of(
            new Provider("cuda", CudaBackend::isAvailable, () -> true, CudaBackend::new),
            new Provider(OpenClBackend.NAME, OpenClBackend::available, OpenClBackend::gpuAvailable, OpenClBackend::new),
            new Provider(JvmBackend.NAME, () -> true, () -> true, device -> {
                if (device != 0) throw new IllegalArgumentException("the " + JvmBackend.NAME + " backend has one device (0), not " + device);
                return new JvmBackend();
            }));

    /** Opens device 0 of backend {@code name}. */
    public static Backend open(String name) {
        return open(name, 0);
    }

    /** Opens device {@code device} of backend {@code name} ({@code jvm}, {@code cuda}, {@code opencl} or {@code auto}). */
    public static Backend open(String name, int device) {
        if (name.equals(AUTO)) {
            for (Provider p : PROVIDERS) {
                if (p.available().getAsBoolean() && p.preferred().getAsBoolean()) return p.open().apply(device);
            }
            throw new IllegalStateException("no backend is available"); // unreachable while the JVM is listed
        }
        for (Provider p : PROVIDERS) {
            if (p.name().equals(name)) {
                if (!p.available().getAsBoolean()) {
                    throw new IllegalArgumentException("backend " + name + " is not available on this machine; available: " + available());
                }
                return p.open().apply(device);
            }
        }
        throw new IllegalArgumentException("unknown backend '" + name + "'; known: " + names() + " and " + AUTO);
    }

    /** Names of the backends usable on this machine, in {@code auto}'s order of preference. */
    public static List<String> available() {
        List<String> r = new ArrayList<>();
        for (Provider p : PROVIDERS) if (p.available().getAsBoolean()) r.add(p.name());
        return r;
    }

    /** Names of every backend Polar knows. */
    public static List<String> names() {
        return PROVIDERS.stream().map(Provider::name).toList();
    }
}
