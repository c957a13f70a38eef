package polar.tools.routers;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import polar.tools.Progress;

/**
 * Trains a router with class-weighted binary cross-entropy and AdamW on mini-batches, scores it on
 * held-out rows after each epoch, stops early when the score stops improving, and leaves the router
 * holding the parameters of its best-scoring epoch.
 */
final class RouterTrainer {
    private RouterTrainer() {}

    /** @param history held-out score after each epoch; {@code bestEpoch} is 1-based */
    record Result(double bestScore, int bestEpoch, List<Double> history, double lastLoss) {}

    /** Inputs {@code x[rows, router.inputs()]} with labels {@code [rows, router.outputs()]}. */
    record Split(float[] x, BitRows labels) {
        int rows() { return labels.rows(); }
    }

    static Result train(Workers w, TrainableRouter router, Split train, Split heldOut, RouterMetric metric, TrainConfig cfg, Progress progress) {
        int in = router.inputs(), out = router.outputs(), n = train.rows();
        if (n == 0 || heldOut.rows() == 0) throw new IllegalArgumentException("need training and held-out rows (got " + n + " and " + heldOut.rows() + ")");
        float[] posWeight = positiveWeights(train.labels(), cfg);
        float[][] params = router.params();
        float[][] grads = new float[params.length][];
        for (int i = 0; i < params.length; i++) grads[i] = new float[params[i].length];
        AdamW opt = new AdamW(params, router.decays(), cfg.lr(), cfg.beta1(), cfg.beta2(), cfg.eps(), cfg.weightDecay());

        int bs = Math.min(cfg.batchSize(), n);
        float[] xb = new float[bs * in], yb = new float[bs * out], logits = new float[bs * out], dLogits = new float[bs * out];
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        Random rnd = new Random(cfg.seed());

        float[][] best = copy(params);
        double bestScore = Double.NEGATIVE_INFINITY, lastLoss = Double.NaN;
        int bestEpoch = 0;
        List<Double> history = new ArrayList<>();
        for (int epoch = 1; epoch <= cfg.maxEpochs(); epoch++) {
            shuffle(perm, rnd);
            double lossSum = 0;
            long lossCount = 0;
            for (int start = 0; start + bs <= n; start += bs) { // the ragged tail is dropped; the next shuffle covers it
                for (int b = 0; b < bs; b++) {
                    int row = perm[start + b];
                    System.arraycopy(train.x(), row * in, xb, b * in, in);
                    train.labels().toFloats(row, yb, b * out);
                }
                router.forward(w, xb, bs, logits);
                boolean sample = (start / bs) % LOSS_EVERY == 0; // the loss is only shown, so it is sampled
                double loss = lossAndGradient(w, logits, yb, posWeight, bs, out, dLogits, sample);
                if (sample) {
                    lossSum += loss;
                    lossCount++;
                }
                router.backward(w, xb, bs, dLogits, grads);
                opt.step(params, grads);
                progress.step(bs);
            }
            lastLoss = lossSum / Math.max(1, lossCount);
            double score = evaluate(w, router, heldOut, metric).value();
            history.add(score);
            progress.note(String.format("epoch %d  loss %.4f  held-out %s %.4f", epoch, lastLoss, metric == RouterMetric.F1 ? "F1" : "recall", score));
            if (score > bestScore) {
                bestScore = score;
                bestEpoch = epoch;
                best = copy(params);
            } else if (epoch - bestEpoch >= cfg.patience()) {
                break;
            }
        }
        for (int i = 0; i < params.length; i++) System.arraycopy(best[i], 0, params[i], 0, params[i].length);
        progress.finish(String.format("best held-out %s %.4f at epoch %d of %d", metric == RouterMetric.F1 ? "F1" : "recall",
                bestScore, bestEpoch, history.size()));
        return new Result(bestScore, bestEpoch, history, lastLoss);
    }

    /** Scores {@code router} on {@code data}, in chunks of rows. */
    static RouterMetric.Tally evaluate(Workers w, TrainableRouter router, Split data, RouterMetric metric) {
        int in = router.inputs(), out = router.outputs(), chunk = 1024;
        RouterMetric.Tally tally = metric.tally();
        float[] xb = new float[chunk * in], logits = new float[chunk * out];
        for (int start = 0; start < data.rows(); start += chunk) {
            int rows = Math.min(chunk, data.rows() - start);
            System.arraycopy(data.x(), start * in, xb, 0, rows * in);
            router.forward(w, xb, rows, logits);
            tally.add(logits, data.labels(), start, rows);
        }
        return tally;
    }

    /** Per output: {@code (negatives / positives)^power}, clamped to {@code [1/max, max]}. */
    static float[] positiveWeights(BitRows labels, TrainConfig cfg) {
        long[] pos = labels.columnCounts();
        float[] w = new float[labels.cols()];
        for (int j = 0; j < w.length; j++) {
            double ratio = pos[j] == 0 ? cfg.maxPosWeight() : (double) (labels.rows() - pos[j]) / pos[j];
            double weight = Math.pow(ratio, cfg.posWeightPower());
            w[j] = (float) Math.max(1 / cfg.maxPosWeight(), Math.min(cfg.maxPosWeight(), weight));
        }
        return w;
    }

    /**
     * Mean weighted binary cross-entropy over the batch's {@code rows * out} logits (0 unless {@code withLoss}),
     * {@code -[w y log s(z) + (1-y) log(1-s(z))]}, and its gradient {@code (w y (s-1) + (1-y) s) / (rows * out)}.
     */
    /** Batches between loss samples (computing it costs as much as the gradient's sigmoid again). */
    static final int LOSS_EVERY = 8;

    static double lossAndGradient(Workers w, float[] logits, float[] labels, float[] posWeight, int rows, int out, float[] grad) {
        return lossAndGradient(w, logits, labels, posWeight, rows, out, grad, true);
    }

    static double lossAndGradient(Workers w, float[] logits, float[] labels, float[] posWeight, int rows, int out, float[] grad, boolean withLoss) {
        java.util.concurrent.atomic.DoubleAdder loss = new java.util.concurrent.atomic.DoubleAdder();
        float scale = 1f / (rows * out);
        w.forRange(rows, 32, (from, to) -> {
            double part = 0;
            for (int e = from * out; e < to * out; e++) {
                float z = logits[e], y = labels[e], wp = posWeight[e % out];
                float s = (float) (1 / (1 + Math.exp(-z)));
                if (withLoss) {
                    double sp = softplus(z); // -log(1-s); -log(s) = sp - z
                    part += y * wp * (sp - z) + (1 - y) * sp;
                }
                grad[e] = (wp * y * (s - 1) + (1 - y) * s) * scale;
            }
            loss.add(part);
        });
        return loss.sum() * scale;
    }

    /** {@code log(1 + e^z)} without overflow. */
    static double softplus(double z) {
        return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
    }

    private static void shuffle(int[] a, Random rnd) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1), t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    private static float[][] copy(float[][] a) {
        float[][] c = new float[a.length][];
        for (int i = 0; i < a.length; i++) c[i] = a[i].clone();
        return c;
    }
}
