package polar.engine.parallel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import polar.tornado.graph.Buffer;
import polar.tornado.runtime.Backend;
import polar.tornado.types.ElementType;

/**
 * One rank's end of a group of {@link #size()} tensor-parallel ranks. Collectives are called by
 * every rank of the group, in the same order (each from its own thread or process), and return
 * when this rank's part is done. Sums are of {@link ElementType#F32} or {@link ElementType#F16} values.
 */
public interface Communicator extends AutoCloseable {

    /** This rank, {@code 0..size()-1}. */
    int rank();

    /** Ranks in the group. */
    int size();

    /**
     * Sums the first {@code count} elements of {@code data} (host memory) over all ranks, in place:
     * afterwards every rank holds the same sums. {@code data} must be readable from other threads
     * (not from a confined arena): the ranks of a {@link LocalCommunicator} read each other's.
     */
    void allReduceSum(MemorySegment data, ElementType<?> type, long count);

    /**
     * Sums {@code count} elements of {@code buffer} from element {@code offset} over all ranks, in
     * place, after the work already queued on {@code backend} (which owns the buffer) and before the
     * work queued after it (in stream order; see {@link #enqueuesOn}). This default
     * stages the values through host memory ({@link Backend#read}, {@link #allReduceSum(MemorySegment,
     * ElementType, long)}, {@link Backend#write}), which any backend supports; NCCL sums device memory directly.
     */
    default void allReduceSum(Backend backend, Buffer<?> buffer, long offset, long count) {
        try (Arena arena = Arena.ofShared()) { // other ranks of a LocalCommunicator read it from their threads
            MemorySegment host = arena.allocate(Math.max(1, count * buffer.type().bytes()), 64);
            backend.read(buffer, offset, host, count);
            allReduceSum(host, buffer.type(), count);
            backend.write(buffer, offset, host, count);
        }
    }

    /**
     * Whether {@link #allReduceSum(Backend, Buffer, long, long)} on {@code backend} only enqueues the
     * sum on the backend's stream, in order with its work and without waiting for it: then the host
     * never blocks between blocks, and the backend's {@link Backend#capture} may record the sums in
     * the same device graph as the step. False here: the default stages through host memory.
     */
    default boolean enqueuesOn(Backend backend) {
        return false;
    }

    /** Returns once every rank has called it. */
    void barrier();

    /**
     * Fails this rank's collectives, waiting now and later, with {@link CommunicatorException} (a
     * {@link LocalCommunicator} fails the whole group; an NCCL communicator only its own rank, so the
     * caller aborts every rank's, as {@link TensorParallelEngine} does when a rank fails, lest the
     * others wait for it forever).
     */
    void abort(Throwable cause);

    @Override
    default void close() {}
}
