package polar.tornado.kernels;

import polar.tornado.Parallel;
import polar.tornado.types.FloatArray;
import polar.tornado.types.IntArray;

/**
 * Rotary position embedding in Hugging Face's half-split form: within the first {@code ropeDims}
 * dimensions of a head, element {@code i} pairs with {@code i + ropeDims/2}. Inverse frequencies
 * come from the host (where Llama 3.1 scaling is applied); angles are {@code position * invFreq}
 * in float32 like PyTorch's.
 */
public final class Rope {
    private Rope() {}

    /**
     * Rotates, in place, heads {@code 0..rotatedHeads-1} of each token's row of {@code qkv}
     * (queries then keys, {@code headDim} apart; rows {@code rowStride} apart) at the token's position.
     */
    public static void rotate(FloatArray qkv, IntArray positions, FloatArray invFreq,
                              int tokens, int rowStride, int rotatedHeads, int headDim, int ropeDims) {
        for (@Parallel int t = 0; t < tokens; t++) {
            for (@Parallel int j = 0; j < rotatedHeads * (ropeDims / 2); j++) {
                int half = ropeDims / 2;
                int i = j % half;
                int lo = t * rowStride + (j / half) * headDim + i;
                float angle = positions.get(t) * invFreq.get(i);
                float cos = (float) Math.cos(angle);
                float sin = (float) Math.sin(angle);
                float x0 = qkv.get(lo);
                float x1 = qkv.get(lo + half);
                qkv.set(lo, x0 * cos - x1 * sin);
                qkv.set(lo + half, x1 * cos + x0 * sin);
            }
        }
    }
}
