package polar.tools.routers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import polar.tools.Progress;
import polar.tools.routers.RouterTrainer.Split;

class RouterTrainerTest {
    static final Workers WORKERS = new Workers(Workers.defaultThreads());

    @AfterAll
    static void close() { WORKERS.close(); }

    static Split split(float[] x, BitRows labels, int from, int to, int hidden) {
        return new Split(java.util.Arrays.copyOfRange(x, from * hidden, to * hidden), labels.slice(from, to));
    }

    @Test
    void attentionRouterLearnsAPlantedLinearRuleAndBeatsARandomRouter() {
        Random rnd = new Random(11);
        int rows = 6000, hidden = 48, units = 8, k = 4;
        float[] x = Synthetic.gaussian(rnd, rows * hidden);
        float[] w = Synthetic.gaussian(rnd, units * hidden);
        float[] norms = Synthetic.unitNorms(x, rows, hidden, w, units, 0.3, rnd);
        BitRows labels = Labels.topK(norms, rows, units, k);
        Split train = split(x, labels, 0, 5000, hidden), held = split(x, labels, 5000, rows, hidden);

        TrainableRouter.Linear random = new TrainableRouter.Linear(hidden, units, new Random(3));
        double before = RouterTrainer.evaluate(WORKERS, random, held, RouterMetric.TOP_K_RECALL).recall();
        TrainableRouter.Linear router = new TrainableRouter.Linear(hidden, units, new Random(3));
        var result = RouterTrainer.train(WORKERS, router, train, held, RouterMetric.TOP_K_RECALL, TrainConfig.attention().with(15, 64, 3e-3f, 0.01f, 3, 1.0, 1),
                Progress.silent("attention", 1));
        double after = RouterTrainer.evaluate(WORKERS, router, held, RouterMetric.TOP_K_RECALL).recall();

        assertTrue(before < 0.65, "an untrained router is near chance (k/units = 0.5): " + before);
        assertTrue(after > 0.9, "trained recall " + after);
        assertEquals(result.bestScore(), after, 1e-12, "the router keeps its best epoch's parameters");
        // The stored [units, hidden] form computes the same logits as the training form.
        float[] viaTraining = router.logits(WORKERS, held.x(), 5);
        float[] viaStored = router.toRouter().logits(held.x(), 5);
        for (int i = 0; i < viaStored.length; i++) assertEquals(viaStored[i], viaTraining[i], 1e-4);
    }

    @Test
    void mlpRouterLearnsAPlantedLowRankRule() {
        Random rnd = new Random(5);
        int rows = 5000, hidden = 64, ffn = 256, rank = 8;
        float[] x = Synthetic.gaussian(rnd, rows * hidden);
        // Like a LayerNorm's bias, a constant input feature lets a router without bias learn thresholds.
        for (int i = 0; i < rows; i++) x[i * hidden] = 1;
        float[] a = Synthetic.gaussian(rnd, rank * hidden), b = Synthetic.gaussian(rnd, ffn * rank);
        // threshold at about 1.6 standard deviations of the pre-activation: about 6% of neurons fire, as in OPT
        BitRows active = Synthetic.active(x, rows, hidden, a, rank, b, ffn, (float) (1.6 * Math.sqrt(hidden * rank)));
        long on = 0;
        for (long c : active.columnCounts()) on += c;
        double fraction = (double) on / ((long) rows * ffn);
        assertTrue(fraction > 0.02 && fraction < 0.15, "sparse like a ReLU MLP: " + fraction);
        Split train = split(x, active, 0, 4000, hidden), held = split(x, active, 4000, rows, hidden);

        TrainableRouter.LowRank router = new TrainableRouter.LowRank(hidden, 16, ffn, new Random(2));
        var result = RouterTrainer.train(WORKERS, router, train, held, RouterMetric.F1, TrainConfig.mlp().with(15, 64, 3e-3f, 0.01f, 3, 0.5, 1),
                Progress.silent("mlp", 1));
        RouterMetric.Tally t = RouterTrainer.evaluate(WORKERS, router, held, RouterMetric.F1);
        assertTrue(t.f1() > 0.8, "F1 " + t.f1() + " precision " + t.precision() + " recall " + t.recall());
        assertEquals(result.bestScore(), t.f1(), 1e-12);
        float[] viaTraining = router.logits(WORKERS, held.x(), 3);
        float[] viaStored = router.toRouter().logits(held.x(), 3);
        for (int i = 0; i < viaStored.length; i++) assertEquals(viaStored[i], viaTraining[i], 1e-3);
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        Random rnd = new Random(1);
        int rows = 3, in = 5, rank = 3, out = 4;
        float[] x = Synthetic.gaussian(rnd, rows * in);
        float[] y = new float[rows * out];
        for (int i = 0; i < y.length; i++) y[i] = rnd.nextBoolean() ? 1 : 0;
        float[] posWeight = {1f, 2f, 0.5f, 3f};
        for (TrainableRouter r : new TrainableRouter[] {new TrainableRouter.Linear(in, out, rnd), new TrainableRouter.LowRank(in, rank, out, rnd),
                new TrainableRouter.TwoLayer(in, 6, out, rnd)}) {
            float[][] params = r.params();
            float[][] grads = new float[params.length][];
            for (int i = 0; i < params.length; i++) grads[i] = new float[params[i].length];
            float[] logits = new float[rows * out], dLogits = new float[rows * out];
            r.forward(WORKERS, x, rows, logits);
            RouterTrainer.lossAndGradient(WORKERS, logits, y, posWeight, rows, out, dLogits);
            r.backward(WORKERS, x, rows, dLogits, grads);
            for (int a = 0; a < params.length; a++) {
                for (int i = 0; i < params[a].length; i++) {
                    float keep = params[a][i];
                    double h = 1e-2;
                    params[a][i] = (float) (keep + h);
                    r.forward(WORKERS, x, rows, logits);
                    double up = RouterTrainer.lossAndGradient(WORKERS, logits, y, posWeight, rows, out, new float[rows * out]);
                    params[a][i] = (float) (keep - h);
                    r.forward(WORKERS, x, rows, logits);
                    double down = RouterTrainer.lossAndGradient(WORKERS, logits, y, posWeight, rows, out, new float[rows * out]);
                    params[a][i] = keep;
                    double numeric = (up - down) / (2 * h);
                    assertEquals(numeric, grads[a][i], 2e-3 + 1e-2 * Math.abs(numeric), r.getClass().getSimpleName() + " param " + a + "[" + i + "]");
                }
            }
        }
    }

    /** A two-layer router learns a rule a linear one cannot (units ranked by |w . x|), and its stored form computes the same logits. */
    @Test
    void twoLayerAttentionRouterLearnsANonLinearRule() {
        Random rnd = new Random(13);
        int rows = 6000, hidden = 24, units = 6, k = 3;
        float[] x = Synthetic.gaussian(rnd, rows * hidden);
        float[] w = Synthetic.gaussian(rnd, units * hidden);
        float[] norms = new float[rows * units];
        for (int i = 0; i < rows; i++) {
            for (int u = 0; u < units; u++) {
                double d = 0;
                for (int j = 0; j < hidden; j++) d += x[i * hidden + j] * w[u * hidden + j];
                norms[i * units + u] = (float) Math.abs(d);
            }
        }
        BitRows labels = Labels.topK(norms, rows, units, k);
        Split train = split(x, labels, 0, 5000, hidden), held = split(x, labels, 5000, rows, hidden);
        TrainConfig cfg = TrainConfig.attention().with(20, 64, 3e-3f, 0.01f, 4, 1.0, 1);
        TrainableRouter.Linear linear = new TrainableRouter.Linear(hidden, units, new Random(3));
        double linearRecall = RouterTrainer.train(WORKERS, linear, train, held, RouterMetric.TOP_K_RECALL, cfg, Progress.silent("linear", 1)).bestScore();
        TrainableRouter.TwoLayer two = new TrainableRouter.TwoLayer(hidden, 64, units, new Random(3));
        double twoRecall = RouterTrainer.train(WORKERS, two, train, held, RouterMetric.TOP_K_RECALL, cfg, Progress.silent("two-layer", 1)).bestScore();
        assertTrue(linearRecall < 0.65, "|w . x| is symmetric in x: a linear router stays near chance (0.5): " + linearRecall);
        assertTrue(twoRecall > 0.8, "two-layer recall " + twoRecall);
        float[] viaTraining = two.logits(WORKERS, held.x(), 5);
        float[] viaStored = two.toRouter().logits(held.x(), 5);
        for (int i = 0; i < viaStored.length; i++) assertEquals(viaStored[i], viaTraining[i], 1e-4);
    }

    @Test
    void positiveWeightsBalanceEachOutput() {
        BitRows labels = new BitRows(10, 2);
        for (int i = 0; i < 2; i++) labels.set(i, 0); // 2 of 10 positive: 8/2 = 4
        for (int i = 0; i < 5; i++) labels.set(i, 1); // 5 of 10: 1
        float[] balanced = RouterTrainer.positiveWeights(labels, TrainConfig.attention());
        assertEquals(4f, balanced[0], 1e-6);
        assertEquals(1f, balanced[1], 1e-6);
        float[] sqrt = RouterTrainer.positiveWeights(labels, TrainConfig.mlp().with(1, 1, 1e-3f, 0, 1, 0.5, 1));
        assertEquals(2f, sqrt[0], 1e-6);
    }
}
