package polar.engine.sparsity;

import java.util.Arrays;

/**
 * Calibrated MLP top-k per layer and batch size, for ReLU models: {@code k[layer][i]} neurons
 * (of {@code ffn}) cover the active neurons of a batch of up to {@code batchSizes[i]} tokens with
 * average recall {@code >= recall}. Stored at a few batch sizes; a batch size between two entries
 * uses the next larger one (k grows with the batch, so rounding up is the safe side).
 *
 * @param ffn        MLP width (neurons per layer)
 * @param tile       k is a multiple of this (the selective MLP kernel's tile), or {@code ffn}
 * @param denseAbove a layer whose k exceeds this fraction of {@code ffn} runs dense
 * @param score      how the batch's router logits are turned into neuron scores (the selection rule k was calibrated for)
 * @param recall     the batched recall the table was calibrated for
 * @param batchSizes strictly increasing batch sizes, the first at least 1
 * @param k          per layer, one k per batch size, each in {@code 1..ffn}
 */
public record MlpTable(int ffn, int tile, double denseAbove, MlpScore score, double recall, int[] batchSizes, int[][] k) {

    public static final double DEFAULT_DENSE_ABOVE = 0.8;

    public MlpTable {
        if (ffn <= 0 || tile <= 0) throw new IllegalArgumentException("ffn and tile must be positive: " + ffn + ", " + tile);
        if (!(denseAbove > 0 && denseAbove <= 1)) throw new IllegalArgumentException("denseAbove must be in (0, 1]: " + denseAbove);
        if (score == null) throw new IllegalArgumentException("no MLP score rule");
        if (batchSizes.length == 0) throw new IllegalArgumentException("no batch sizes");
        for (int i = 0; i < batchSizes.length; i++) {
            if (batchSizes[i] < 1 || (i > 0 && batchSizes[i] <= batchSizes[i - 1]))
                throw new IllegalArgumentException("batch sizes must be positive and strictly increasing: " + Arrays.toString(batchSizes));
        }
        for (int l = 0; l < k.length; l++) {
            if (k[l].length != batchSizes.length)
                throw new IllegalArgumentException("layer " + l + " has " + k[l].length + " k values for " + batchSizes.length + " batch sizes");
            for (int v : k[l]) if (v < 1 || v > ffn) throw new IllegalArgumentException("layer " + l + ": k = " + v + " outside 1.." + ffn);
        }
        batchSizes = batchSizes.clone();
        k = Arrays.stream(k).map(int[]::clone).toArray(int[][]::new);
    }

    public int layers() { return k.length; }

    /**
     * Neurons to compute in {@code layer} for a batch of {@code batch} tokens: the calibrated k of
     * the smallest tabulated batch size {@code >= batch}; {@code ffn} (dense) when that k exceeds
     * {@code denseAbove * ffn} or the batch is larger than any tabulated one.
     */
    public int k(int layer, int batch) {
        if (batch < 1) throw new IllegalArgumentException("batch size must be at least 1: " + batch);
        for (int i = 0; i < batchSizes.length; i++) {
            if (batchSizes[i] >= batch) {
                int kk = k[layer][i];
                return kk > denseAbove * ffn ? ffn : kk;
            }
        }
        return ffn;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MlpTable t && ffn == t.ffn && tile == t.tile && denseAbove == t.denseAbove && score == t.score && recall == t.recall
                && Arrays.equals(batchSizes, t.batchSizes) && Arrays.deepEquals(k, t.k);
    }

    @Override
    public int hashCode() { return Arrays.hashCode(batchSizes) * 31 + Arrays.deepHashCode(k) + ffn; }

    @Override
    public String toString() {
        return "MlpTable[ffn=" + ffn + ", tile=" + tile + ", denseAbove=" + denseAbove + ", score=" + score + ", recall=" + recall
                + ", batchSizes=" + Arrays.toString(batchSizes) + ", k=" + Arrays.deepToString(k) + "]";
    }
}
