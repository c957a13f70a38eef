package polar.tornado.kernels;

import polar.tornado.Parallel;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * Row gathers: token embeddings ({@code out[r] = table[ids[r]]}), OPT's learned positions, and
 * picking the last token of each sequence before the final norm (the same gather over the
 * hidden states). Variants differ only in the table's element type.
 */
public final class Embeddings {
    private Embeddings() {}

    /** {@code out[r][c] = table[rows[r]][c]} for {@code r < count, c < width}, float16 table. */
    public static void gatherHalf(IntArray rows, HalfArray table, FloatArray out, int count, int width) {
        for (@Parallel int c = 0; c < width; c++) {
            for (@Parallel int r = 0; r < count; r++) {
                out.set(r * width + c, table.get(rows.get(r) * width + c));
            }
        }
    }

    /** {@code out[r][c] = table[rows[r]][c]} for {@code r < count, c < width}, float32 table. */
    public static void gather(IntArray rows, FloatArray table, FloatArray out, int count, int width) {
        for (@Parallel int c = 0; c < width; c++) {
            for (@Parallel int r = 0; r < count; r++) {
                out.set(r * width + c, table.get(rows.get(r) * width + c));
            }
        }
    }

    /** OPT's learned positions: {@code out[r][c] += table[positions[r] + offset][c]}. */
    public static void addPositions(IntArray positions, FloatArray table, FloatArray out, int count, int width, int offset) {
        for (@Parallel int c = 0; c < width; c++) {
            for (@Parallel int r = 0; r < count; r++) {
                int i = r * width + c;
                out.set(i, out.get(i) + table.get((positions.get(r) + offset) * width + c));
            }
        }
    }
}
