package polar.tornado.kernels;

import polar.tornado.Parallel;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * Small kernels of tensor-parallel ranks. A rank holds the attention units (KV heads)
 * {@code [first, first + units)} of the model; every rank routes over all of the model's units
 * (the same selection everywhere, since every rank holds the same hidden state) and attends over
 * the selected units that are its own.
 */
public final class RankKernels {
    private RankKernels() {}

    /**
     * From each token's {@code k} selected units of the whole model ({@code selected [tokens, k]},
     * ascending), the rank's own, as local indices, into {@code local [tokens, kLocal]}: the rank's
     * selected units in order, the remaining slots repeating the first of them (a repeated unit is
     * computed twice, to the same values); a token that selected none of the rank's units gets local
     * unit 0 everywhere, whose output {@link #zeroUnrouted} clears afterwards. Launch with {@code Grid.of(tokens)}.
     */
    public static void localize(IntArray selected, IntArray local, int tokens, int k, int kLocal, int first, int units) {
        for (@Parallel int t = 0; t < tokens; t++) {
            int n = 0;
            int pad = 0;
            for (int i = 0; i < k; i++) {
                int u = selected.get(t * k + i) - first;
                if (u >= 0 && u < units && n < kLocal) {
                    if (n == 0) pad = u;
                    local.set(t * kLocal + n, u);
                    n++;
                }
            }
            for (int i = n; i < kLocal; i++) local.set(t * kLocal + i, pad);
        }
    }

    /**
     * Zeros local unit 0's attention output ({@code width} values per unit, {@code units} units per
     * row of {@code out}) for each token that selected none of the rank's units (see {@link #localize}).
     * Launch with {@code Grid.rows(tokens, width)}.
     */
    public static void zeroUnrouted(IntArray selected, FloatArray out, int tokens, int k, int first, int units, int width) {
        for (@Parallel int e = 0; e < width; e++) {
            for (@Parallel int t = 0; t < tokens; t++) {
                if (!routesAny(selected, t * k, k, first, units)) out.set(t * units * width + e, 0f);
            }
        }
    }

    /** {@link #zeroUnrouted} of float16 output. */
    public static void zeroUnroutedHalf(IntArray selected, HalfArray out, int tokens, int k, int first, int units, int width) {
        for (@Parallel int e = 0; e < width; e++) {
            for (@Parallel int t = 0; t < tokens; t++) {
                if (!routesAny(selected, t * k, k, first, units)) out.set(t * units * width + e, 0f);
            }
        }
    }

    /** Whether any of the {@code k} units from {@code base} lies in {@code [first, first + units)}. */
    static boolean routesAny(IntArray selected, int base, int k, int first, int units) {
        for (int i = 0; i < k; i++) {
            int u = selected.get(base + i);
            if (u >= first && u < first + units) return true;
        }
        return false;
    }

    /** {@code x[0 .. n) = 0}. Launch with {@code Grid.of(n)}. */
    public static void clear(FloatArray x, int n) {
        for (@Parallel int i = 0; i < n; i++) x.set(i, 0f);
    }
}
