package polar.tornado.kernels;

import polar.tornado.KernelContext;
import polar.tornado.Parallel;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/**
 * Batch aggregation of MLP router logits: the plan's {@code softplus_sum} rule
 * ({@link #batchSoftplusSum}; {@link SparseMlp#batchReluSum} is {@code relu_sum}), and, for small
 * batches, the router's second matrix and the aggregation in one pass ({@code upSum*}).
 */
public final class MlpRouterScores {
    private MlpRouterScores() {}

    /** {@code sums[c] = sum over the batch of softplus(scores[b][c])}, for {@code scores [batch, ffn]}. Launch with {@code Grid.of(ffn)}. */
    public static void batchSoftplusSum(FloatArray scores, FloatArray sums, int batch, int ffn) {
        for (@Parallel int c = 0; c < ffn; c++) {
            float s = 0f;
            for (int b = 0; b < batch; b++) s += softplus(scores.get(b * ffn + c));
            sums.set(c, s);
        }
    }

    /** {@code log(1 + e^z)}, without overflow for large z. */
    static float softplus(float z) {
        return z > 0f ? z + (float) Math.log(1f + (float) Math.exp(-z)) : (float) Math.log(1f + (float) Math.exp(z));
    }

    // ---- upSum*: sums[c] = sum over b of f(low[b] . up[c]), f = ReLU (useSoftplus == 0) or softplus (1),
    // for low [batch, rank] and up [ffn, rank] of one type, batch <= SparseMlp.MAX_BATCH_TILE
    // (batch an Arg.constant), rank % 8 == 0. Launch with Grid.groups(ceil(ffn / SparseMlp.NEURONS), SparseMlp.FC1_THREADS).
    // The router's second GEMM as a GEMV at the bytes bound (SparseMlp's FC1 loop over every row of
    // up, identity gather, no bias), with the batch aggregation folded in: the scores [batch, ffn]
    // are never written, and one launch less.

    public static void upSumF32(KernelContext ctx, FloatArray low, FloatArray up, FloatArray sums, int rank, int ffn, int batch, int useSoftplus) {
        float[] w = new float[8 * SparseMlp.ROWS_PER_WARP * SparseMlp.FC1_CHUNKS];
        float[] acc = new float[SparseMlp.ROWS_PER_WARP * SparseMlp.MAX_BATCH_TILE];
        int[] rowStart = new int[SparseMlp.ROWS_PER_WARP];
        int n0 = upRows(ctx, rowStart, rank, ffn);
        for (int c0 = 8 * ctx.laneId(); c0 < rank; c0 += SparseMlp.FC1_CHUNKS * SparseMlp.CHUNK) {
            for (int r = 0; r < SparseMlp.ROWS_PER_WARP; r++) {
                for (int s = 0; s < SparseMlp.FC1_CHUNKS; s++) {
                    SparseMlp.load8(up, SparseMlp.fc1Column(rowStart[r], c0 + s * SparseMlp.CHUNK, rank), w, r * SparseMlp.FC1_CHUNKS + s);
                }
            }
            SparseMlp.fc1Accumulate(low, w, acc, 0, c0, batch, rank, batch);
        }
        storeSums(ctx, acc, sums, n0, ffn, batch, useSoftplus);
    }

    public static void upSumF16(KernelContext ctx, HalfArray low, HalfArray up, FloatArray sums, int rank, int ffn, int batch, int useSoftplus) {
        float[] w = new float[8 * SparseMlp.ROWS_PER_WARP * SparseMlp.FC1_CHUNKS];
        float[] acc = new float[SparseMlp.ROWS_PER_WARP * SparseMlp.MAX_BATCH_TILE];
        int[] rowStart = new int[SparseMlp.ROWS_PER_WARP];
        int n0 = upRows(ctx, rowStart, rank, ffn);
        for (int c0 = 8 * ctx.laneId(); c0 < rank; c0 += SparseMlp.FC1_CHUNKS * SparseMlp.CHUNK) {
            for (int r = 0; r < SparseMlp.ROWS_PER_WARP; r++) {
                for (int s = 0; s < SparseMlp.FC1_CHUNKS; s++) {
                    SparseMlp.load8(up, SparseMlp.fc1Column(rowStart[r], c0 + s * SparseMlp.CHUNK, rank), w, r * SparseMlp.FC1_CHUNKS + s);
                }
            }
            SparseMlp.fc1Accumulate(low, w, acc, 0, c0, batch, rank, batch);
        }
        storeSums(ctx, acc, sums, n0, ffn, batch, useSoftplus);
    }

    /** The start of each of this warp's rows of {@code up} ({@code -1} past {@code ffn}); returns the warp's first row. */
    static int upRows(KernelContext ctx, int[] rowStart, int rank, int ffn) {
        int n0 = ctx.groupIdx * SparseMlp.NEURONS + ctx.warpId() * SparseMlp.ROWS_PER_WARP;
        for (int r = 0; r < SparseMlp.ROWS_PER_WARP; r++) rowStart[r] = n0 + r < ffn ? (n0 + r) * rank : -1;
        return n0;
    }

    /** Sums each (row, batch row) accumulator over the warp, applies ReLU or softplus, adds over the batch in order and writes the row's sum. */
    static void storeSums(KernelContext ctx, float[] acc, FloatArray sums, int n0, int ffn, int batch, int useSoftplus) {
        for (int r = 0; r < SparseMlp.ROWS_PER_WARP; r++) {
            float s = 0f;
            for (int b = 0; b < batch; b++) {
                float z = ctx.warpReduceSum(acc[r * SparseMlp.MAX_BATCH_TILE + b]);
                s += useSoftplus != 0 ? softplus(z) : Math.max(0f, z);
            }
            if (ctx.laneId() == 0 && n0 + r < ffn) sums.set(n0 + r, s);
        }
    }
}
