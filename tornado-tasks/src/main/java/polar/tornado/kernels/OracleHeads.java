package polar.tornado.kernels;

import polar.tornado.Parallel;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * Polar Sparsity's oracle: after dense attention, each token keeps the attention units (query
 * heads for MHA, KV groups for GQA) whose outputs have the largest L2 norm, the routers' training
 * label, and every other unit's output is zeroed, as {@link SelectiveAttention} would leave it.
 * {@code attn [tokens, units * span]} holds a unit's {@code span = group * headDim} values
 * adjacently. The top-k between the two kernels is {@link TopK#small} over the squared norms.
 */
public final class OracleHeads {
    private OracleHeads() {}

    /** {@code squares[i][u] = sum of attn[i][u * span + j]^2} (float32 attention output). Launch with {@code Grid.of(tokens, units)}. */
    public static void unitSquares(FloatArray attn, FloatArray squares, int tokens, int units, int span) {
        for (@Parallel int i = 0; i < tokens; i++) {
            for (@Parallel int u = 0; u < units; u++) {
                int base = (i * units + u) * span;
                float s = 0f;
                for (int j = 0; j < span; j++) {
                    float v = attn.get(base + j);
                    s += v * v;
                }
                squares.set(i * units + u, s);
            }
        }
    }

    /** {@link #unitSquares} of a float16 attention output (sums in float32). */
    public static void unitSquaresHalf(HalfArray attn, FloatArray squares, int tokens, int units, int span) {
        for (@Parallel int i = 0; i < tokens; i++) {
            for (@Parallel int u = 0; u < units; u++) {
                int base = (i * units + u) * span;
                float s = 0f;
                for (int j = 0; j < span; j++) {
                    float v = attn.get(base + j);
                    s += v * v;
                }
                squares.set(i * units + u, s);
            }
        }
    }

    /** Zeroes the values of every unit not among token {@code i}'s {@code selected [tokens, k]}. Launch with {@code Grid.rows(tokens, width)}. */
    public static void keepSelected(FloatArray attn, IntArray selected, int tokens, int width, int span, int k) {
        for (@Parallel int c = 0; c < width; c++) {
            for (@Parallel int i = 0; i < tokens; i++) {
                int unit = c / span;
                boolean keep = false;
                for (int s = 0; s < k; s++) if (selected.get(i * k + s) == unit) keep = true;
                if (!keep) attn.set(i * width + c, 0f);
            }
        }
    }

    /** {@link #keepSelected} of a float16 attention output. */
    public static void keepSelectedHalf(HalfArray attn, IntArray selected, int tokens, int width, int span, int k) {
        for (@Parallel int c = 0; c < width; c++) {
            for (@Parallel int i = 0; i < tokens; i++) {
                int unit = c / span;
                boolean keep = false;
                for (int s = 0; s < k; s++) if (selected.get(i * k + s) == unit) keep = true;
                if (!keep) attn.set(i * width + c, 0f);
            }
        }
    }
}
