package polar.engine.parallel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import polar.tornado.types.ElementType;

/**
 * The ranks of a group in this JVM, one thread each (tests, and tensor parallelism over several
 * in-process backends). An all-reduce sums in rank order in float64 and rounds once to the
 * element type, so every rank gets bit-identical, deterministic sums; each rank computes a
 * slice of the elements from everybody's memory, then copies the whole result back.
 */
public final class LocalCommunicator implements Communicator {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final Group group;
    private final int rank;

    private LocalCommunicator(Group group, int rank) {
        this.group = group;
        this.rank = rank;
    }

    /** The {@code size} ranks of a new group; a collective waits at most 10 minutes for the others. */
    public static List<Communicator> group(int size) {
        return group(size, Duration.ofMinutes(10));
    }

    /** The {@code size} ranks of a new group; a rank waiting longer than {@code timeout} for the others fails the group. */
    public static List<Communicator> group(int size, Duration timeout) {
        if (size < 1) throw new IllegalArgumentException("a group needs at least 1 rank, not " + size);
        Group g = new Group(size, timeout);
        List<Communicator> ranks = new ArrayList<>(size);
        for (int r = 0; r < size; r++) ranks.add(new LocalCommunicator(g, r));
        return List.copyOf(ranks);
    }

    @Override
    public int rank() { return rank; }

    @Override
    public int size() { return group.size; }

    @Override
    public void allReduceSum(MemorySegment data, ElementType<?> type, long count) {
        if (type != ElementType.F32 && type != ElementType.F16) throw new IllegalArgumentException("all-reduce sums f32 or f16 values, not " + type);
        if (count < 0 || data.byteSize() < count * type.bytes()) {
            throw new IllegalArgumentException("all-reduce of " + count + " " + type + " values over " + data.byteSize() + " bytes");
        }
        group.inputs[rank] = new Input(data, type, count);
        group.await(group.arrived, rank);
        if (group.mismatch != null) throw new CommunicatorException(group.mismatch, null);
        long from = count * rank / group.size, to = count * (rank + 1) / group.size;
        MemorySegment result = group.result;
        if (type == ElementType.F32) {
            for (long i = from; i < to; i++) {
                double sum = 0;
                for (Input in : group.inputs) sum += in.data.getAtIndex(F32, i);
                result.setAtIndex(F32, i, (float) sum);
            }
        } else {
            for (long i = from; i < to; i++) {
                double sum = 0;
                for (Input in : group.inputs) sum += Float.float16ToFloat(in.data.getAtIndex(F16, i));
                result.setAtIndex(F16, i, Float.floatToFloat16((float) sum));
            }
        }
        group.await(group.summed, rank);
        // The result stays valid until every rank has entered the next collective.
        MemorySegment.copy(result, 0, data, 0, count * type.bytes());
    }

    @Override
    public void barrier() {
        group.await(group.plain, rank);
    }

    @Override
    public void abort(Throwable cause) {
        group.fail(cause);
    }

    @Override
    public String toString() { return "local rank " + rank + " of " + group.size; }

    private record Input(MemorySegment data, ElementType<?> type, long count) {
        String describe() { return count + " " + type + " values"; }
    }

    /** What the ranks share; the barrier action of {@link #arrived} runs once per all-reduce, when all are in. */
    private static final class Group {
        final int size;
        final long timeoutNanos;
        final Input[] inputs;
        final CyclicBarrier arrived, summed, plain;
        /** Why the current all-reduce cannot run (ranks disagree), or null; set by the barrier action. */
        volatile String mismatch;
        volatile MemorySegment result = MemorySegment.NULL;
        volatile Throwable failure;

        Group(int size, Duration timeout) {
            this.size = size;
            this.timeoutNanos = timeout.toNanos();
            this.inputs = new Input[size];
            this.arrived = new CyclicBarrier(size, this::prepare);
            this.summed = new CyclicBarrier(size);
            this.plain = new CyclicBarrier(size);
        }

        /** Checks that every rank sums the same number and type of values, and sizes the result. */
        private void prepare() {
            Input first = inputs[0];
            StringBuilder disagree = new StringBuilder();
            for (int r = 1; r < size; r++) {
                if (inputs[r].count != first.count || inputs[r].type != first.type) {
                    disagree.append(", rank ").append(r).append(" ").append(inputs[r].describe());
                }
            }
            mismatch = disagree.isEmpty() ? null : "all-reduce: ranks disagree: rank 0 sums " + first.describe() + disagree;
            long bytes = first.count * first.type.bytes();
            if (mismatch == null && result.byteSize() < bytes) result = Arena.ofAuto().allocate(bytes, 64);
        }

        void await(CyclicBarrier barrier, int rank) {
            Throwable failed = failure;
            if (failed != null) throw new CommunicatorException("rank " + rank + ": the group was aborted: " + failed, failed);
            try {
                barrier.await(timeoutNanos, TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                fail(e);
                throw new CommunicatorException("rank " + rank + ": timed out after " + Duration.ofNanos(timeoutNanos) + " waiting for the other ranks", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail(e);
                throw new CommunicatorException("rank " + rank + ": interrupted while waiting for the other ranks", e);
            } catch (BrokenBarrierException e) {
                Throwable cause = failure;
                throw new CommunicatorException("rank " + rank + ": the group was aborted" + (cause == null ? "" : ": " + cause), cause);
            }
        }

        void fail(Throwable cause) {
            if (failure == null) failure = cause;
            arrived.reset();
            summed.reset();
            plain.reset();
        }
    }
}
