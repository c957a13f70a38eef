package polar.engine;

/**
 * One sequence's state in the engine: its row of the KV cache's block table and how many
 * positions the cache holds. Made by {@link Engine#newSequence()}, ended by {@link Engine#release}.
 */
public final class Sequence {
    private final int row;
    private int length;
    private boolean released;

    Sequence(int row) {
        this.row = row;
    }

    /** Block-table row. */
    public int row() { return row; }

    /** Positions in the cache (tokens processed so far). */
    public int length() { return length; }

    public boolean released() { return released; }

    void advance(int tokens) { length += tokens; }

    void markReleased() { released = true; }

    @Override
    public String toString() { return "Sequence[row " + row + ", " + length + " positions" + (released ? ", released" : "") + "]"; }
}
