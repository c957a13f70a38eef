package polar.bench;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import polar.runtime.cuda.CudaBackend;
import polar.runtime.cuda.CudaDriver;
import polar.runtime.cuda.Nvrtc;

/**
 * Which way of calling {@code cuLaunchKernel} through FFM costs the host least: the backend's
 * own path against a constant method handle, raw addresses instead of segments, and a
 * "critical" downcall (no thread-state transition). Variants alternate within one JVM on one
 * stream; host wall time per launch, medians. Compare with the native C++ baseline
 * ({@code benchmarks/gpu/launch_baseline.cu}) run in the same device call.
 */
public final class LaunchPathBench {
    private static final int FEW = 100, MANY = 2000, REPEATS = 30;

    private static final MethodHandle SEGMENTS, LONGS, LONGS_CRITICAL;

    static {
        Linker linker = Linker.nativeLinker();
        MemorySegment symbol = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global()).find("cuLaunchKernel").orElseThrow();
        FunctionDescriptor segments = FunctionDescriptor.of(JAVA_INT, ADDRESS,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        FunctionDescriptor longs = FunctionDescriptor.of(JAVA_INT, JAVA_LONG,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG);
        SEGMENTS = linker.downcallHandle(symbol, segments);
        LONGS = linker.downcallHandle(symbol, longs);
        LONGS_CRITICAL = linker.downcallHandle(symbol, longs, Linker.Option.critical(false));
    }

    private interface Launcher {
        void launch() throws Throwable;
    }

    public static void main(String[] args) throws Throwable {
        try (CudaBackend cuda = new CudaBackend(0); Arena arena = Arena.ofShared()) {
            CudaDriver driver = CudaDriver.get();
            Nvrtc.Image image = Nvrtc.get().compile("extern \"C\" __global__ void empty(int* p, int n) {}", "empty", cuda.computeCapability() / 10,
                    cuda.computeCapability() % 10, List.of());
            MemorySegment bytes = arena.allocate(image.bytes().length + 1L);
            MemorySegment.copy(image.bytes(), 0, bytes, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, image.bytes().length);
            cuda.synchronize(); // makes the backend's context current on this thread
            MemorySegment function = driver.moduleGetFunction(driver.moduleLoadData(bytes, "empty"), "empty");
            MemorySegment stream = driver.streamCreate(CudaDriver.STREAM_NON_BLOCKING);
            long buffer = driver.memAlloc(4);
            MemorySegment values = arena.allocate(16, 8);
            values.set(JAVA_LONG, 0, buffer);
            values.set(JAVA_INT, 8, 1);
            MemorySegment params = arena.allocate(ADDRESS, 2);
            params.setAtIndex(ADDRESS, 0, values);
            params.setAtIndex(ADDRESS, 1, values.asSlice(8));
            long f = function.address(), s = stream.address(), p = params.address();

            String[] names = {"backend path (CudaDriver.launchKernel)", "constant handle, segment arguments", "constant handle, long addresses",
                    "constant handle, long addresses, critical"};
            Launcher[] launchers = {
                () -> driver.launchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, params, "empty"),
                () -> check((int) SEGMENTS.invokeExact(function, 1, 1, 1, 32, 1, 1, 0, stream, params, MemorySegment.NULL)),
                () -> check((int) LONGS.invokeExact(f, 1, 1, 1, 32, 1, 1, 0, s, p, 0L)),
                () -> check((int) LONGS_CRITICAL.invokeExact(f, 1, 1, 1, 32, 1, 1, 0, s, p, 0L)),
            };
            double[][] few = new double[launchers.length][REPEATS], many = new double[launchers.length][REPEATS];
            for (int rep = -10; rep < REPEATS; rep++) {
                for (int v = 0; v < launchers.length; v++) {
                    driver.streamSynchronize(stream);
                    long t0 = System.nanoTime();
                    for (int i = 0; i < FEW; i++) launchers[v].launch();
                    long t1 = System.nanoTime();
                    driver.streamSynchronize(stream);
                    long t2 = System.nanoTime();
                    for (int i = 0; i < MANY; i++) launchers[v].launch();
                    driver.streamSynchronize(stream);
                    long t3 = System.nanoTime();
                    if (rep >= 0) {
                        few[v][rep] = (t1 - t0) / 1e3 / FEW;
                        many[v][rep] = (t3 - t2) / 1e3 / MANY;
                    }
                }
            }
            System.out.println("LaunchPathBench (" + cuda.deviceName() + "), host us per launch, medians of " + REPEATS);
            for (int v = 0; v < launchers.length; v++) {
                System.out.printf(Locale.ROOT, "%-42s enqueue %d: %6.2f   enqueue+sync %d: %6.2f%n", names[v], FEW, median(few[v]), MANY, median(many[v]));
            }
            driver.memFree(buffer);
            driver.streamDestroy(stream);
        }
    }

    private static void check(int rc) {
        if (rc != 0) throw new IllegalStateException("cuLaunchKernel: " + rc);
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        return (v[(v.length - 1) / 2] + v[v.length / 2]) / 2;
    }
}
