package polar.tools.routers;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import polar.engine.sparsity.RouterWeights;
import polar.engine.sparsity.RouterWeights.AttentionRouter;
import polar.engine.sparsity.RouterWeights.MlpRouter;
import polar.engine.sparsity.SparsityPlan;
import polar.tools.Progress;
import polar.tools.routers.RouterDataset.LayerData;
import polar.tools.routers.RouterTrainer.Split;

/**
 * Trains every router a plan needs from a {@link RouterDataset}: per layer, an attention router for
 * the plan's top-k (layers 1.. that are not dense) and, for ReLU models, an MLP router. The last
 * {@code holdout} fraction of the rows is held out for early stopping (and, by the same rule, for
 * calibration and evaluation).
 */
public final class RouterTraining {
    private RouterTraining() {}

    /**
     * @param rank        MLP router inner width r
     * @param holdout     fraction of rows (the last ones) held out
     * @param maxRows     use at most this many rows in all (0: all)
     * @param label       what ranks units for the attention labels
     * @param attnInner   attention router: 0 linear, else the width of a two-layer router's ReLU layer
     */
    public record Options(int rank, TrainConfig attention, TrainConfig mlp, double holdout, int maxRows,
                          boolean trainAttention, boolean trainMlp, boolean quiet, UnitLabel label, int attnInner) {

        public static Options defaults(RouterDataShape shape) {
            return new Options(defaultRank(shape.hidden()), TrainConfig.attention(), TrainConfig.mlp(), DEFAULT_HOLDOUT, 0, true, shape.reluMlp(), false,
                    UnitLabel.NORM, 0);
        }
    }

    public static final double DEFAULT_HOLDOUT = 0.1;

    /** r = hidden / 4, at most 1024 (the paper's 1024 for 4096-wide models), at least 16. */
    public static int defaultRank(int hidden) { return Math.max(16, Math.min(1024, hidden / 4)); }

    /** Rows {@code [0, trainEnd)} train, {@code [trainEnd, end)} are held out. */
    public record Rows(int trainEnd, int end) {
        public static Rows of(int rows, int maxRows, double holdout) {
            int end = maxRows > 0 ? Math.min(rows, maxRows) : rows;
            int held = (int) Math.max(1, Math.round(end * holdout));
            if (end - held < 1) throw new IllegalArgumentException("too few rows to hold out " + holdout + " of them: " + end);
            return new Rows(end - held, end);
        }

        public int heldOut() { return end - trainEnd; }
    }

    /** @param attnRecall held-out top-k recall (NaN when not trained); {@code mlpF1} held-out F1 (NaN when not trained) */
    public record LayerResult(int layer, double attnRecall, int attnEpochs, double mlpF1, int mlpEpochs) {}

    public record Result(RouterWeights routers, List<LayerResult> layers) {}

    public static Result train(RouterDataset data, SparsityPlan plan, Options opt, Workers w) {
        RouterDataShape shape = data.shape();
        if (plan.layers() != shape.layers() || plan.units() != shape.units())
            throw new IllegalArgumentException("plan (" + plan.layers() + " layers, " + plan.units() + " units) does not fit the data ("
                    + shape.layers() + " layers, " + shape.units() + " units)");
        Rows rows = Rows.of(data.rows(), opt.maxRows(), opt.holdout());
        AttentionRouter[] attention = new AttentionRouter[shape.layers()];
        MlpRouter[] mlp = new MlpRouter[shape.layers()];
        List<LayerResult> results = new ArrayList<>();
        for (int l = 0; l < shape.layers(); l++) {
            LayerData train = data.load(l, 0, rows.trainEnd()), held = data.load(l, rows.trainEnd(), rows.end());
            double attnRecall = Double.NaN, mlpF1 = Double.NaN;
            int attnEpochs = 0, mlpEpochs = 0;
            if (opt.trainAttention() && !plan.attnDense(l)) {
                int k = plan.attnK(l);
                Split tr = new Split(train.input(), Labels.topK(train.unitScores(opt.label()), train.rows(), train.units(), k));
                Split ho = new Split(held.input(), Labels.topK(held.unitScores(opt.label()), held.rows(), held.units(), k));
                TrainableRouter router = TrainableRouter.attention(shape.hidden(), opt.attnInner(), shape.units(), new Random(opt.attention().seed() + l));
                var r = RouterTrainer.train(w, router, tr, ho, RouterMetric.TOP_K_RECALL, opt.attention(),
                        progress(opt, String.format("attention router, layer %d (top %d of %d)", l, k, shape.units()), (long) opt.attention().maxEpochs() * train.rows()));
                attention[l] = router.toAttentionRouter();
                attnRecall = r.bestScore();
                attnEpochs = r.history().size();
            }
            if (opt.trainMlp() && shape.reluMlp()) {
                Split tr = new Split(train.input(), train.mlpActive()), ho = new Split(held.input(), held.mlpActive());
                TrainableRouter.LowRank router = new TrainableRouter.LowRank(shape.hidden(), opt.rank(), shape.ffn(), new Random(opt.mlp().seed() + 1000 + l));
                var r = RouterTrainer.train(w, router, tr, ho, RouterMetric.F1, opt.mlp(),
                        progress(opt, String.format("MLP router, layer %d (%d -> %d -> %d)", l, shape.hidden(), opt.rank(), shape.ffn()), (long) opt.mlp().maxEpochs() * train.rows()));
                mlp[l] = router.toRouter();
                mlpF1 = r.bestScore();
                mlpEpochs = r.history().size();
            }
            results.add(new LayerResult(l, attnRecall, attnEpochs, mlpF1, mlpEpochs));
        }
        return new Result(new RouterWeights(attention, mlp), results);
    }

    static Progress progress(Options opt, String label, long total) {
        return opt.quiet() ? Progress.silent(label, total) : new Progress(label, total);
    }
}
