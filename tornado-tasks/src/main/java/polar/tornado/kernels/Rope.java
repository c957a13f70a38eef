package polar.tornado.kernels;

import polar.tornado.Parallel;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
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
        for (@Parallel int j = 0; j < rotatedHeads * (ropeDims / 2); j++) {
            for (@Parallel int t = 0; t < tokens; t++) {
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

    /**
     * {@link #rotate} of the query and key heads fused with {@link Attention#writeKv}: one launch
     * instead of two, and K is read once. Work-item {@code (t, j)} of
     * {@code Grid.rows(tokens, rotateWriteKvItems(heads, kvHeads, headDim, ropeDims))} either rotates
     * one pair of a Q or K head (storing a K pair in the cache too), or copies one unrotated K
     * element (past {@code ropeDims}) or one V element into the cache. {@code qkv} ends as after
     * {@code rotate}; the cache as after {@code writeKv}, with the same float arithmetic.
     */
    public static void rotateWriteKv(FloatArray qkv, IntArray positions, FloatArray invFreq, FloatArray kCache, FloatArray vCache,
                                     IntArray blockTable, IntArray tokenSeq, int tokens, int heads, int kvHeads, int maxBlocks,
                                     int headDim, int ropeDims, int blockSize) {
        for (@Parallel int j = 0; j < (heads + kvHeads) * (ropeDims / 2) + kvHeads * (2 * headDim - ropeDims); j++) {
            for (@Parallel int t = 0; t < tokens; t++) {
                int half = ropeDims / 2;
                int pairs = (heads + kvHeads) * half;
                int kvDim = kvHeads * headDim;
                int row = t * (heads + 2 * kvHeads) * headDim;
                if (j < pairs) {
                    int h = j / half;
                    int lo = row + h * headDim + j % half;
                    float angle = positions.get(t) * invFreq.get(j % half);
                    float cos = (float) Math.cos(angle);
                    float sin = (float) Math.sin(angle);
                    float x0 = qkv.get(lo);
                    float x1 = qkv.get(lo + half);
                    float y0 = x0 * cos - x1 * sin;
                    float y1 = x1 * cos + x0 * sin;
                    qkv.set(lo, y0);
                    qkv.set(lo + half, y1);
                    if (h >= heads) {
                        int e = (h - heads) * headDim + j % half;
                        kCache.set(Attention.slotIndex(blockTable, tokenSeq, positions, t, e, kvDim, maxBlocks, headDim, blockSize), y0);
                        kCache.set(Attention.slotIndex(blockTable, tokenSeq, positions, t, e + half, kvDim, maxBlocks, headDim, blockSize), y1);
                    }
                } else {
                    int e = kvElement(j - pairs, kvHeads, headDim, ropeDims);
                    int slot = Attention.slotIndex(blockTable, tokenSeq, positions, t, e % kvDim, kvDim, maxBlocks, headDim, blockSize);
                    if (e < kvDim) kCache.set(slot, qkv.get(row + heads * headDim + e));
                    else vCache.set(slot, qkv.get(row + heads * headDim + e));
                }
            }
        }
    }

    /** {@link #rotateWriteKv} into a float16 cache. */
    public static void rotateWriteKvHalf(FloatArray qkv, IntArray positions, FloatArray invFreq, HalfArray kCache, HalfArray vCache,
                                         IntArray blockTable, IntArray tokenSeq, int tokens, int heads, int kvHeads, int maxBlocks,
                                         int headDim, int ropeDims, int blockSize) {
        for (@Parallel int j = 0; j < (heads + kvHeads) * (ropeDims / 2) + kvHeads * (2 * headDim - ropeDims); j++) {
            for (@Parallel int t = 0; t < tokens; t++) {
                int half = ropeDims / 2;
                int pairs = (heads + kvHeads) * half;
                int kvDim = kvHeads * headDim;
                int row = t * (heads + 2 * kvHeads) * headDim;
                if (j < pairs) {
                    int h = j / half;
                    int lo = row + h * headDim + j % half;
                    float angle = positions.get(t) * invFreq.get(j % half);
                    float cos = (float) Math.cos(angle);
                    float sin = (float) Math.sin(angle);
                    float x0 = qkv.get(lo);
                    float x1 = qkv.get(lo + half);
                    float y0 = x0 * cos - x1 * sin;
                    float y1 = x1 * cos + x0 * sin;
                    qkv.set(lo, y0);
                    qkv.set(lo + half, y1);
                    if (h >= heads) {
                        int e = (h - heads) * headDim + j % half;
                        kCache.set(Attention.slotIndex(blockTable, tokenSeq, positions, t, e, kvDim, maxBlocks, headDim, blockSize), y0);
                        kCache.set(Attention.slotIndex(blockTable, tokenSeq, positions, t, e + half, kvDim, maxBlocks, headDim, blockSize), y1);
                    }
                } else {
                    int e = kvElement(j - pairs, kvHeads, headDim, ropeDims);
                    int slot = Attention.slotIndex(blockTable, tokenSeq, positions, t, e % kvDim, kvDim, maxBlocks, headDim, blockSize);
                    if (e < kvDim) kCache.set(slot, qkv.get(row + heads * headDim + e));
                    else vCache.set(slot, qkv.get(row + heads * headDim + e));
                }
            }
        }
    }

    /** Work-items per token of {@link #rotateWriteKv}: the rotated pairs, the unrotated K elements and V. */
    public static int rotateWriteKvItems(int heads, int kvHeads, int headDim, int ropeDims) {
        return (heads + kvHeads) * (ropeDims / 2) + kvHeads * (2 * headDim - ropeDims);
    }

    /**
     * Element of the token's K|V part ({@code [0, kvDim)} K, then V) that copy item {@code c} moves:
     * first the unrotated tail {@code [ropeDims, headDim)} of each K head, then all of V.
     */
    static int kvElement(int c, int kvHeads, int headDim, int ropeDims) {
        int tail = headDim - ropeDims;
        if (c < kvHeads * tail) return (c / tail) * headDim + ropeDims + c % tail;
        return kvHeads * headDim + c - kvHeads * tail;
    }
}
