package polar.tools.routers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import polar.engine.sparsity.MlpScore;
import polar.engine.sparsity.MlpTable;
import polar.tools.Progress;

class MlpCalibratorTest {
    static final int FFN = 256, ROWS = 64;

    /**
     * Token i fires neurons 0..49 (shared by all) and 100+i (its own); the router scores exactly those
     * with logit 1 and every other neuron -1. A batch of B tokens then has 50+B active neurons, the
     * router ranks all of them first, and the smallest k with recall >= 0.99 is ceil(0.99 (50+B)).
     */
    static float[] logits = new float[ROWS * FFN];
    static BitRows active = new BitRows(ROWS, FFN);

    static {
        java.util.Arrays.fill(logits, -1f);
        for (int i = 0; i < ROWS; i++) {
            for (int n = 0; n < 50; n++) fire(i, n);
            fire(i, 100 + i);
        }
    }

    static void fire(int row, int neuron) {
        active.set(row, neuron);
        logits[row * FFN + neuron] = 1f;
    }

    static MlpCalibrator.Config config(int tile) {
        return new MlpCalibrator.Config(new int[] {1, 2, 4, 8, 16, 32, 64}, 8, 0.99, tile, 0.8, MlpScore.RELU_SUM, 3);
    }

    @Test
    void findsTheSmallestKThatCoversNinetyNinePercentOfTheBatchUnion() {
        int[] k = MlpCalibrator.calibrateLayer(logits, active, config(1), new Random(1));
        int[] expected = new int[7];
        int[] batches = {1, 2, 4, 8, 16, 32, 64};
        for (int i = 0; i < 7; i++) expected[i] = (int) Math.ceil(0.99 * (50 + batches[i]) - 1e-9);
        assertArrayEquals(new int[] {51, 52, 54, 58, 66, 82, 113}, expected);
        assertArrayEquals(expected, k);
    }

    @Test
    void roundsUpToTheKernelTile() {
        int[] k = MlpCalibrator.calibrateLayer(logits, active, config(32), new Random(1));
        assertArrayEquals(new int[] {64, 64, 64, 64, 96, 96, 128}, k);
    }

    @Test
    void neuronsTheRouterMissesCostTiesAtZeroScore() {
        // Every token also fires neuron 255, which the router scores -1 (ReLU: 0, tied with all unscored
        // neurons and last by index). At B = 1 that is 1 of 52 active neurons (98.1% < 99%) and only
        // k = 256 covers it; at B = 64 it is 1 of 115 (99.13%), so k = 114 (every scored neuron) is enough.
        BitRows withMiss = new BitRows(ROWS, FFN, active.bits().clone());
        for (int i = 0; i < ROWS; i++) withMiss.set(i, 255);
        MlpCalibrator.Config cfg = new MlpCalibrator.Config(new int[] {1, 64}, 4, 0.99, 1, 0.8, MlpScore.RELU_SUM, 3);
        int[] k = MlpCalibrator.calibrateLayer(logits, withMiss, cfg, new Random(2));
        assertArrayEquals(new int[] {256, 256}, k, "k is made non-decreasing in B: rounding B up must stay safe");
        int[] alone = MlpCalibrator.calibrateLayer(logits, withMiss, new MlpCalibrator.Config(new int[] {64}, 4, 0.99, 1, 0.8, MlpScore.RELU_SUM, 3), new Random(2));
        assertArrayEquals(new int[] {114}, alone);
    }

    @Test
    void softplusScoresStillOrderNeuronsTheRouterScoresBelowZero() {
        // As above, but the router gives the missed neuron 255 a logit of -0.5 against -1 for the idle ones:
        // ReLU sums cannot tell them apart, softplus sums rank it next, so all 52 active neurons fit in k = 52.
        float[] closer = logits.clone();
        BitRows withMiss = new BitRows(ROWS, FFN, active.bits().clone());
        for (int i = 0; i < ROWS; i++) {
            withMiss.set(i, 255);
            closer[i * FFN + 255] = -0.5f;
        }
        int[] relu = MlpCalibrator.calibrateLayer(closer, withMiss, new MlpCalibrator.Config(new int[] {1}, 4, 0.99, 1, 0.8, MlpScore.RELU_SUM, 3), new Random(2));
        int[] softplus = MlpCalibrator.calibrateLayer(closer, withMiss, new MlpCalibrator.Config(new int[] {1}, 4, 0.99, 1, 0.8, MlpScore.SOFTPLUS_SUM, 3), new Random(2));
        assertArrayEquals(new int[] {256}, relu);
        assertArrayEquals(new int[] {52}, softplus);
    }

    @Test
    void recallCurveIsTheAverageCoverageOfRandomBatches() {
        Random rnd = new Random(4);
        int rows = 200, ffn = 64;
        float[] scores = Synthetic.gaussian(rnd, rows * ffn);
        BitRows act = new BitRows(rows, ffn);
        for (int i = 0; i < rows; i++) for (int n = 0; n < ffn; n++) if (scores[i * ffn + n] + 0.5 * rnd.nextGaussian() > 1.2) act.set(i, n);
        double[] curve = MlpCalibrator.recallCurve(MlpCalibrator.scores(scores, MlpScore.SOFTPLUS_SUM), act, 4, 300, rnd);
        assertEquals(0, curve[0], 0);
        assertEquals(1, curve[ffn], 1e-12);
        for (int k = 1; k <= ffn; k++) assertTrue(curve[k] >= curve[k - 1]);
        assertTrue(curve[16] > 16.0 / ffn * 1.5, "a useful router covers more than its share: " + curve[16]);

        MlpTable table = MlpCalibrator.calibrate(new float[][] {scores, scores}, new BitRows[] {act, act},
                new MlpCalibrator.Config(new int[] {1, 4, 16}, 50, 0.95, 8, 0.8, MlpScore.SOFTPLUS_SUM, 5), Progress.silent("calibrate", 2));
        for (int[] row : table.k()) {
            for (int i = 0; i < row.length; i++) {
                assertEquals(0, row[i] % 8);
                if (i > 0) assertTrue(row[i] >= row[i - 1]);
            }
        }
    }
}
