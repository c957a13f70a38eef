package polar.tools.routers;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/** A few threads that split index ranges between them (the calling thread takes the first part). */
public final class Workers implements AutoCloseable {

    /** Work on indices {@code from..to}. */
    @FunctionalInterface
    public interface Range {
        void run(int from, int to);
    }

    private final int threads;
    private final ExecutorService pool;

    public Workers(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be at least 1: " + threads);
        this.threads = threads;
        this.pool = threads == 1 ? null : Executors.newFixedThreadPool(threads - 1, r -> {
            Thread t = new Thread(r, "router-worker");
            t.setDaemon(true);
            return t;
        });
    }

    /** The default: at most 2 threads (the project's machines share few cores). */
    public static int defaultThreads() { return Math.min(2, Runtime.getRuntime().availableProcessors()); }

    public int threads() { return threads; }

    /** Runs {@code body} over {@code 0..n} split into contiguous parts, one per thread; parts of fewer than {@code grain} indices are not split further. */
    public void forRange(int n, int grain, Range body) {
        int parts = (int) Math.min(threads, Math.max(1, n / Math.max(1, grain)));
        if (parts <= 1 || pool == null) {
            body.run(0, n);
            return;
        }
        List<Future<?>> futures = new ArrayList<>();
        for (int p = 1; p < parts; p++) {
            int from = (int) ((long) n * p / parts), to = (int) ((long) n * (p + 1) / parts);
            futures.add(pool.submit(() -> body.run(from, to)));
        }
        body.run(0, (int) ((long) n / parts));
        try {
            for (Future<?> f : futures) f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            if (e.getCause() instanceof Error err) throw err;
            throw new IllegalStateException(e.getCause());
        }
    }

    @Override
    public void close() {
        if (pool != null) pool.shutdownNow();
    }
}
