package polar.engine.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import polar.engine.Engine;
import polar.engine.EngineOptions;
import polar.engine.Sequence;
import polar.model.Model;
import polar.model.ModelLoader;
import polar.model.SharedAssets;
import polar.runtime.jvm.JvmBackend;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.GemmTask;
import polar.tornado.graph.TaskGraph;
import polar.tornado.layers.KvBuffers;
import polar.tornado.layers.LayerGraphBuilder;
import polar.tornado.layers.ModelBuffers;
import polar.tornado.layers.Precision;
import polar.tornado.layers.StepBuffers;
import polar.tornado.layers.StepShape;
import polar.tornado.layers.TransformerShape;
import polar.tornado.runtime.Backend;
import polar.tornado.types.ElementType;

/** Where a rank's step is cut and summed: after each layer's attention block and MLP block, over the rows of the residual stream. */
class TensorParallelLayerBuilderTest {

    /** A rank's communicator that records every device all-reduce before doing it. */
    private record Recording(Communicator inner, List<String> calls) implements Communicator {
        public int rank() { return inner.rank(); }
        public int size() { return inner.size(); }
        public void allReduceSum(MemorySegment data, ElementType<?> type, long count) { inner.allReduceSum(data, type, count); }
        public void allReduceSum(Backend backend, Buffer<?> buffer, long offset, long count) {
            calls.add(buffer.label() + "@" + offset + "+" + count);
            inner.allReduceSum(backend, buffer, offset, count);
        }
        public void barrier() { inner.barrier(); }
        public void abort(Throwable cause) { inner.abort(cause); }
    }

    @Test
    void twoAllReducesOfTheResidualPerLayer() throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/tiny-opt"));
        List<Communicator> local = LocalCommunicator.group(2);
        List<List<String>> calls = List.of(Collections.synchronizedList(new ArrayList<>()), Collections.synchronizedList(new ArrayList<>()));
        List<Communicator> recording = IntStream.range(0, 2).<Communicator>mapToObj(r -> new Recording(local.get(r), calls.get(r))).toList();
        List<Backend> backends = List.of(new JvmBackend(), new JvmBackend());
        try (TensorParallelEngine engine = new TensorParallelEngine(backends, recording, model, EngineOptions.defaults().withMaxSequences(2).withMaxContext(32),
                LayerGraphBuilder::new)) {
            Sequence s = engine.newSequence();
            engine.prefill(List.of(s), List.of(new int[] {2, 100, 200}));
            int hidden = model.config().hidden(), tokens = 4; // 3 prompt tokens in the bucket of 4
            for (List<String> c : calls) {
                assertEquals(2 * model.config().layers(), c.size(), "one all-reduce after each attention and each MLP block: " + c);
                for (String call : c) assertEquals("step.x@0+" + tokens * hidden, call);
            }
            calls.forEach(List::clear);
            engine.decode(List.of(s), new int[] {300});
            for (List<String> c : calls) assertEquals(2 * model.config().layers(), c.size());
            assertTrue(calls.getFirst().stream().allMatch(call -> call.equals("step.x@0+" + hidden)), calls.getFirst().toString());
        }
    }

    /** What the engine gave a rank's builder factory. */
    private record Made(LayerGraphBuilder inner, TransformerShape shape, Precision precision, ModelBuffers weights, KvBuffers kv,
                        StepBuffers step, int partitionSize) {}

    /** Rank 0 adds its partial sums to the residual (beta 1); the other ranks write theirs in its place (beta 0). */
    @Test
    void onlyRankZeroKeepsTheResidual() throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/tiny-opt"));
        List<Made> made = Collections.synchronizedList(new ArrayList<>()); // ranks are made in rank order
        Engine.BuilderFactory recording = (shape, precision, weights, kv, step, p) -> {
            LayerGraphBuilder inner = new LayerGraphBuilder(shape, precision, weights, kv, step, p);
            made.add(new Made(inner, shape, precision, weights, kv, step, p));
            return inner;
        };
        try (TensorParallelEngine engine = new TensorParallelEngine(List.of(new JvmBackend(), new JvmBackend()), LocalCommunicator.group(2), model,
                EngineOptions.defaults().withMaxSequences(1).withMaxContext(32), recording)) {
            for (int r = 0; r < 2; r++) {
                Made m = made.get(r);
                RankBackend rank = (RankBackend) engine.engine(r).backend();
                List<TaskGraph> graphs = new TensorParallelLayerBuilder(m.inner(), rank, m.shape(), m.precision(), m.weights(), m.kv(), m.step(),
                        m.partitionSize()).build(new StepShape(StepShape.Kind.DECODE, 1, 1, 1));
                assertEquals(2 + 2 * model.config().layers(), graphs.size(), "embedding, two pieces per layer, head");
                int residual = 0;
                for (TaskGraph g : graphs) {
                    for (var task : g.tasks()) {
                        if (task instanceof GemmTask gemm && gemm.c() == m.step().x()) {
                            residual++;
                            assertEquals(r == 0 ? 1f : 0f, gemm.beta(), "rank " + r + " " + g.name());
                            assertSame(gemm, g.tasks().stream().filter(t -> t instanceof GemmTask).reduce((a, b) -> b).orElseThrow(),
                                    "the residual GEMM is the last GEMM of its piece");
                        }
                    }
                }
                assertEquals(2 * model.config().layers(), residual);
                rank.compile(graphs); // consumes the marks this build left
            }
        }
    }

    /** A builder whose blocks do not end in accumulating GEMMs cannot be split this way, and says so. */
    @Test
    void aBuilderWithoutResidualGemmsIsRefused() throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/tiny-opt"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> {
            try (TensorParallelEngine engine = new TensorParallelEngine(List.of(new JvmBackend(), new JvmBackend()), LocalCommunicator.group(2), model,
                    EngineOptions.defaults().withMaxSequences(1).withMaxContext(32),
                    (shape, precision, weights, kv, step, p) -> new LayerGraphBuilder(shape, precision, weights, kv, step, p) {
                        @Override
                        public List<TaskGraph> build(StepShape s) {
                            return List.of(embedding(s), head(s));
                        }
                    })) {
                engine.prefill(List.of(engine.newSequence()), List.of(new int[] {2}));
            }
        });
        assertTrue(e.getMessage().contains("found 0"), e.getMessage());
    }
}
