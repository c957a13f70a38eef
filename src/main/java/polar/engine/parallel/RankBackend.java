package polar.engine.parallel;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.TaskGraph;
import polar.tornado.runtime.Backend;
import polar.tornado.runtime.Executable;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;

/**
 * One tensor-parallel rank's view of its device: the device's own backend, except that a compiled
 * step is cut after every graph that {@link TensorParallelLayerBuilder} marked, and the marked
 * buffer region is all-reduced over the group there. The pieces between the cuts are compiled by
 * the device's backend as usual, and the step is captured whole where the sums are stream-ordered
 * device work (NCCL), so a plain {@link polar.engine.Engine} runs a rank without knowing it is one.
 * Closing it leaves the device's backend open.
 */
final class RankBackend implements Backend {
    /** Sum {@code count} elements of {@code buffer} from {@code offset} over the ranks. */
    record AllReduce(Buffer<?> buffer, long offset, long count) {}

    private final Backend device;
    private final Communicator communicator;
    private final Map<TaskGraph, AllReduce> marks = Collections.synchronizedMap(new IdentityHashMap<>());
    /** All-reduce sizes already run once outside a capture (see {@link #capture}). */
    private final Set<Size> warmedUp = new HashSet<>();

    RankBackend(Backend device, Communicator communicator) {
        this.device = device;
        this.communicator = communicator;
    }

    Backend device() { return device; }

    Communicator communicator() { return communicator; }

    /** Makes the next compile of {@code graph} all-reduce {@code reduce} right after it. */
    void allReduceAfter(TaskGraph graph, AllReduce reduce) {
        marks.put(graph, reduce);
    }

    @Override
    public Executable compile(List<TaskGraph> graphs) {
        List<Segment> segments = new ArrayList<>();
        List<TaskGraph> pending = new ArrayList<>();
        for (TaskGraph g : graphs) {
            pending.add(g);
            AllReduce reduce = marks.remove(g);
            if (reduce != null) {
                segments.add(new Segment(device.compile(List.copyOf(pending)), reduce));
                pending.clear();
            }
        }
        if (!pending.isEmpty()) segments.add(new Segment(device.compile(List.copyOf(pending)), null));
        return new Program(segments);
    }

    /**
     * Where the communicator enqueues its sums on the device's stream ({@link Communicator#enqueuesOn}),
     * the whole step, all-reduces included, becomes one device graph (one launch per step); else each
     * piece between all-reduces is captured on its own and the sums run between them. Every distinct
     * all-reduce size runs once outside the capture first: NCCL connects its peers lazily, on the
     * first collective of each kind, which must not happen during a capture.
     */
    @Override
    public Executable capture(Executable executable) {
        if (!(executable instanceof Program p)) return device.capture(executable);
        if (communicator.enqueuesOn(device) && WHOLE_STEP_GRAPH) {
            warmUp(p);
            return device.capture(p);
        }
        return new Program(p.segments.stream().map(s -> new Segment(device.capture(s.work), s.reduce)).toList());
    }

    /** Runs an all-reduce of each size of {@code p} not run before, over a scratch buffer, and waits for it. */
    private void warmUp(Program p) {
        List<AllReduce> fresh = p.segments.stream().map(Segment::reduce)
                .filter(r -> r != null && warmedUp.add(new Size(r.buffer().type(), r.count()))).toList();
        if (fresh.isEmpty()) return;
        for (AllReduce r : fresh) {
            Buffer<?> scratch = device.allocate(r.buffer().type(), Math.max(1, r.count()), "tp.warmUp");
            try {
                communicator.allReduceSum(device, scratch, 0, r.count());
                device.synchronize();
            } finally {
                device.free(scratch);
            }
        }
    }

    /** Off ({@code -Dpolar.tp.wholeStepGraph=false}): capture the pieces between all-reduces separately (to isolate a capture problem). */
    private static final boolean WHOLE_STEP_GRAPH = !"false".equals(System.getProperty("polar.tp.wholeStepGraph"));

    private record Size(ElementType<?> type, long count) {}

    private record Segment(Executable work, AllReduce reduce) {}

    /** Compiled pieces, each followed by its all-reduce (the last one by none). */
    private final class Program implements Executable {
        final List<Segment> segments;

        Program(List<Segment> segments) { this.segments = segments; }

        @Override
        public void run() {
            for (Segment s : segments) {
                s.work.run();
                if (s.reduce != null) communicator.allReduceSum(device, s.reduce.buffer(), s.reduce.offset(), s.reduce.count());
            }
        }
    }

    // Everything else is the device's.

    @Override
    public String name() { return device.name(); }

    @Override
    public String deviceName() { return device.deviceName() + ", tensor-parallel rank " + communicator.rank() + " of " + communicator.size(); }

    @Override
    public <T extends DeviceArray> Buffer<T> allocate(ElementType<T> type, long length, String label) {
        return device.allocate(type, length, label);
    }

    @Override
    public <T extends DeviceArray> Buffer<T> upload(ElementType<T> type, MemorySegment host, String label) {
        return device.upload(type, host, label);
    }

    @Override
    public void write(Buffer<?> dst, long dstOffset, MemorySegment src, long count) { device.write(dst, dstOffset, src, count); }

    @Override
    public void read(Buffer<?> src, long srcOffset, MemorySegment dst, long count) { device.read(src, srcOffset, dst, count); }

    @Override
    public void free(Buffer<?> buffer) { device.free(buffer); }

    @Override
    public void synchronize() { device.synchronize(); }

    @Override
    public float time(Runnable work) { return device.time(work); }

    @Override
    public long[] memoryInfo() { return device.memoryInfo(); }

    @Override
    public void close() {}

    @Override
    public String toString() { return "rank " + communicator.rank() + " of " + communicator.size() + " on " + device; }
}
