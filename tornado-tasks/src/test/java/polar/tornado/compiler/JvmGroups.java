package polar.tornado.compiler;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import polar.tornado.KernelContext;
import polar.tornado.graph.KernelRef;

/**
 * Runs a KernelContext kernel in this JVM as the reference for tests: one group after another,
 * each work-item a virtual thread, meeting at barriers; warp shuffles exchange values through the
 * group between two barriers (so, as on OpenCL, every work-item must reach them). A small
 * stand-in for the JVM backend, which lives in a module above this one.
 */
final class JvmGroups {
    private JvmGroups() {}

    /** Runs {@code kernel} over {@code groups} groups of {@code local} work-items (dimension x) with {@code args}. */
    static void run(KernelRef kernel, int groups, int local, Object... args) throws InterruptedException {
        for (int g = 0; g < groups; g++) {
            Group group = new Group(local);
            List<Thread> threads = new ArrayList<>();
            List<Throwable> failures = new ArrayList<>();
            for (int t = 0; t < local; t++) {
                KernelContext ctx = new KernelContext(group);
                ctx.localIdx = t;
                ctx.groupIdx = g;
                ctx.globalIdx = g * local + t;
                ctx.localGroupSizeX = local;
                ctx.globalGroupSizeX = groups * local;
                ctx.localGroupSizeY = ctx.localGroupSizeZ = ctx.globalGroupSizeY = ctx.globalGroupSizeZ = 1;
                Object[] withContext = new Object[args.length + 1];
                withContext[0] = ctx;
                System.arraycopy(args, 0, withContext, 1, args.length);
                threads.add(Thread.ofVirtual().start(() -> {
                    try {
                        kernel.invoke(withContext);
                    } catch (Throwable e) {
                        synchronized (failures) {
                            failures.add(e);
                        }
                        group.barrier.reset();
                    }
                }));
            }
            for (Thread t : threads) t.join();
            if (!failures.isEmpty()) throw new AssertionError("kernel failed in the JVM", failures.getFirst());
        }
    }

    private static final class Group implements KernelContext.Group {
        final CyclicBarrier barrier;
        final List<Object> arrays = new ArrayList<>();
        final float[] exchange;

        Group(int size) {
            barrier = new CyclicBarrier(size);
            exchange = new float[size];
        }

        @Override
        public void barrier(int item) {
            await();
        }

        private void await() {
            try {
                barrier.await();
            } catch (InterruptedException | BrokenBarrierException e) {
                throw new IllegalStateException("barrier broken", e);
            }
        }

        @Override
        public synchronized Object localArray(int index, Class<?> type, int length) {
            while (arrays.size() <= index) arrays.add(type == float[].class ? new float[length] : new int[length]);
            return arrays.get(index);
        }

        @Override
        public float warpShuffle(int warp, int lane, float value, int srcLane) {
            await();
            exchange[warp * KernelContext.WARP_SIZE + lane] = value;
            await();
            return exchange[warp * KernelContext.WARP_SIZE + (srcLane & (KernelContext.WARP_SIZE - 1))];
        }
    }
}
