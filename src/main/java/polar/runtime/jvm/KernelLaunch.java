package polar.runtime.jvm;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import polar.tornado.KernelContext;
import polar.tornado.compiler.KernelCompiler;
import polar.tornado.compiler.KernelInfo;
import polar.tornado.graph.Grid;
import polar.tornado.graph.KernelRef;

/**
 * One launch of a Java kernel in this JVM, with its arguments bound once at compile time.
 *
 * <p>A {@code @Parallel} kernel is called once, its loops as written, when its grid is small
 * (below {@link #SERIAL_BELOW} work-items); above, its outermost loops are split over the cores
 * ({@link ParallelSlices}), one slice per core, each iteration computed exactly as serially. A {@code KernelContext}
 * kernel runs its work-groups in parallel over the cores. Within a group, a kernel without
 * barriers or warp operations runs its work-items one after another; any other runs each
 * work-item as a virtual thread, so barriers hold exactly as on a GPU.
 */
final class KernelLaunch implements Runnable {
    private final KernelRef kernel;
    private final Grid grid;
    private final MethodHandle bound; // ()void for @Parallel kernels, (KernelContext)void otherwise
    private final MethodHandle sliced; // ()void running the calling thread's slice; null: serial only
    private final boolean cooperative;
    private final boolean reuseContext;
    private final int lx, ly, lz, gx, gy, items;

    KernelLaunch(KernelRef kernel, Grid grid, Object[] arguments) {
        this(kernel, grid, arguments, kernel.usesContext() ? analyze(kernel) : null);
    }

    /** A launch whose KernelContext kernel is known to be as {@code info} says (null: unknown). */
    KernelLaunch(KernelRef kernel, Grid grid, Object[] arguments, KernelInfo info) {
        this.kernel = kernel;
        this.grid = grid;
        try {
            MethodHandle handle = MethodHandles.lookup().unreflect(kernel.method()); // KernelRef made it accessible
            MethodHandle withArgs = MethodHandles.insertArguments(handle, kernel.usesContext() ? 1 : 0, arguments);
            this.bound = withArgs.asType(kernel.usesContext() ? MethodType.methodType(void.class, KernelContext.class) : MethodType.methodType(void.class));
            MethodHandle slices = kernel.usesContext() || (long) grid.global(0) * grid.global(1) * grid.global(2) < SERIAL_BELOW || SLICES < 2 ? null : ParallelSlices.sliced(kernel);
            this.sliced = slices == null ? null : MethodHandles.insertArguments(slices, 0, arguments).asType(MethodType.methodType(void.class));
        } catch (IllegalAccessException | ClassCastException e) {
            throw new IllegalArgumentException("kernel " + kernel + ": cannot bind arguments " + Arrays.toString(arguments), e);
        }
        this.cooperative = info == null || info.usesBarriers() || info.usesWarpOps();
        this.reuseContext = info != null && info.localMemoryBytes() == 0;
        this.lx = grid.local(0);
        this.ly = grid.local(1);
        this.lz = grid.local(2);
        this.gx = grid.groups(0);
        this.gy = grid.groups(1);
        this.items = lx * ly * lz;
    }

    /** What the compiler knows of the kernel, or null where it cannot tell (then work-items cooperate, which is always correct). */
    private static KernelInfo analyze(KernelRef kernel) {
        try {
            return KernelCompiler.analyze(kernel);
        } catch (RuntimeException e) { // no source on the class path, not yet implemented, or outside the subset
            return null;
        }
    }

    /**
     * Grids of fewer work-items run a {@code @Parallel} kernel serially: splitting costs more than
     * it saves. {@code -Dpolar.jvm.serialBelow=N} changes it (1 splits every launch, as tests may).
     */
    static final int SERIAL_BELOW = Integer.getInteger("polar.jvm.serialBelow", 1 << 14);
    /** Slices of a split {@code @Parallel} kernel: one per core, the caller's included. */
    private static final int SLICES = Runtime.getRuntime().availableProcessors();
    private static final ExecutorService POOL = Executors.newFixedThreadPool(Math.max(1, SLICES - 1),
            Thread.ofPlatform().daemon().name("polar-jvm-parallel-", 0).factory());

    @Override
    public void run() {
        if (!kernel.usesContext()) {
            if (sliced == null) invoke(bound);
            else runSliced();
            return;
        }
        int groups = gx * gy * grid.groups(2);
        AtomicReference<KernelFailedException> failure = new AtomicReference<>();
        IntStream.range(0, groups).parallel().forEach(g -> {
            if (failure.get() != null) return;
            try {
                if (cooperative) runCooperative(g);
                else runSequential(g);
            } catch (KernelFailedException e) {
                failure.compareAndSet(null, e);
            }
        });
        if (failure.get() != null) throw failure.get();
    }

    private void invoke(MethodHandle handle) {
        try {
            handle.invokeExact();
        } catch (Throwable t) {
            throw new KernelFailedException(kernel + " failed: " + t, t);
        }
    }

    /** Slice s of the outer loop's grid range {@code [0, gx)}; the first and last slices are open-ended, so slices cover every int. */
    private void runSliced() {
        int size = grid.global(0);
        int slices = Math.min(SLICES, size);
        List<Future<?>> others = new ArrayList<>(slices - 1);
        for (int s = 1; s < slices; s++) {
            int from = (int) ((long) size * s / slices), to = s == slices - 1 ? Integer.MAX_VALUE : (int) ((long) size * (s + 1) / slices);
            others.add(POOL.submit(() -> ParallelSlices.inSlice(from, to, () -> invoke(sliced))));
        }
        KernelFailedException failure = null;
        try {
            ParallelSlices.inSlice(Integer.MIN_VALUE, slices == 1 ? Integer.MAX_VALUE : size / slices, () -> invoke(sliced));
        } catch (KernelFailedException e) {
            failure = e;
        }
        for (Future<?> f : others) {
            try {
                f.get();
            } catch (ExecutionException e) {
                if (failure == null) failure = e.getCause() instanceof KernelFailedException k ? k : new KernelFailedException(kernel + " failed: " + e.getCause(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new KernelFailedException(kernel + " was interrupted", e);
            }
        }
        if (failure != null) throw failure;
    }

    /** Whether this {@code @Parallel} launch is split over the cores. */
    boolean split() { return sliced != null; }

    private void runSequential(int g) {
        WorkGroup group = WorkGroup.sequential(kernel.toString(), items);
        KernelContext ctx = reuseContext ? newContext(group, g) : null;
        for (int item = 0; item < items; item++) {
            if (!reuseContext) ctx = newContext(group, g); // local allocations are counted per context
            place(ctx, item);
            try {
                bound.invokeExact(ctx);
            } catch (Throwable t) {
                throw failed(g, item, t);
            }
        }
    }

    private void runCooperative(int g) {
        Thread[] threads = new Thread[items];
        WorkGroup group = WorkGroup.cooperative(kernel.toString(), threads);
        for (int i = 0; i < items; i++) {
            int item = i;
            KernelContext ctx = newContext(group, g);
            place(ctx, item);
            threads[i] = Thread.ofVirtual().unstarted(() -> {
                try {
                    bound.invokeExact(ctx);
                    group.finished(item);
                } catch (GroupBarrier.BrokenGroupException e) {
                    // another work-item failed first and broke the barrier; that failure is reported
                } catch (Throwable t) {
                    group.fail(item, t);
                }
            });
        }
        for (Thread t : threads) t.start();
        try {
            for (Thread t : threads) t.join();
        } catch (InterruptedException e) {
            group.fail(-1, e);
            Thread.currentThread().interrupt();
            throw new KernelFailedException(kernel + " was interrupted", e);
        }
        WorkGroup.Failure f = group.failure();
        if (f != null) throw failed(g, f.item(), f.error());
    }

    private KernelContext newContext(WorkGroup group, int g) {
        KernelContext c = new KernelContext(group);
        c.localGroupSizeX = lx;
        c.localGroupSizeY = ly;
        c.localGroupSizeZ = lz;
        c.globalGroupSizeX = grid.global(0);
        c.globalGroupSizeY = grid.global(1);
        c.globalGroupSizeZ = grid.global(2);
        c.groupIdx = g % gx;
        c.groupIdy = (g / gx) % gy;
        c.groupIdz = g / (gx * gy);
        return c;
    }

    /** Sets the ids of work-item {@code item} (linear local id, x fastest) of the context's group. */
    private void place(KernelContext c, int item) {
        c.localIdx = item % lx;
        c.localIdy = (item / lx) % ly;
        c.localIdz = item / (lx * ly);
        c.globalIdx = c.groupIdx * lx + c.localIdx;
        c.globalIdy = c.groupIdy * ly + c.localIdy;
        c.globalIdz = c.groupIdz * lz + c.localIdz;
    }

    private KernelFailedException failed(int g, int item, Throwable t) {
        String where = " in work-group [" + g % gx + "," + (g / gx) % gy + "," + g / (gx * gy) + "]"
                + (item >= 0 ? " at work-item [" + item % lx + "," + (item / lx) % ly + "," + item / (lx * ly) + "]" : "");
        return new KernelFailedException(kernel + " failed" + where + ": " + t, t);
    }

    /** Whether work-items run as cooperating threads (else one after another). */
    boolean cooperative() { return cooperative; }

    @Override
    public String toString() { return kernel + " " + grid; }
}
