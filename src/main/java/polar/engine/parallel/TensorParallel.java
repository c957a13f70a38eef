package polar.engine.parallel;

import java.util.ArrayList;
import java.util.List;
import polar.engine.BatchEngine;
import polar.engine.Engine;
import polar.engine.EngineOptions;
import polar.engine.KvCache;
import polar.engine.Sequence;
import polar.model.Model;
import polar.model.ModelConfig;
import polar.runtime.Backends;
import polar.runtime.cuda.CudaBackend;
import polar.runtime.nccl.Nccl;
import polar.tornado.runtime.Backend;

/**
 * Opens an engine over {@code N} devices of one backend, as the commands that run a model do
 * ({@code --tensor-parallel N}): one rank is an ordinary {@link Engine}; several are a
 * {@link TensorParallelEngine} whose ranks sum their blocks through NCCL on {@code cuda} (devices
 * {@code device .. device + N - 1}), or through a {@link LocalCommunicator} on {@code jvm} and
 * {@code opencl}, where the ranks are simulated on one device (same numbers, for tests and CI).
 * The engine owns what it opened: closing it closes the communicators and the backends too.
 */
public final class TensorParallel {
    private TensorParallel() {}

    /** The degrees the command line offers. */
    public static final List<Integer> DEGREES = List.of(1, 2, 4, 8);

    /**
     * {@code model} over {@code ranks} devices of backend {@code backendName} ({@code jvm}, {@code opencl},
     * {@code cuda} or {@link Backends#AUTO}) from device index {@code device}.
     */
    public static BatchEngine open(String backendName, int device, int ranks, Model model, EngineOptions options) {
        Sharding.check(model.config(), ranks); // before any device is opened
        if (ranks > 1 && options.sparsity() != null && options.sparsity().oracle()) {
            throw new IllegalArgumentException("oracle head selection (--oracle) runs on one rank only; drop --tensor-parallel " + ranks);
        }
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            Backend first = Backends.open(backendName, device);
            opened.add(first);
            if (ranks == 1) return new Owning(new Engine(first, model, options), first.toString(), opened);
            List<Backend> backends = new ArrayList<>(List.of(first));
            boolean cuda = first instanceof CudaBackend;
            if (cuda) checkCuda(device, ranks);
            for (int r = 1; r < ranks; r++) {
                Backend b = Backends.open(first.name(), cuda ? device + r : device);
                opened.add(b);
                backends.add(b);
            }
            List<Communicator> group = cuda
                    ? NcclCommunicator.group(backends.stream().map(b -> (CudaBackend) b).toList())
                    : LocalCommunicator.group(ranks);
            opened.addAll(0, group); // closed before the backends
            TensorParallelEngine engine = new TensorParallelEngine(backends, group, model, options);
            String where = cuda ? ranks + " CUDA devices " + device + ".." + (device + ranks - 1) + " (NCCL; " + first + ", ...)"
                    : ranks + " simulated ranks on " + first;
            return new Owning(engine, "tensor-parallel over " + where, opened);
        } catch (RuntimeException | Error e) {
            closeAll(opened, e);
            throw e;
        }
    }

    /** Fails, naming what is missing, unless this machine has the devices and NCCL for {@code ranks} CUDA ranks. */
    private static void checkCuda(int device, int ranks) {
        int count = CudaBackend.deviceCount();
        if (device + ranks > count) {
            throw new IllegalArgumentException("tensor parallelism over " + ranks + " ranks from CUDA device " + device + " needs devices " + device + ".."
                    + (device + ranks - 1) + ", but this machine has " + count + " CUDA device" + (count == 1 ? "" : "s"));
        }
        if (!Nccl.available()) {
            throw new IllegalStateException("tensor parallelism over " + ranks + " CUDA devices needs NCCL: " + Nccl.unavailableReason());
        }
        Nccl.requireNvlsOff(System.getenv());
    }

    /** Closes {@code resources} in order, attaching any failure to {@code failure}. */
    private static void closeAll(List<AutoCloseable> resources, Throwable failure) {
        for (AutoCloseable c : resources) {
            try {
                c.close();
            } catch (Exception e) {
                failure.addSuppressed(e);
            }
        }
    }

    /** An engine with what it runs on: closing it closes the engine, then the communicators and backends. */
    private static final class Owning implements BatchEngine {
        private final BatchEngine engine;
        private final String description;
        private final List<AutoCloseable> resources;

        Owning(BatchEngine engine, String description, List<AutoCloseable> resources) {
            this.engine = engine;
            this.description = description;
            this.resources = List.copyOf(resources);
        }

        @Override public ModelConfig config() { return engine.config(); }
        @Override public int maxSequences() { return engine.maxSequences(); }
        @Override public int maxContext() { return engine.maxContext(); }
        @Override public KvCache cache() { return engine.cache(); }
        @Override public Sequence newSequence() { return engine.newSequence(); }
        @Override public void release(Sequence s) { engine.release(s); }
        @Override public float[][] prefill(List<Sequence> sequences, List<int[]> prompts) { return engine.prefill(sequences, prompts); }
        @Override public float[][] decode(List<Sequence> sequences, int[] tokens) { return engine.decode(sequences, tokens); }
        @Override public float[][] step(List<Sequence> sequences, List<int[]> tokens) { return engine.step(sequences, tokens); }
        @Override public long compileNanos() { return engine.compileNanos(); }

        @Override
        public void close() {
            RuntimeException failure = null;
            try {
                engine.close();
            } catch (RuntimeException e) {
                failure = e;
            }
            for (AutoCloseable c : resources) {
                try {
                    c.close();
                } catch (Exception e) {
                    if (failure == null) failure = e instanceof RuntimeException re ? re : new IllegalStateException("closing " + c + ": " + e, e);
                    else failure.addSuppressed(e);
                }
            }
            if (failure != null) throw failure;
        }

        /** Where the engine runs, e.g. {@code cuda:0 NVIDIA H100 ...} or {@code tensor-parallel over 2 simulated ranks on jvm ...}. */
        @Override
        public String toString() { return description; }
    }
}
