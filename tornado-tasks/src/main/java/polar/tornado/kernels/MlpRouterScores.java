package polar.tornado.kernels;

import polar.tornado.Parallel;
import polar.tornado.types.FloatArray;

/** Batch aggregation of MLP router logits for the plan's {@code softplus_sum} rule (see {@link SparseMlp#batchReluSum} for {@code relu_sum}). */
public final class MlpRouterScores {
    private MlpRouterScores() {}

    /** {@code sums[c] = sum over the batch of softplus(scores[b][c])}, for {@code scores [batch, ffn]}. Launch with {@code Grid.of(ffn)}. */
    public static void batchSoftplusSum(FloatArray scores, FloatArray sums, int batch, int ffn) {
        for (@Parallel int c = 0; c < ffn; c++) {
            float s = 0f;
            for (int b = 0; b < batch; b++) {
                float z = scores.get(b * ffn + c);
                s += z > 0f ? z + (float) Math.log(1f + (float) Math.exp(-z)) : (float) Math.log(1f + (float) Math.exp(z));
            }
            sums.set(c, s);
        }
    }
}
