package polar.tools.routers;

/** How a router is scored on held-out data; higher is better. */
enum RouterMetric {
    /** Attention: of each row's true top-k units, the fraction among the router's top-k (k = the row's label count). */
    TOP_K_RECALL,
    /** MLP: F1 of "neuron active" predicted as sigmoid(logit) > 0.5, i.e. logit > 0, over all (token, neuron) pairs. */
    F1;

    /** Running counts for one evaluation. */
    Tally tally() { return new Tally(this); }

    static final class Tally {
        final RouterMetric metric;
        long truePos, falsePos, falseNeg, trueNeg;
        long topKHits, topKTotal;
        private int[] order = new int[0];

        Tally(RouterMetric metric) { this.metric = metric; }

        /** Adds {@code rows} rows of logits {@code [rows, labels.cols()]}, labels from {@code labelRow0}. */
        void add(float[] logits, BitRows labels, int labelRow0, int rows) {
            int n = labels.cols();
            if (metric == TOP_K_RECALL) {
                if (order.length != n) order = new int[n];
                for (int i = 0; i < rows; i++) {
                    int k = labels.count(labelRow0 + i);
                    Labels.topK(logits, i * n, n, k, order);
                    for (int r = 0; r < k; r++) if (labels.get(labelRow0 + i, order[r])) topKHits++;
                    topKTotal += k;
                }
            } else {
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < n; j++) {
                        boolean predicted = logits[i * n + j] > 0, actual = labels.get(labelRow0 + i, j);
                        if (predicted && actual) truePos++;
                        else if (predicted) falsePos++;
                        else if (actual) falseNeg++;
                        else trueNeg++;
                    }
                }
            }
        }

        double recall() {
            return metric == TOP_K_RECALL ? ratio(topKHits, topKTotal) : ratio(truePos, truePos + falseNeg);
        }

        /** With k chosen by both sides, top-k precision equals top-k recall. */
        double precision() {
            return metric == TOP_K_RECALL ? ratio(topKHits, topKTotal) : ratio(truePos, truePos + falsePos);
        }

        double f1() {
            double p = precision(), r = recall();
            return p + r == 0 ? 0 : 2 * p * r / (p + r);
        }

        double value() { return metric == TOP_K_RECALL ? recall() : f1(); }

        private static double ratio(long a, long b) { return b == 0 ? 1.0 : (double) a / b; }
    }
}
