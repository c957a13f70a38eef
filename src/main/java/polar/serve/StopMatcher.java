package polar.serve;

import java.util.List;

/**
 * Finds stop sequences in streamed text. Text that might be the start of a stop sequence is held back until the
 * next pieces decide, so a client never sees any part of a stop sequence.
 */
final class StopMatcher {
    private final List<String> stops;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    StopMatcher(List<String> stops) { this.stops = stops; }

    /** Adds {@code piece}; returns the text now safe to emit (ending before the stop sequence once one is found). */
    String push(String piece) {
        if (stopped) throw new IllegalStateException("already stopped");
        held.append(piece);
        int first = -1;
        for (String stop : stops) {
            int at = held.indexOf(stop);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        if (first >= 0) {
            stopped = true;
            String out = held.substring(0, first);
            held.setLength(0);
            return out;
        }
        int keep = heldBackLength();
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return out;
    }

    boolean stopped() { return stopped; }

    /** The held-back text, at the end of a generation that did not stop on a stop sequence. */
    String flush() {
        String out = held.toString();
        held.setLength(0);
        return out;
    }

    /** Length of the longest suffix of the held text that is a proper prefix of some stop sequence. */
    private int heldBackLength() {
        String text = held.toString();
        int best = 0;
        for (String stop : stops) {
            for (int len = Math.min(stop.length() - 1, text.length()); len > best; len--) {
                if (text.regionMatches(text.length() - len, stop, 0, len)) {
                    best = len;
                    break;
                }
            }
        }
        return best;
    }
}
