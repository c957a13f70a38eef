package polar.tornado.kernels;

import polar.tornado.KernelContext;
import polar.tornado.types.FloatArray;
import polar.tornado.types.IntArray;

/**
 * Top-k per row: for {@code scores [rows, n]} (float32), writes the indices of each row's
 * {@code k} largest scores to {@code out [rows, k]}, in ascending index order (the order is free
 * here and makes the gathers that use the list walk memory forwards). Ties go to the lower index,
 * so the choice is deterministic on every backend; NaN ranks below every number, -0 below +0.
 * Requires {@code 1 <= k <= n}.
 *
 * <p>{@link #small} (router scores over heads or KV groups, {@code n <= SMALL_MAX}) ranks every
 * element against the row in local memory: no reductions, a few microseconds at most.
 * {@link #large} (batch-summed MLP router scores, {@code n <= LARGE_MAX}) is a radix select in one
 * work-group of 1024: each warp reads its contiguous segment of the row 32 consecutive scores at a
 * time (coalesced; the row stays in L1 between passes), 7 passes (2 bits, then 6 of 5) find the k-th largest key
 * from per-work-item digit counts in local memory (no atomics, so heavy ties cost nothing extra), then
 * one block-wide scan and warp scans place the winners in index order.
 */
public final class TopK {
    private TopK() {}

    static final int WARP = KernelContext.WARP_SIZE;
    /** Longest row {@link #small} takes. */
    public static final int SMALL_MAX = 256;
    /**
     * Work-items per group of {@link #large}: 1024, one digit bucket per lane of a warp and a
     * 32-bucket count per work-item in 32 KB of local memory; its registers stay far below 64.
     */
    public static final int LARGE_THREADS = 1024;
    static final int LARGE_WARPS = LARGE_THREADS / WARP;
    static final int LARGE_PER_THREAD = 32; // a count field holds up to 255; 4 work-items' fields are added packed
    /** Longest row {@link #large} takes. */
    public static final int LARGE_MAX = LARGE_THREADS * LARGE_PER_THREAD;

    /**
     * Top-k of rows of up to {@link #SMALL_MAX} scores. Launch with {@code Grid.groups(rows, threads)}
     * for any multiple of 32 up to 256 ({@link #smallThreads}).
     */
    public static void small(KernelContext ctx, FloatArray scores, IntArray out, int n, int k) {
        int[] keys = ctx.allocateIntLocalArray(SMALL_MAX);
        int[] chosen = ctx.allocateIntLocalArray(SMALL_MAX);
        int row = ctx.groupIdx;
        int threads = ctx.localGroupSizeX;
        for (int i = ctx.localIdx; i < n; i += threads) keys[i] = key(scores.get(row * n + i));
        ctx.localBarrier();
        // rank = how many elements beat element i (greater, or equal with a lower index)
        for (int i = ctx.localIdx; i < n; i += threads) {
            int mine = keys[i];
            int rank = 0;
            for (int m = 0; m < n; m++) {
                int other = keys[m];
                if (other > mine || (other == mine && m < i)) rank++;
            }
            chosen[i] = rank < k ? 1 : 0;
        }
        ctx.localBarrier();
        for (int i = ctx.localIdx; i < n; i += threads) {
            if (chosen[i] == 1) {
                int before = 0;
                for (int m = 0; m < i; m++) before += chosen[m];
                out.set(row * k + before, i);
            }
        }
    }

    /** Work-items per group for {@link #small} over rows of {@code n}: enough for one element each, in whole warps. */
    public static int smallThreads(int n) {
        return Math.min(SMALL_MAX, (n + WARP - 1) / WARP * WARP);
    }

    /**
     * Top-k of rows of up to {@link #LARGE_MAX} scores. Launch with {@code Grid.groups(rows, LARGE_THREADS)}
     * (exactly). Pass {@code n} as an {@code Arg.constant} where it is fixed (the model's ffn): the
     * per-work-item loops then have a constant trip count and unroll.
     *
     * <p>Warp {@code w} owns the contiguous segment {@code [w * seg, (w + 1) * seg)} of the row and reads it
     * 32 consecutive scores at a time (coalesced), so index order is (warp, step, lane) order: the
     * compaction needs one block-wide scan, then warp scans only.
     */
    public static void large(KernelContext ctx, FloatArray scores, IntArray out, int n, int k) {
        // per-work-item digit counts, RADIX_BUCKETS 8-bit fields packed 4 to an int: hist[word * THREADS + item]
        int[] hist = ctx.allocateIntLocalArray(RADIX_WORDS * LARGE_THREADS);
        float[] warpCounts = ctx.allocateFloatLocalArray(LARGE_WARPS * 4);
        float[] greaterTotals = ctx.allocateFloatLocalArray(LARGE_WARPS);
        float[] equalTotals = ctx.allocateFloatLocalArray(LARGE_WARPS);
        int row = ctx.groupIdx;
        int item = ctx.localIdx;
        int lane = ctx.laneId();
        int warp = ctx.warpId();
        int steps = (n + LARGE_THREADS - 1) / LARGE_THREADS; // reads per work-item, at most LARGE_PER_THREAD
        int first = warp * steps * WARP + lane;               // this work-item's indices: first + s * WARP
        int[] keys = new int[KEYS_IN_REGISTERS]; // this work-item's first unsigned keys; the rest are read again
        for (int s = 0; s < steps && s < KEYS_IN_REGISTERS; s++) keys[s] = unsignedKey(scores, row, n, first + s * WARP);
        // Radix select on the unsigned key (key ^ MIN_VALUE, same order) from the top: 2 bits, then 5 a pass:
        // prefix = the k-th largest key's leading bits so far, above = how many keys have a greater
        // prefix. Once the prefix's keys are exactly the ones still wanted (done), passes count nothing.
        int prefix = 0;
        int above = 0;
        int width = 32; // bits below the prefix
        boolean done = false;
        for (int pass = 0; pass < RADIX_PASSES; pass++) {
            int shift = pass == 0 ? 32 - FIRST_BITS : width - RADIX_BITS; // the digit's lowest bit
            for (int w = 0; w < RADIX_WORDS; w++) hist[w * LARGE_THREADS + item] = 0;
            if (!done) {
                for (int s = 0; s < steps; s++) {
                    int i = first + s * WARP;
                    int u = s < KEYS_IN_REGISTERS ? keys[s] : unsignedKey(scores, row, n, i);
                    if (i < n && (pass == 0 || (u >>> width) == prefix)) {
                        int d = (u >>> shift) & (RADIX_BUCKETS - 1); // digit d counts in word d % 8, field d / 8
                        hist[(d & (RADIX_WORDS - 1)) * LARGE_THREADS + item] += 1 << (d & ~(RADIX_WORDS - 1));
                    }
                }
            }
            ctx.localBarrier();
            // work-item (word q, column j) adds up word q of columns j, j + 128, .. (fields <= 32 each,
            // so 4 add up packed), then its warp adds up 128 columns' worth for the word's 4 digits
            int q = item / (LARGE_THREADS / RADIX_WORDS);
            int j = item % (LARGE_THREADS / RADIX_WORDS);
            int base = q * LARGE_THREADS + j;
            int stride = LARGE_THREADS / RADIX_WORDS;
            int low = hist[base] + hist[base + stride] + hist[base + 2 * stride] + hist[base + 3 * stride];
            int high = hist[base + 4 * stride] + hist[base + 5 * stride] + hist[base + 6 * stride] + hist[base + 7 * stride];
            float warpCount = fieldSums(ctx, fields(low, high, 0), fields(low, high, 1), fields(low, high, 2), fields(low, high, 3));
            if ((lane & 7) == 0) warpCounts[warp * 4 + lane / 8] = warpCount;
            ctx.localBarrier();
            // lane d of every warp: how many keys with the prefix have digit d (word d % 8, field d / 8)
            int words = LARGE_WARPS / RADIX_WORDS; // warps per word
            float count = 0f;
            for (int s = 0; s < words; s++) count += warpCounts[((lane & (RADIX_WORDS - 1)) * words + s) * 4 + lane / RADIX_WORDS];
            float atLeast = count; // keys with the prefix and digit >= lane: a suffix sum over the lanes
            for (int offset = 1; offset < WARP; offset *= 2) {
                float up = ctx.warpShuffle(atLeast, lane + offset < WARP ? lane + offset : lane);
                if (lane + offset < WARP) atLeast += up;
            }
            // the k-th key's digit: the largest d with at least k keys above or at it
            int chosen = (int) ctx.warpReduceMax(above + (int) atLeast >= k ? (float) lane : -1f);
            int chosenAtLeast = (int) ctx.warpShuffle(atLeast, chosen);
            int chosenCount = (int) ctx.warpShuffle(count, chosen);
            if (!done) {
                above += chosenAtLeast - chosenCount;
                prefix = (prefix << (width - shift)) | chosen;
                width = shift;
                done = above + chosenCount == k; // the prefix's keys are exactly the ones still wanted
            }
        }
        // every key above the k-th's prefix wins; ties at it win by index until k are chosen (when the
        // select stopped early, the tied keys are exactly the ones wanted)
        int tiesWanted = k - above;
        int greater = 0;
        int equal = 0;
        for (int s = 0; s < steps; s++) {
            int i = first + s * WARP;
            int top = (s < KEYS_IN_REGISTERS ? keys[s] : unsignedKey(scores, row, n, i)) >>> width;
            if (i < n) {
                greater += unsignedGreater(top, prefix) ? 1 : 0;
                equal += top == prefix ? 1 : 0;
            }
        }
        float warpGreater = ctx.warpReduceSum((float) greater);
        float warpEqual = ctx.warpReduceSum((float) equal);
        if (lane == 0) {
            greaterTotals[warp] = warpGreater;
            equalTotals[warp] = warpEqual;
        }
        ctx.localBarrier();
        int greaterBefore = (int) ctx.warpReduceSum(lane < warp ? greaterTotals[lane] : 0f);
        int equalBefore = (int) ctx.warpReduceSum(lane < warp ? equalTotals[lane] : 0f);
        // two steps at a time: each one's flags over the warp, packed as 6-bit fields (sums <= 32) of
        // greater, equal (step s), greater, equal (step s + 1), 24 bits: one inclusive scan for both
        for (int s = 0; s < steps; s += 2) {
            int i = first + s * WARP;
            int top = (s < KEYS_IN_REGISTERS ? keys[s] : unsignedKey(scores, row, n, i)) >>> width;
            int nextTop = (s + 1 < KEYS_IN_REGISTERS ? keys[s + 1] : unsignedKey(scores, row, n, i + WARP)) >>> width;
            boolean wins = i < n && unsignedGreater(top, prefix);
            boolean ties = i < n && top == prefix;
            boolean nextWins = s + 1 < steps && i + WARP < n && unsignedGreater(nextTop, prefix);
            boolean nextTies = s + 1 < steps && i + WARP < n && nextTop == prefix;
            int flags = (wins ? 1 : 0) + (ties ? 1 << 6 : 0) + (nextWins ? 1 << 12 : 0) + (nextTies ? 1 << 18 : 0);
            float inclusive = flags;
            for (int offset = 1; offset < WARP; offset *= 2) {
                float up = ctx.warpShuffle(inclusive, lane >= offset ? lane - offset : lane);
                if (lane >= offset) inclusive += up;
            }
            int before = (int) inclusive - flags;
            int total = (int) ctx.warpShuffle(inclusive, WARP - 1);
            place(out, row * k, greaterBefore + (before & 63), equalBefore + ((before >> 6) & 63), tiesWanted, wins, ties, i);
            greaterBefore += total & 63;
            equalBefore += (total >> 6) & 63;
            place(out, row * k, greaterBefore + ((before >> 12) & 63), equalBefore + (before >> 18), tiesWanted, nextWins, nextTies, i + WARP);
            greaterBefore += (total >> 12) & 63;
            equalBefore += total >> 18;
        }
    }

    /**
     * Writes index {@code i} into the list at {@code base} if it wins ({@code greater} keys beat it and
     * {@code equal} tie with it before it, in index order; ties win while fewer than {@code tiesWanted} came before).
     */
    static void place(IntArray out, int base, int greater, int equal, int tiesWanted, boolean wins, boolean ties, int i) {
        if (wins) out.set(base + greater + Math.min(equal, tiesWanted), i);
        else if (ties && equal < tiesWanted) out.set(base + greater + equal, i);
    }

    /** Field {@code f} (8 bits) of two packed digit counts, added. */
    static float fields(int low, int high, int f) {
        return ((low >>> (8 * f)) & 255) + ((high >>> (8 * f)) & 255);
    }

    /**
     * Warp sums of four values, scattered: lane {@code l} gets the sum of value {@code l / 8} over the
     * warp. A reduce-scatter butterfly: 6 shuffles where four warp reductions take 20.
     */
    static float fieldSums(KernelContext ctx, float v0, float v1, float v2, float v3) {
        int lane = ctx.laneId();
        boolean upper = (lane & 16) != 0; // keeps values 2 and 3, sends 0 and 1 (the others the reverse)
        float kept0 = (upper ? v2 : v0) + ctx.warpShuffleXor(upper ? v0 : v2, 16);
        float kept1 = (upper ? v3 : v1) + ctx.warpShuffleXor(upper ? v1 : v3, 16);
        boolean odd = (lane & 8) != 0;    // keeps the second of the two
        float sum = (odd ? kept1 : kept0) + ctx.warpShuffleXor(odd ? kept0 : kept1, 8);
        for (int mask = 4; mask > 0; mask >>= 1) sum += ctx.warpShuffleXor(sum, mask);
        return sum;
    }

    /**
     * Radix passes of {@link #large}: the first takes the top 2 bits (sign and exponent's top), the
     * other 6 take 5 each (one bucket per lane of a warp, 8-bit counts packed 4 to a word).
     */
    static final int FIRST_BITS = 2;
    static final int RADIX_BITS = 5;
    static final int RADIX_PASSES = 1 + (32 - FIRST_BITS) / RADIX_BITS;
    static final int RADIX_BUCKETS = 1 << RADIX_BITS;
    static final int RADIX_WORDS = RADIX_BUCKETS / 4;

    /**
     * Keys {@link #large} keeps in registers per work-item: all of a row of up to 16384 (OPT-6.7B's
     * ffn) at 56 registers on sm_90; longer rows read the rest again each pass.
     */
    static final int KEYS_IN_REGISTERS = 16;

    /** {@link #key} of {@code scores[row * n + i]} in unsigned order ({@code key ^ MIN_VALUE}); 0 past the row's end. */
    static int unsignedKey(FloatArray scores, int row, int n, int i) {
        return i < n ? key(scores.get(row * n + i)) ^ Integer.MIN_VALUE : 0;
    }

    /** {@code a > b} as unsigned ints. */
    static boolean unsignedGreater(int a, int b) {
        return (a ^ Integer.MIN_VALUE) > (b ^ Integer.MIN_VALUE);
    }

    /** Key that sorts below every real key (NaN's key is one above it). */
    static final int PADDING = Integer.MIN_VALUE;

    /**
     * A key whose signed int order is the float order: NaN lowest (just above {@link #PADDING}),
     * then -inf .. -0, +0 .. +inf.
     */
    static int key(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) return PADDING + 1;
        return bits >= 0 ? bits : bits ^ Integer.MAX_VALUE;
    }
}
