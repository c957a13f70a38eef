package polar.tools;

import java.io.PrintStream;

/**
 * A one-line progress bar on stderr, redrawn with {@code \r} at most five times a second:
 * {@code train layer 3  [#########.........]  48%  1200/2500  12.4 s}.
 */
public final class Progress {
    private static final int WIDTH = 24;
    private static final long REDRAW_NANOS = 200_000_000L;

    private final String label;
    private final long total;
    private final PrintStream out;
    private final long start = System.nanoTime();
    private long done;
    private long lastDraw;
    private String note = "";

    public Progress(String label, long total) { this(label, total, System.err); }

    public Progress(String label, long total, PrintStream out) {
        this.label = label;
        this.total = Math.max(1, total);
        this.out = out;
    }

    /** A progress bar that prints nothing (for tests and quiet runs). */
    public static Progress silent(String label, long total) {
        return new Progress(label, total, null);
    }

    /** Records {@code n} more units of work done. */
    public synchronized void step(long n) {
        done = Math.min(total, done + n);
        long now = System.nanoTime();
        if (now - lastDraw >= REDRAW_NANOS) {
            lastDraw = now;
            draw(false);
        }
    }

    /** A short note shown after the counts (e.g. the latest validation score). */
    public synchronized void note(String text) { note = text; }

    /** Completes the bar and ends the line with {@code summary}. */
    public synchronized void finish(String summary) {
        done = total;
        note = summary;
        draw(true);
    }

    private void draw(boolean last) {
        if (out == null) return;
        int filled = (int) (WIDTH * done / total);
        double seconds = (System.nanoTime() - start) / 1e9;
        out.print(String.format("\r%s  [%s%s] %3d%%  %d/%d  %.1f s  %s", label, "#".repeat(filled), ".".repeat(WIDTH - filled),
                100 * done / total, done, total, seconds, note));
        if (last) out.println();
        out.flush();
    }
}
