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
 * {@link #large} (batch-summed MLP router scores, {@code n <= LARGE_MAX}) keeps the row in
 * registers (a contiguous run of up to 128 per work-item) and finds the k-th largest value by a
 * radix select of four 8-bit digits (a histogram in local memory per digit), then places the
 * winners with two block-wide prefix sums.
 */
public final class TopK {
    private TopK() {}

    static final int WARP = KernelContext.WARP_SIZE;
    /** Longest row {@link #small} takes. */
    public static final int SMALL_MAX = 256;
    /**
     * Work-items per group of {@link #large}: 256, which every NVIDIA compiler can launch whatever
     * the registers (NVIDIA's OpenCL allowed no more for this kernel; CUDA takes 512).
     */
    public static final int LARGE_THREADS = 256;
    static final int LARGE_WARPS = LARGE_THREADS / WARP;
    static final int LARGE_PER_THREAD = 128;
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
        for (int i = ctx.localIdx; i < n; i += ctx.localGroupSizeX) keys[i] = key(scores.get(row * n + i));
        ctx.localBarrier();
        selectRanked(ctx, keys, chosen, out, row, n, k);
    }

    /**
     * {@link #small}'s selection over keys already in local memory ({@code keys[0..n)}, written
     * before a barrier): the indices of the k largest into {@code out[row * k ..]}, ascending.
     * {@code chosen} is local scratch of at least {@code n}.
     */
    static void selectRanked(KernelContext ctx, int[] keys, int[] chosen, IntArray out, int row, int n, int k) {
        int threads = ctx.localGroupSizeX;
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
     * Top-k of rows of up to {@link #LARGE_MAX} scores. Launch with {@code Grid.groups(rows, LARGE_THREADS)};
     * pass {@code n} as an {@code Arg.constant} (it is the model's ffn), so that the per-work-item
     * loops have a constant trip count and the keys stay in registers.
     *
     * <p>A radix select: the k-th largest key is found one 8-bit digit at a time, top digit first,
     * four passes of a 256-bin histogram in local memory (one bin per work-item for the scan), each
     * pass counting only the keys whose higher digits match the ones found. Four rounds of barriers
     * instead of 32, and the later passes touch few keys. The histogram has {@link #COPIES} copies,
     * one per lane residue, so that lanes whose keys share a bin (ReLU'd rows are half zeros) mostly
     * bump different words: shared-memory atomics on one word serialize.
     */
    public static void large(KernelContext ctx, FloatArray scores, IntArray out, int n, int k) {
        int[] counts = ctx.allocateIntLocalArray(COPIES * COPY_STRIDE);
        int[] found = ctx.allocateIntLocalArray(2);
        float[] aboveTotals = ctx.allocateFloatLocalArray(LARGE_WARPS);
        float[] greaterTotals = ctx.allocateFloatLocalArray(LARGE_WARPS);
        float[] equalTotals = ctx.allocateFloatLocalArray(LARGE_WARPS);
        int[] keys = new int[LARGE_PER_THREAD];
        int row = ctx.groupIdx;
        int per = (n + LARGE_THREADS - 1) / LARGE_THREADS;
        int first = ctx.localIdx * per;
        loadKeys(scores, keys, row, n, first, per);
        int copy = (ctx.laneId() % COPIES) * COPY_STRIDE;
        int prefix = 0; // the k-th key's digits found so far, in unsigned order (key ^ MIN_VALUE)
        int need = k;   // how many of the keys that share those digits belong to the top k
        for (int shift = 24; shift >= 0; shift -= 8) {
            for (int i = ctx.localIdx; i < COPIES * COPY_STRIDE; i += LARGE_THREADS) counts[i] = 0;
            ctx.localBarrier();
            for (int c = 0; c < per; c++) {
                int u = keys[c] ^ Integer.MIN_VALUE;
                // the first pass counts every key; later ones the keys whose higher digits are the prefix's
                boolean candidate = shift == 24 || ((u ^ prefix) >>> (shift + 8)) == 0;
                if (candidate && first + c < n) ctx.atomicAdd(counts, copy + ((u >>> shift) & (RADIX - 1)), 1);
            }
            ctx.localBarrier();
            // work-item t scans the t-th largest digit: the keys before it in the scan are above it
            int digit = RADIX - 1 - ctx.localIdx;
            int inDigit = 0;
            for (int w = 0; w < COPIES; w++) inDigit += counts[w * COPY_STRIDE + digit];
            int above = exclusiveScan(ctx, aboveTotals, inDigit);
            if (above < need && above + inDigit >= need) {
                found[0] = digit;
                found[1] = need - above;
            }
            ctx.localBarrier();
            prefix = prefix | (found[0] << shift);
            need = found[1];
        }
        int kth = prefix ^ Integer.MIN_VALUE;
        place(ctx, keys, greaterTotals, equalTotals, out, row, first, per, k, kth, need);
    }

    /** Bins of one digit of {@link #large}'s radix select: one per work-item. */
    static final int RADIX = LARGE_THREADS;
    /** Copies of {@link #large}'s histogram, one per lane residue mod {@code COPIES}. */
    static final int COPIES = 8;
    /** Words between copies: one more than a digit's bins, so that one bin of each copy sits in a different bank. */
    static final int COPY_STRIDE = RADIX + 1;

    /**
     * Writes the row's winners in ascending index order: every key above the k-th key {@code kth}
     * ({@code k - tiesWanted} of them), then ties at {@code kth} by index until k are chosen. Each
     * work-item holds {@code per} consecutive keys from index {@code first}.
     */
    static void place(KernelContext ctx, int[] keys, float[] greaterTotals, float[] equalTotals, IntArray out,
                      int row, int first, int per, int k, int kth, int tiesWanted) {
        int greater = 0;
        int equal = 0;
        for (int c = 0; c < per; c++) {
            greater += keys[c] > kth ? 1 : 0;
            equal += keys[c] == kth ? 1 : 0;
        }
        int greaterBefore = exclusiveScan(ctx, greaterTotals, greater);
        int equalBefore = exclusiveScan(ctx, equalTotals, equal);
        for (int c = 0; c < per; c++) {
            if (keys[c] > kth) {
                out.set(row * k + greaterBefore + Math.min(equalBefore, tiesWanted), first + c);
                greaterBefore++;
            } else if (keys[c] == kth) {
                if (equalBefore < tiesWanted) out.set(row * k + greaterBefore + equalBefore, first + c);
                equalBefore++;
            }
        }
    }

    /**
     * The previous {@link #large}: the k-th key bit by bit, 32 rounds of one block reduction, each
     * walking every key (about 27 µs at 16384 on the H100, one SM). Kept as {@code TopKBench}'s
     * baseline until the radix select is measured against it; same contract and launch as {@link #large}.
     */
    public static void largeByBits(KernelContext ctx, FloatArray scores, IntArray out, int n, int k) {
        float[] sums = ctx.allocateFloatLocalArray(2 * LARGE_WARPS);
        float[] greaterTotals = ctx.allocateFloatLocalArray(LARGE_WARPS);
        float[] equalTotals = ctx.allocateFloatLocalArray(LARGE_WARPS);
        int[] keys = new int[LARGE_PER_THREAD];
        int row = ctx.groupIdx;
        int per = (n + LARGE_THREADS - 1) / LARGE_THREADS;
        int first = ctx.localIdx * per;
        loadKeys(scores, keys, row, n, first, per);
        // The k-th largest key, built from the top bit down in unsigned order (key ^ MIN_VALUE):
        // keep a bit when at least k keys are >= the candidate (candidates are above PADDING).
        // When exactly k are, those are the answer and the candidate serves as the k-th key.
        int threshold = 0;
        int bit = Integer.MIN_VALUE;
        int kth = 0;
        boolean exact = false;
        for (int round = 0; round < 32; round++) {
            // every round reduces (the barrier is reached by all); once exact, nothing is counted
            int candidate = (threshold | bit) ^ Integer.MIN_VALUE;
            int count = 0;
            if (!exact) {
                for (int c = 0; c < per; c++) count += keys[c] >= candidate ? 1 : 0;
            }
            int total = blockSum(ctx, sums, count, round);
            if (!exact && total >= k) threshold = threshold | bit;
            if (!exact && total == k) {
                exact = true;
                kth = candidate;
            }
            bit = bit >>> 1;
        }
        if (!exact) kth = threshold ^ Integer.MIN_VALUE;
        int greater = 0;
        for (int c = 0; c < per; c++) greater += keys[c] > kth ? 1 : 0;
        place(ctx, keys, greaterTotals, equalTotals, out, row, first, per, k, kth, k - blockSum(ctx, sums, greater, 32));
    }

    /** This work-item's {@code per} keys of row {@code row} from index {@code first}; slots past the row's end get {@link #PADDING}. */
    static void loadKeys(FloatArray scores, int[] keys, int row, int n, int first, int per) {
        for (int c = 0; c < per; c++) {
            int i = first + c;
            keys[c] = i < n ? key(scores.get(row * n + i)) : PADDING;
        }
    }

    /** Key of the slots past a row's end in {@link #large}: below every real key, so never counted or chosen. */
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

    /**
     * Sum of {@code value} (a count up to 2^24) over the work-group, returned to every work-item.
     * Double-buffered by the parity of {@code round} (consecutive calls: consecutive rounds), so one
     * barrier per call suffices: a work-item can only overwrite a buffer after everyone passed the
     * barrier of the call in between.
     */
    static int blockSum(KernelContext ctx, float[] sums, int value, int round) {
        int base = (round & 1) * LARGE_WARPS;
        float warpSum = ctx.warpReduceSum((float) value);
        if (ctx.laneId() == 0) sums[base + ctx.warpId()] = warpSum;
        ctx.localBarrier();
        float total = 0f;
        for (int w = 0; w < LARGE_WARPS; w++) total += sums[base + w];
        return (int) total;
    }

    /** Sum of {@code value} over the work-items before this one (counts up to 2^24); {@code totals} is used once. */
    static int exclusiveScan(KernelContext ctx, float[] totals, int value) {
        int lane = ctx.laneId();
        float inclusive = value;
        for (int offset = 1; offset < WARP; offset *= 2) {
            float up = ctx.warpShuffle(inclusive, lane >= offset ? lane - offset : lane);
            if (lane >= offset) inclusive += up;
        }
        if (lane == WARP - 1) totals[ctx.warpId()] = inclusive;
        ctx.localBarrier();
        float before = inclusive - value;
        for (int w = 0; w < ctx.warpId(); w++) before += totals[w];
        return (int) before;
    }
}
