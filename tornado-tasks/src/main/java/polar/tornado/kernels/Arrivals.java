package polar.tornado.kernels;

import polar.tornado.KernelContext;
import polar.tornado.types.IntArray;

/**
 * Split work that merges itself: the work-groups that share an output each write their partial,
 * count themselves in, and the last to arrive merges every partial, in the same launch. This
 * saves the separate merge launch (a few µs each, even inside a CUDA graph) that split-K attention
 * and FC2 otherwise need. Deterministic: the merge reads the partials in a fixed order, whichever
 * group comes last.
 *
 * <p>The counters ({@code arrivals}, one int per output slot) start at zero and the merging group
 * puts its slot back to zero, so a buffer serves every launch and every replay of a graph.
 */
public final class Arrivals {
    private Arrivals() {}

    /**
     * Whether this work-group is the last of {@code groups} to reach this call for {@code slot},
     * returned to every work-item. Each work-item fences its global writes before one of them counts
     * the group in; the last group fences again before it reads the others' partials. Reached by
     * every work-item of the group; {@code flag} is a local array of at least one int.
     */
    public static boolean lastToArrive(KernelContext ctx, IntArray arrivals, int slot, int groups, int[] flag) {
        ctx.globalFence();
        ctx.localBarrier();
        if (ctx.localIdx == 0 && ctx.localIdy == 0 && ctx.localIdz == 0) {
            int before = ctx.atomicAdd(arrivals, slot, 1);
            flag[0] = before == groups - 1 ? 1 : 0;
            if (before == groups - 1) arrivals.set(slot, 0);
        }
        ctx.localBarrier();
        boolean last = flag[0] == 1;
        ctx.globalFence();
        return last;
    }
}
