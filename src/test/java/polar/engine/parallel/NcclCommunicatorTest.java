package polar.engine.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import polar.runtime.cuda.CudaBackend;
import polar.runtime.nccl.Nccl;
import polar.tornado.graph.Buffer;
import polar.tornado.runtime.Executable;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;

/**
 * The NCCL communicator over every GPU of this host (one is enough): an all-reduce enqueued on the
 * backend's stream sums in stream order, also when captured into a CUDA graph and replayed on fresh
 * inputs; host-memory sums and the barrier. Each rank on its own thread, as the engine runs them.
 * Skips without a CUDA GPU, libnccl or {@code NCCL_NVLS_ENABLE=0}.
 */
class NcclCommunicatorTest {
    static final int COUNT = 4099;

    @Test
    void sumsOnTheBackendsStreamInsideACapturedGraph() throws Exception {
        assumeTrue(CudaBackend.deviceCount() >= 1, "no CUDA GPU");
        assumeTrue(Nccl.available(), Nccl::unavailableReason);
        assumeTrue("0".equals(System.getenv(Nccl.NVLS_VARIABLE)), "run with NCCL_NVLS_ENABLE=0");
        int n = CudaBackend.deviceCount();
        List<CudaBackend> gpus = IntStream.range(0, n).mapToObj(CudaBackend::new).toList();
        List<Communicator> group = NcclCommunicator.group(gpus);
        ExecutorService threads = Executors.newFixedThreadPool(n);
        try {
            List<Future<?>> ranks = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                ranks.add(threads.submit(() -> {
                    runRank(gpus.get(rank), group.get(rank), n);
                    return null;
                }));
            }
            for (Future<?> f : ranks) f.get();
        } finally {
            threads.shutdownNow();
            group.forEach(Communicator::close);
            gpus.forEach(CudaBackend::close);
        }
    }

    /** Rank {@code r} holds {@code (r + 1) * (i + 1) * scale} at element i, so the sums are {@code n(n+1)/2 * (i + 1) * scale}. */
    private static void runRank(CudaBackend gpu, Communicator comm, int n) {
        assertTrue(comm.enqueuesOn(gpu), "NCCL sums on the backend's own stream");
        Buffer<FloatArray> x = gpu.allocate(ElementType.F32, COUNT, "x");
        comm.allReduceSum(gpu, x, 0, COUNT); // connects the peers outside any capture
        gpu.synchronize();
        fill(gpu, x, comm.rank(), 1f);
        comm.allReduceSum(gpu, x, 0, COUNT);
        check(gpu.read(x), n, 1f, "enqueued all-reduce, rank " + comm.rank());

        Executable graph = gpu.capture(() -> comm.allReduceSum(gpu, x, 0, COUNT));
        for (float scale : new float[] {2f, -3f}) {
            fill(gpu, x, comm.rank(), scale);
            graph.run();
            check(gpu.read(x), n, scale, "all-reduce replayed from a CUDA graph, rank " + comm.rank() + ", scale " + scale);
        }

        try (Arena arena = Arena.ofShared()) {
            MemorySegment host = arena.allocate(4L * COUNT, 64);
            for (int i = 0; i < COUNT; i++) host.setAtIndex(ValueLayout.JAVA_FLOAT, i, (comm.rank() + 1) * (i + 1) * 0.5f);
            comm.allReduceSum(host, ElementType.F32, COUNT);
            FloatArray sums = new FloatArray(COUNT);
            MemorySegment.copy(host, 0, sums.segment(), 0, 4L * COUNT);
            check(sums, n, 0.5f, "host-memory all-reduce, rank " + comm.rank());
        }
        comm.barrier();
        gpu.free(x);
    }

    private static void fill(CudaBackend gpu, Buffer<FloatArray> x, int rank, float scale) {
        FloatArray values = new FloatArray(COUNT);
        for (int i = 0; i < COUNT; i++) values.set(i, (rank + 1) * (i + 1) * scale);
        gpu.write(x, values);
    }

    private static void check(FloatArray sums, int n, float scale, String what) {
        float ranks = n * (n + 1) / 2f;
        for (int i = 0; i < COUNT; i++) assertEquals(ranks * (i + 1) * scale, sums.get(i), 1e-6f * Math.abs(ranks * (i + 1) * scale), what + ", element " + i);
    }
}
