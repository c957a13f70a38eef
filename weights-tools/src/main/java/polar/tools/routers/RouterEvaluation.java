package polar.tools.routers;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import polar.engine.sparsity.MlpTable;
import polar.engine.sparsity.RouterWeights;
import polar.engine.sparsity.RouterWeights.AttentionRouter;
import polar.engine.sparsity.RouterWeights.MlpRouter;
import polar.engine.sparsity.SparsityPlan;
import polar.tools.Progress;
import polar.tools.routers.RouterDataset.LayerData;

/** Recall and precision of trained routers per layer, on rows of a {@link RouterDataset}. */
public final class RouterEvaluation {
    private RouterEvaluation() {}

    /**
     * One layer's scores; NaN where the layer has no such router.
     *
     * @param attnRecall      of each token's true top-k units (by output norm), the fraction the router's top-k keeps;
     *                        top-k precision is the same number (both sides pick k)
     * @param attnRandom      what a random choice of k units would score: k / units
     * @param attnOracleMass  sum of squared output norms of the router's units over that of the true top-k
     * @param mlpPrecision    per (token, neuron), "active" predicted as sigmoid(logit) > 0.5
     * @param mlpActive       fraction of neurons truly active per token
     * @param mlpK            the k the engine uses at each of {@code batchSizes} ({@code ffn} where it runs dense)
     * @param mlpBatchRecall  average batched recall at that k, one per {@code batchSizes} entry
     */
    public record LayerEval(int layer, int attnK, int units, double attnRecall, double attnRandom, double attnOracleMass,
                            double mlpPrecision, double mlpRecall, double mlpF1, double mlpActive, double mlpPredicted,
                            int[] batchSizes, int[] mlpK, double[] mlpBatchRecall) {

        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("layer", layer);
            if (!Double.isNaN(attnRecall)) {
                m.put("attnK", attnK);
                m.put("units", units);
                m.put("attnRecall", attnRecall);
                m.put("attnPrecision", attnRecall);
                m.put("attnRandomRecall", attnRandom);
                m.put("attnOracleMass", attnOracleMass);
            }
            if (!Double.isNaN(mlpF1)) {
                m.put("mlpPrecision", mlpPrecision);
                m.put("mlpRecall", mlpRecall);
                m.put("mlpF1", mlpF1);
                m.put("mlpActiveFraction", mlpActive);
                m.put("mlpPredictedFraction", mlpPredicted);
                if (batchSizes != null) {
                    m.put("batchSizes", batchSizes);
                    m.put("mlpK", mlpK);
                    m.put("mlpBatchRecall", mlpBatchRecall);
                }
            }
            return m;
        }
    }

    /** Evaluates rows {@code from..to}; {@code samples} random batches per batch size for the batched MLP recall. */
    public static List<LayerEval> evaluate(RouterDataset data, RouterWeights routers, SparsityPlan plan, int from, int to,
                                           int samples, Workers w, Progress progress) {
        List<LayerEval> out = new ArrayList<>();
        Random rnd = new Random(7);
        for (int l = 0; l < data.shape().layers(); l++) {
            LayerData d = data.load(l, from, to);
            int k = plan.attnK(l), units = d.units();
            double recall = Double.NaN, oracleMass = Double.NaN;
            AttentionRouter a = routers.attention(l);
            if (a != null && !plan.attnDense(l)) {
                float[] logits = TrainableRouter.of(a).logits(w, d.input(), d.rows());
                BitRows truth = Labels.topK(d.unitNorms(), d.rows(), units, k);
                RouterMetric.Tally t = RouterMetric.TOP_K_RECALL.tally();
                t.add(logits, truth, 0, d.rows());
                recall = t.recall();
                oracleMass = oracleMass(logits, d.unitNorms(), d.rows(), units, k);
            }
            double precision = Double.NaN, mlpRecall = Double.NaN, f1 = Double.NaN, active = Double.NaN, predicted = Double.NaN;
            int[] batchSizes = null, ks = null;
            double[] batchRecall = null;
            MlpRouter m = routers.mlp(l);
            if (m != null && d.mlpActive() != null) {
                float[] logits = TrainableRouter.LowRank.of(m).logits(w, d.input(), d.rows());
                RouterMetric.Tally t = RouterMetric.F1.tally();
                t.add(logits, d.mlpActive(), 0, d.rows());
                precision = t.precision();
                mlpRecall = t.recall();
                f1 = t.f1();
                double cells = (double) d.rows() * m.ffn();
                active = (t.truePos + t.falseNeg) / cells;
                predicted = (t.truePos + t.falsePos) / cells;
                MlpTable table = plan.mlp();
                if (table != null) {
                    batchSizes = table.batchSizes().clone();
                    ks = new int[batchSizes.length];
                    batchRecall = new double[batchSizes.length];
                    float[] scores = MlpCalibrator.scores(logits, table.score());
                    for (int i = 0; i < batchSizes.length && batchSizes[i] <= d.rows(); i++) {
                        ks[i] = table.k(l, batchSizes[i]); // as the engine runs it: ffn where the layer falls back to dense
                        batchRecall[i] = MlpCalibrator.recallCurve(scores, d.mlpActive(), batchSizes[i], samples, rnd)[ks[i]];
                    }
                }
            }
            out.add(new LayerEval(l, k, units, recall, (double) k / units, oracleMass, precision, mlpRecall, f1, active, predicted, batchSizes, ks, batchRecall));
            progress.step(1);
        }
        progress.finish("evaluated " + out.size() + " layers on " + (to - from) + " rows");
        return out;
    }

    /** Sum over tokens of the squared norms of the router's top-k units, over the same for the true top-k. */
    static double oracleMass(float[] logits, float[] norms, int rows, int units, int k) {
        int[] order = new int[units];
        double chosen = 0, best = 0;
        for (int i = 0; i < rows; i++) {
            Labels.topK(logits, i * units, units, k, order);
            for (int r = 0; r < k; r++) chosen += (double) norms[i * units + order[r]] * norms[i * units + order[r]];
            Labels.topK(norms, i * units, units, k, order);
            for (int r = 0; r < k; r++) best += (double) norms[i * units + order[r]] * norms[i * units + order[r]];
        }
        return best == 0 ? 1 : chosen / best;
    }

    /** A readable table, one line per layer. */
    public static String table(List<LayerEval> evals) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%-6s %-8s %-10s %-8s %-8s | %-9s %-9s %-7s %-7s %-7s%n", "layer", "attn k", "recall", "random", "mass",
                "mlp prec", "mlp rec", "F1", "active", "pred"));
        for (LayerEval e : evals) {
            String attn = Double.isNaN(e.attnRecall()) ? String.format("%-8s %-10s %-8s %-8s", "dense", "-", "-", "-")
                    : String.format("%-8s %-10.4f %-8.3f %-8.4f", e.attnK() + "/" + e.units(), e.attnRecall(), e.attnRandom(), e.attnOracleMass());
            String mlp = Double.isNaN(e.mlpF1()) ? "-"
                    : String.format("%-9.4f %-9.4f %-7.4f %-7.4f %-7.4f", e.mlpPrecision(), e.mlpRecall(), e.mlpF1(), e.mlpActive(), e.mlpPredicted());
            sb.append(String.format("%-6d %s | %s%n", e.layer(), attn, mlp));
            if (e.batchSizes() != null) {
                sb.append("       batched MLP recall at k(B):");
                for (int i = 0; i < e.batchSizes().length; i++) {
                    if (e.mlpK()[i] > 0) sb.append(String.format(" B=%d k=%d %.4f;", e.batchSizes()[i], e.mlpK()[i], e.mlpBatchRecall()[i]));
                }
                sb.append('\n');
            }
        }
        return sb.toString();
    }

    public static List<Map<String, Object>> toJson(List<LayerEval> evals) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (LayerEval e : evals) out.add(e.toJson());
        return out;
    }
}
