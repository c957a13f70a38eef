package polar.runtime.jvm;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A reusable barrier over a fixed set of threads (the work-items of a group, or the lanes of a
 * warp). The last thread to arrive releases the others. Once {@link #breakBarrier() broken},
 * because a work-item failed, every waiting or later arrival throws {@link BrokenGroupException}
 * instead of waiting for a work-item that will never come.
 */
final class GroupBarrier {
    private final Thread[] threads;
    private final int from, count;
    private final AtomicInteger arrived = new AtomicInteger();
    private final AtomicInteger maxArrival = new AtomicInteger(-1);            // highest arrival index seen
    private final AtomicInteger minFinished = new AtomicInteger(Integer.MAX_VALUE); // fewest arrivals of a returned thread
    private volatile int generation;
    private volatile boolean broken;

    /** A barrier over {@code threads[from .. from + count)}. */
    GroupBarrier(Thread[] threads, int from, int count) {
        this.threads = threads;
        this.from = from;
        this.count = count;
    }

    /**
     * Waits at this barrier; {@code index} is how many times the calling thread has arrived here
     * before (its own count, so divergence is told apart from a slow thread).
     */
    void await(int index) {
        if (broken) throw new BrokenGroupException();
        maxArrival.accumulateAndGet(index, Math::max);
        if (minFinished.get() <= index) throw new IllegalStateException(DIVERGED);
        int gen = generation;
        int arrivals = arrived.incrementAndGet();
        if (arrivals == count) {
            arrived.set(0); // before the generation advances, so released threads count afresh
            generation = gen + 1;
            for (int i = from; i < from + count; i++) {
                if (threads[i] != Thread.currentThread()) LockSupport.unpark(threads[i]);
            }
            return;
        }
        while (generation == gen) {
            if (broken) throw new BrokenGroupException();
            LockSupport.park(this);
        }
    }

    /**
     * Called when a thread's work-item returns after arriving here {@code arrivals} times. True if
     * another thread has arrived more often, at a barrier this one will never reach: the kernel
     * diverged (on a GPU, undefined behaviour). Both sides write, then read, sequentially
     * consistent atomics, so at least one of them sees the other; a kernel whose work-items all
     * reach the same barriers never trips this.
     */
    boolean depart(int arrivals) {
        minFinished.accumulateAndGet(arrivals, Math::min);
        return maxArrival.get() >= arrivals;
    }

    static final String DIVERGED = "a work-item returned without reaching a barrier (or warp operation) that others of its group wait at;"
            + " every work-item must reach every barrier";

    /** Releases every waiting thread with {@link BrokenGroupException}, now and at every later arrival. */
    void breakBarrier() {
        broken = true;
        for (int i = from; i < from + count; i++) {
            if (threads[i] != null) LockSupport.unpark(threads[i]);
        }
    }

    /** Thrown in the work-items that wait on a barrier another work-item of the group will never reach. */
    static final class BrokenGroupException extends RuntimeException {
        BrokenGroupException() {
            super("another work-item of the group failed", null, false, false);
        }
    }
}
