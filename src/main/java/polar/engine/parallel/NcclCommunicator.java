package polar.engine.parallel;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import polar.runtime.cuda.CudaBackend;
import polar.runtime.cuda.CudaBuffer;
import polar.runtime.cuda.CudaDriver;
import polar.runtime.nccl.Nccl;
import polar.tornado.graph.Buffer;
import polar.tornado.runtime.Backend;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;

/**
 * A rank of an NCCL communicator over the GPUs of this host, one {@link CudaBackend} per rank.
 * An all-reduce of a device buffer is enqueued with {@code ncclAllReduce} on the backend's own
 * stream ({@link CudaBackend#stream()}), in order with the step's kernels and without a host wait,
 * so {@link RankBackend} can capture a whole step, all-reduces included, as one CUDA graph (NCCL
 * supports stream capture). Host-memory sums and {@link #barrier()} wait for the stream.
 */
public final class NcclCommunicator implements Communicator {
    private final Nccl nccl;
    private final CudaDriver driver;
    private final CudaBackend backend;
    private final MemorySegment comm;
    private final int rank, size;
    private final int device;
    private final MemorySegment context;
    private final Buffer<FloatArray> token;
    private volatile Throwable failure;
    private boolean closed;

    private NcclCommunicator(Nccl nccl, CudaBackend backend, MemorySegment comm, int rank, int size) {
        this.nccl = nccl;
        this.driver = CudaDriver.get();
        this.backend = backend;
        this.comm = comm;
        this.rank = rank;
        this.size = size;
        this.device = driver.device(backend.deviceIndex());
        this.context = driver.primaryContextRetain(device);
        this.token = backend.allocate(ElementType.F32, 1, "nccl.barrier");
    }

    /**
     * One communicator per backend, all in this process ({@code ncclCommInitAll}); rank {@code r} is
     * {@code backends.get(r)}, whose devices must differ. Needs {@code NCCL_NVLS_ENABLE=0} in the environment.
     */
    public static List<Communicator> group(List<CudaBackend> backends) {
        Nccl nccl = Nccl.get();
        int[] devices = backends.stream().mapToInt(CudaBackend::deviceIndex).toArray();
        if (java.util.Arrays.stream(devices).distinct().count() != devices.length) {
            throw new IllegalArgumentException("NCCL ranks need distinct GPUs, given devices " + java.util.Arrays.toString(devices));
        }
        MemorySegment[] comms = nccl.commInitAll(devices);
        List<Communicator> result = new ArrayList<>();
        try {
            for (int r = 0; r < comms.length; r++) result.add(new NcclCommunicator(nccl, backends.get(r), comms[r], r, comms.length));
        } catch (RuntimeException e) {
            result.forEach(Communicator::close);
            for (int r = result.size(); r < comms.length; r++) nccl.commDestroy(comms[r]);
            throw e;
        }
        return List.copyOf(result);
    }

    @Override
    public int rank() { return rank; }

    @Override
    public int size() { return size; }

    /** The GPU rank's backend. */
    public CudaBackend backend() { return backend; }

    /** Sums on the GPUs, enqueued on the stream of {@code owner}, which must be this rank's backend. */
    @Override
    public void allReduceSum(Backend owner, Buffer<?> buffer, long offset, long count) {
        checkUsable();
        if (owner != backend) throw new IllegalArgumentException(this + " sums buffers of its own backend " + backend + ", not of " + owner);
        if (!(buffer instanceof CudaBuffer<?> cuda)) throw new IllegalArgumentException("NCCL sums CUDA device memory; " + buffer + " is not a CUDA buffer");
        if (offset < 0 || count < 0 || offset + count > buffer.length()) {
            throw new IllegalArgumentException("all-reduce of " + count + " elements at " + offset + " is outside " + buffer);
        }
        long at = cuda.address(offset);
        nccl.allReduce(at, at, count, Nccl.DataType.of(buffer.type()), comm, backend.stream().handle());
    }

    @Override
    public boolean enqueuesOn(Backend owner) {
        return owner == backend;
    }

    /** Stages host memory through a temporary device buffer of the rank's backend (the read waits for the sum). */
    @Override
    public void allReduceSum(MemorySegment data, ElementType<?> type, long count) {
        Buffer<?> staged = backend.allocate(type, Math.max(1, count), "nccl.staging");
        try {
            backend.write(staged, 0, data, count);
            allReduceSum(backend, staged, 0, count);
            backend.read(staged, 0, data, count);
        } finally {
            backend.free(staged);
        }
    }

    /** An all-reduce of one value, waited for: returns when every rank has reached it. */
    @Override
    public void barrier() {
        allReduceSum(backend, token, 0, 1);
        backend.synchronize();
    }

    @Override
    public synchronized void abort(Throwable cause) {
        if (failure != null || closed) return;
        failure = cause;
        nccl.commAbort(comm);
    }

    private void checkUsable() {
        if (closed) throw new IllegalStateException(this + " was closed");
        Throwable f = failure;
        if (f != null) throw new CommunicatorException(this + " was aborted: " + f, f);
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        driver.setCurrent(context);
        try {
            if (failure == null) nccl.commDestroy(comm);
        } finally {
            backend.free(token);
            driver.primaryContextRelease(device);
        }
    }

    @Override
    public String toString() { return "NCCL rank " + rank + " of " + size + " on cuda:" + backend.deviceIndex(); }
}
