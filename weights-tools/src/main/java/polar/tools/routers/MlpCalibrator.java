package polar.tools.routers;

import java.util.Arrays;
import java.util.Random;
import polar.engine.sparsity.MlpScore;
import polar.engine.sparsity.MlpTable;
import polar.engine.sparsity.RouterTensor;
import polar.engine.sparsity.RouterWeights;
import polar.engine.sparsity.RouterWeights.MlpRouter;
import polar.tools.Progress;

/**
 * Finds, per layer and batch size B, the smallest MLP top-k that keeps the batch's active neurons:
 * over random batches of B held-out tokens, the engine's rule (each token's router logits turned into
 * scores by the {@link MlpScore}, summed over the batch, top-k neurons, ties to the lower index) must
 * cover on average at least {@code recall} of the union of the tokens' truly active neurons. k is then rounded up to the kernel tile and made
 * non-decreasing in B, so looking up the next larger tabulated B is safe.
 */
public final class MlpCalibrator {

    /** Powers of two and a few between, up to 256. */
    public static final int[] DEFAULT_BATCH_SIZES = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256};

    /**
     * @param samples random batches drawn per batch size
     * @param tile    k is rounded up to a multiple of this (32 for the tiny models, 128 for 7B-class)
     */
    public record Config(int[] batchSizes, int samples, double recall, int tile, double denseAbove, MlpScore score, long seed) {
        public Config {
            if (score == null) throw new IllegalArgumentException("no score rule");
            if (samples < 1 || tile < 1) throw new IllegalArgumentException("samples and tile must be positive");
            if (!(recall > 0 && recall <= 1)) throw new IllegalArgumentException("recall must be in (0, 1]: " + recall);
        }

        public static Config defaults(int tile) {
            return new Config(DEFAULT_BATCH_SIZES, 64, 0.99, tile, MlpTable.DEFAULT_DENSE_ABOVE, MlpScore.SOFTPLUS_SUM, 1);
        }
    }

    private MlpCalibrator() {}

    /**
     * One layer: for each batch size, the calibrated k.
     *
     * @param logits router logits {@code [rows, ffn]} of held-out tokens
     * @param active which neurons those tokens truly activate
     */
    public static int[] calibrateLayer(float[] logits, BitRows active, Config cfg, Random rnd) {
        int rows = active.rows(), ffn = active.cols();
        float[] scores = scores(logits, cfg.score());
        int[] k = new int[cfg.batchSizes().length];
        for (int i = 0; i < k.length; i++) {
            int batch = cfg.batchSizes()[i];
            if (batch > rows) throw new IllegalArgumentException("batch size " + batch + " needs at least as many held-out rows, have " + rows);
            double[] curve = recallCurve(scores, active, batch, cfg.samples(), rnd);
            k[i] = roundUp(smallestK(curve, cfg.recall()), cfg.tile(), ffn);
            if (i > 0) k[i] = Math.max(k[i], k[i - 1]);
        }
        return k;
    }

    /** Calibrates every layer's MLP router on rows {@code from..to} of {@code data}. */
    public static MlpTable calibrate(RouterDataset data, RouterWeights routers, int from, int to, Config cfg, Workers w, Progress progress) {
        int layers = data.shape().layers();
        float[][] logits = new float[layers][];
        BitRows[] active = new BitRows[layers];
        for (int l = 0; l < layers; l++) {
            MlpRouter router = routers.mlp(l);
            if (router == null) throw new IllegalArgumentException("no MLP router for layer " + l + " (missing tensor " + RouterTensor.MLP_DOWN.name(l) + ")");
            RouterDataset.LayerData d = data.load(l, from, to);
            logits[l] = TrainableRouter.LowRank.of(router).logits(w, d.input(), d.rows());
            active[l] = d.mlpActive();
        }
        return calibrate(logits, active, cfg, progress);
    }

    /** The whole table from per-layer logits and labels. */
    public static MlpTable calibrate(float[][] logits, BitRows[] active, Config cfg, Progress progress) {
        int[][] k = new int[logits.length][];
        Random rnd = new Random(cfg.seed());
        for (int l = 0; l < logits.length; l++) {
            k[l] = calibrateLayer(logits[l], active[l], cfg, rnd);
            progress.step(1);
        }
        progress.finish("calibrated " + logits.length + " layers");
        return new MlpTable(active[0].cols(), cfg.tile(), cfg.denseAbove(), cfg.score(), cfg.recall(), cfg.batchSizes(), k);
    }

    /** Each token's per-neuron score under {@code rule}. */
    static float[] scores(float[] logits, MlpScore rule) {
        float[] s = new float[logits.length];
        for (int i = 0; i < s.length; i++) s[i] = rule.of(logits[i]);
        return s;
    }

    /**
     * {@code curve[k]} = average over {@code samples} random batches of {@code batch} distinct rows of
     * the fraction of the batch's active neurons (union over its tokens) among the top-k by batch
     * score (the sum of the rows' {@code scores}, which are never negative); {@code k = 0..ffn}.
     * A batch with no active neuron counts as fully covered.
     */
    static double[] recallCurve(float[] scores, BitRows active, int batch, int samples, Random rnd) {
        int rows = active.rows(), ffn = active.cols();
        double[] curve = new double[ffn + 1];
        int[] pick = new int[rows];
        for (int i = 0; i < rows; i++) pick[i] = i;
        float[] batchScore = new float[ffn];
        boolean[] union = new boolean[ffn];
        long[] keys = new long[ffn];
        for (int s = 0; s < samples; s++) {
            for (int b = 0; b < batch; b++) { // partial Fisher-Yates: pick[0..batch) is a uniform sample
                int j = b + rnd.nextInt(rows - b), t = pick[b];
                pick[b] = pick[j];
                pick[j] = t;
            }
            Arrays.fill(batchScore, 0f);
            Arrays.fill(union, false);
            for (int b = 0; b < batch; b++) {
                int row = pick[b], base = row * ffn;
                for (int n = 0; n < ffn; n++) batchScore[n] += scores[base + n];
                for (int n = 0; n < ffn; n++) if (active.get(row, n)) union[n] = true;
            }
            int total = 0;
            for (boolean u : union) if (u) total++;
            if (total == 0) {
                for (int kk = 0; kk <= ffn; kk++) curve[kk] += 1;
                continue;
            }
            order(batchScore, keys);
            int hits = 0;
            for (int r = 0; r < ffn; r++) {
                if (union[(int) keys[r]]) hits++;
                curve[r + 1] += (double) hits / total;
            }
        }
        for (int kk = 0; kk <= ffn; kk++) curve[kk] /= samples;
        return curve;
    }

    /** Neuron indices in {@code keys}' low 32 bits, ordered by score descending, ties by lower index (scores are >= 0). */
    static void order(float[] score, long[] keys) {
        for (int n = 0; n < score.length; n++) {
            // For non-negative floats the bit pattern orders like the value; invert it for descending order.
            long inverted = Integer.MAX_VALUE - Float.floatToIntBits(score[n]);
            keys[n] = inverted << 32 | n;
        }
        Arrays.sort(keys);
        for (int n = 0; n < keys.length; n++) keys[n] &= 0xffffffffL;
    }

    /** The smallest {@code k >= 1} with {@code curve[k] >= target} (the curve only grows with k). */
    static int smallestK(double[] curve, double target) {
        for (int k = 1; k < curve.length; k++) if (curve[k] >= target - 1e-12) return k;
        return curve.length - 1;
    }

    /** {@code k} rounded up to a multiple of {@code tile}, at most {@code ffn}. */
    static int roundUp(int k, int tile, int ffn) {
        return Math.min(ffn, (k + tile - 1) / tile * tile);
    }
}
