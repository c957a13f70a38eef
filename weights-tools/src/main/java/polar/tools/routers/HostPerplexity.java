package polar.tools.routers;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import polar.engine.sparsity.RouterWeights;
import polar.engine.sparsity.RouterWeights.AttentionRouter;
import polar.engine.sparsity.SparsityPlan;

/**
 * Perplexity with attention units selected per token by a rule, on the plain-Java forward pass
 * ({@link HostActivationSource#nll}): the quick way to compare routers, densities and label
 * definitions on a CPU. It measures what {@code polar eval perplexity} measures (teacher-forced,
 * consecutive windows of the BOS-prefixed text, every position's attention sparse in layers >= 1),
 * on the attention side only (the MLP stays dense).
 */
public final class HostPerplexity {
    private HostPerplexity() {}

    /** How each token's attention units are chosen in layers >= 1. */
    public enum Selection {
        /** Every unit (dense). */
        DENSE("dense"),
        /** The trained router's top-k. */
        ROUTER("router"),
        /** The true top-k by the L2 norm of the unit's attention output (the routers' training label). */
        ORACLE("oracle"),
        /** The true top-k by the L2 norm of the unit's contribution after the output projection, {@code ||W_o[:, unit] o_unit||}. */
        ORACLE_PROJECTED("oracle-projected");

        public final String flag;

        Selection(String flag) { this.flag = flag; }

        public static Selection of(String flag) {
            for (Selection s : values()) if (s.flag.equals(flag)) return s;
            throw new IllegalArgumentException("unknown selection '" + flag + "' (dense, router, oracle or oracle-projected)");
        }
    }

    /** Consecutive, non-overlapping windows of {@code ids} (as {@code polar eval perplexity} cuts them). */
    public static List<int[]> windows(int[] ids, int window) {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i + 1 < ids.length; i += window) out.add(Arrays.copyOfRange(ids, i, Math.min(ids.length, i + window)));
        return out;
    }

    /** Perplexity of {@code windows} (run {@code batch} at a time) with {@code selection} keeping {@code plan.attnK(layer)} units. */
    public static double perplexity(HostActivationSource model, List<int[]> windows, int batch, Selection selection, SparsityPlan plan,
                                    RouterWeights routers) {
        HostActivationSource.HeadMask mask = selection == Selection.DENSE ? null : mask(model, selection, plan, routers);
        double nll = 0;
        long count = 0;
        for (int from = 0; from < windows.size(); from += batch) {
            double[] r = model.nll(windows.subList(from, Math.min(windows.size(), from + batch)), mask);
            nll += r[0];
            count += (long) r[1];
        }
        return Math.exp(nll / count);
    }

    /**
     * The mask that keeps, in every row, the {@code plan.attnK(layer)} units ranked first by {@code selection}. Every
     * row: the engine's teacher-forced decode feeds each window's first token as a one-token step, which is a decode
     * step and so sparse too.
     */
    static HostActivationSource.HeadMask mask(HostActivationSource model, Selection selection, SparsityPlan plan, RouterWeights routers) {
        RouterDataShape shape = model.shape();
        int units = shape.units(), span = shape.headsPerUnit() * shape.headDim(), width = shape.heads() * shape.headDim(), hidden = shape.hidden();
        return (layer, rows, position, normedInput, headOutput) -> {
            int k = plan.attnK(layer);
            if (k >= units) return;
            float[] scores = switch (selection) {
                case ROUTER -> {
                    AttentionRouter r = routers == null ? null : routers.attention(layer);
                    if (r == null) throw new IllegalArgumentException("no attention router for layer " + layer);
                    yield r.logits(normedInput, rows);
                }
                case ORACLE -> unitSquares(headOutput, rows, units, span);
                case ORACLE_PROJECTED -> projectedSquares(headOutput, rows, units, span, model.outputProjection(layer), hidden);
                case DENSE -> throw new IllegalStateException("dense has no mask");
            };
            int[] order = new int[units];
            for (int i = 0; i < rows; i++) {
                Labels.topK(scores, i * units, units, k, order);
                for (int r = k; r < units; r++) Arrays.fill(headOutput, i * width + order[r] * span, i * width + (order[r] + 1) * span, 0f);
            }
        };
    }

    /** Squared L2 norm of each unit's values, {@code [rows, units]}. */
    static float[] unitSquares(float[] headOutput, int rows, int units, int span) {
        float[] out = new float[rows * units];
        for (int i = 0; i < rows * units; i++) {
            double s = 0;
            for (int j = 0; j < span; j++) s += (double) headOutput[i * span + j] * headOutput[i * span + j];
            out[i] = (float) s;
        }
        return out;
    }

    /** Squared L2 norm of each unit's output-projected contribution {@code o_unit W_o^T[unit rows]}, {@code [rows, units]}. */
    static float[] projectedSquares(float[] headOutput, int rows, int units, int span, float[] woT, int hidden) {
        float[] out = new float[rows * units];
        float[] v = new float[hidden];
        for (int i = 0; i < rows * units; i++) {
            Arrays.fill(v, 0f);
            int unitRow0 = (i % units) * span;
            for (int j = 0; j < span; j++) {
                float o = headOutput[i * span + j];
                int w = (unitRow0 + j) * hidden;
                for (int h = 0; h < hidden; h++) v[h] += o * woT[w + h];
            }
            double s = 0;
            for (float e : v) s += (double) e * e;
            out[i] = (float) s;
        }
        return out;
    }
}
