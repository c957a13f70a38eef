package polar.engine.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import polar.engine.EngineOptions;
import polar.engine.Sequence;
import polar.model.Model;
import polar.model.ModelLoader;
import polar.model.SharedAssets;
import polar.runtime.jvm.JvmBackend;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.TaskGraph;
import polar.tornado.runtime.Backend;
import polar.tornado.runtime.Executable;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;

/**
 * How a rank's step is captured. With a communicator whose sums are stream-ordered device work (NCCL on
 * the CUDA backend's stream), the whole step, all-reduces included, is one captured graph, and each
 * all-reduce size has run once outside a capture first; otherwise each piece between all-reduces is
 * captured alone and the sums run between them. Here a JVM backend stands in for the GPU: its
 * "capture" records by running the work once, and a replay runs it again.
 */
class RankBackendTest {

    /** What happened on a rank, in order: {@code capture}, and each all-reduce with where it ran. */
    private static final class Log {
        final List<String> events = Collections.synchronizedList(new ArrayList<>());
        /** Where the work runs now: {@code run} (plain), {@code captured} or {@code replayed} (inside a graph). */
        volatile String mode = "run";

        long count(String event) { return events.stream().filter(event::equals).count(); }
    }

    /** A JVM backend whose capture runs the work once, and whose replay runs it again, each marked in the log. */
    private record Capturing(Backend device, Log log) implements Backend {
        public Executable capture(Executable work) {
            log.events.add("capture");
            inMode("captured", work);
            return () -> inMode("replayed", work);
        }
        private void inMode(String mode, Executable work) {
            log.mode = mode;
            try {
                work.run();
            } finally {
                log.mode = "run";
            }
        }
        public String name() { return device.name(); }
        public String deviceName() { return device.deviceName(); }
        public <T extends DeviceArray> Buffer<T> allocate(ElementType<T> type, long length, String label) { return device.allocate(type, length, label); }
        public <T extends DeviceArray> Buffer<T> upload(ElementType<T> type, MemorySegment host, String label) { return device.upload(type, host, label); }
        public void write(Buffer<?> dst, long dstOffset, MemorySegment src, long count) { device.write(dst, dstOffset, src, count); }
        public void read(Buffer<?> src, long srcOffset, MemorySegment dst, long count) { device.read(src, srcOffset, dst, count); }
        public void free(Buffer<?> buffer) { device.free(buffer); }
        public Executable compile(List<TaskGraph> graphs) { return device.compile(graphs); }
        public void synchronize() { device.synchronize(); }
        public void close() { device.close(); }
    }

    /** A local rank that claims (or not) to enqueue its sums on the device's stream, logging each one. */
    private record Claiming(Communicator inner, boolean enqueues, Log log) implements Communicator {
        public int rank() { return inner.rank(); }
        public int size() { return inner.size(); }
        public void allReduceSum(MemorySegment data, ElementType<?> type, long count) { inner.allReduceSum(data, type, count); }
        public void allReduceSum(Backend backend, Buffer<?> buffer, long offset, long count) {
            log.events.add(log.mode + " " + buffer.label() + "+" + count);
            inner.allReduceSum(backend, buffer, offset, count);
        }
        public boolean enqueuesOn(Backend backend) { return enqueues; }
        public void barrier() { inner.barrier(); }
        public void abort(Throwable cause) { inner.abort(cause); }
    }

    @ParameterizedTest(name = "stream-ordered sums: {0}")
    @ValueSource(booleans = {true, false})
    void theWholeStepIsOneGraphWhereTheSumsAreStreamOrdered(boolean enqueues) throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/tiny-opt"));
        int ranks = 2, layers = model.config().layers(), hidden = model.config().hidden();
        List<Log> logs = IntStream.range(0, ranks).mapToObj(r -> new Log()).toList();
        List<Communicator> local = LocalCommunicator.group(ranks);
        List<Communicator> claiming = IntStream.range(0, ranks).<Communicator>mapToObj(r -> new Claiming(local.get(r), enqueues, logs.get(r))).toList();
        List<Backend> backends = IntStream.range(0, ranks).<Backend>mapToObj(r -> new Capturing(new JvmBackend(), logs.get(r))).toList();
        EngineOptions options = EngineOptions.defaults().withMaxSequences(1).withMaxContext(32);
        int[] prompt = {2, 100, 200};
        float[] expected;
        try (TensorParallelEngine plain = TensorParallelEngine.local(List.of(new JvmBackend(), new JvmBackend()), model, options)) {
            Sequence s = plain.newSequence();
            plain.prefill(List.of(s), List.of(prompt));
            expected = plain.decode(List.of(s), new int[] {300})[0];
        }
        try (TensorParallelEngine engine = new TensorParallelEngine(backends, claiming, model, options)) {
            Sequence s = engine.newSequence();
            engine.prefill(List.of(s), List.of(prompt));
            logs.forEach(l -> l.events.clear());
            assertArrayEquals(expected, engine.decode(List.of(s), new int[] {300})[0], "the same logits however the step is captured");
            for (Log log : logs) {
                String sum = "step.x+" + hidden; // one decode token's row
                if (enqueues) {
                    assertEquals(1, log.count("capture"), "one graph for the new decode bucket: " + log.events);
                    assertEquals(List.of("run tp.warmUp+" + hidden), log.events.subList(0, 1), "the new size warmed up first, outside the capture");
                    assertEquals(2 * layers, log.count("captured " + sum), "every all-reduce inside the graph: " + log.events);
                } else {
                    assertEquals(2 * layers + 1, log.count("capture"), "one graph per piece between all-reduces: " + log.events);
                    assertEquals(0, log.events.stream().filter(e -> e.startsWith("captured") || e.startsWith("replayed")).count(), "no all-reduce inside a graph");
                    assertTrue(log.count("run " + sum) >= 2 * layers, log.events.toString());
                }
            }
            logs.forEach(l -> l.events.clear());
            engine.decode(List.of(s), new int[] {301});
            for (Log log : logs) {
                assertEquals(0, log.count("capture"), "a replay captures nothing");
                assertEquals(2 * layers, log.count((enqueues ? "replayed " : "run ") + "step.x+" + hidden), log.events.toString());
                assertEquals(2 * layers, log.events.size(), "nothing else: " + log.events);
            }
        }
    }
}
