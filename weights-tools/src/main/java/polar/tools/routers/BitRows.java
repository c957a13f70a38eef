package polar.tools.routers;

/**
 * A {@code rows x cols} matrix of bits, row-major, each row padded to whole bytes, bit {@code j}
 * of a row at byte {@code j / 8}, bit {@code j % 8} (least significant first). Holds binary router
 * labels: which MLP neurons are active, which attention units are in a token's top-k.
 */
public record BitRows(int rows, int cols, byte[] bits) {

    public BitRows {
        if ((long) rows * bytesPerRow(cols) != bits.length)
            throw new IllegalArgumentException(rows + "x" + cols + " bits need " + (long) rows * bytesPerRow(cols) + " bytes, given " + bits.length);
    }

    public BitRows(int rows, int cols) { this(rows, cols, new byte[Math.toIntExact((long) rows * bytesPerRow(cols))]); }

    public static int bytesPerRow(int cols) { return (cols + 7) / 8; }

    public boolean get(int row, int col) {
        return (bits[row * bytesPerRow(cols) + (col >>> 3)] >>> (col & 7) & 1) != 0;
    }

    public void set(int row, int col) {
        bits[row * bytesPerRow(cols) + (col >>> 3)] |= (byte) (1 << (col & 7));
    }

    /** Number of set bits in {@code row}. */
    public int count(int row) {
        int n = 0, base = row * bytesPerRow(cols);
        for (int b = 0; b < bytesPerRow(cols); b++) n += Integer.bitCount(bits[base + b] & 0xff);
        return n;
    }

    /** Writes row {@code row} as 0/1 floats into {@code dst[off .. off + cols)}. */
    public void toFloats(int row, float[] dst, int off) {
        int base = row * bytesPerRow(cols);
        for (int j = 0; j < cols; j++) dst[off + j] = bits[base + (j >>> 3)] >>> (j & 7) & 1;
    }

    /** For each column, how many rows have it set. */
    public long[] columnCounts() {
        long[] c = new long[cols];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) if (get(i, j)) c[j]++;
        return c;
    }

    /** Rows {@code from .. to} as a new matrix. */
    public BitRows slice(int from, int to) {
        int bpr = bytesPerRow(cols);
        return new BitRows(to - from, cols, java.util.Arrays.copyOfRange(bits, from * bpr, to * bpr));
    }
}
