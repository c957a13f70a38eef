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
    private volatile int generation;
    private volatile boolean broken;

    /** A barrier over {@code threads[from .. from + count)}. */
    GroupBarrier(Thread[] threads, int from, int count) {
        this.threads = threads;
        this.from = from;
        this.count = count;
    }

    void await() {
        if (broken) throw new BrokenGroupException();
        int gen = generation;
        if (arrived.incrementAndGet() == count) {
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
