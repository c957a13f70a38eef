package polar.tornado.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.GemmTask;
import polar.tornado.graph.KernelTask;
import polar.tornado.graph.Task;
import polar.tornado.graph.TaskGraph;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.IntArray;

/** What the builder puts in a step's graphs for each family, precision and step kind (no device needed: buffers are stand-ins). */
class LayerGraphBuilderTest {
    static final TransformerShape LLAMA = new TransformerShape(64, 32, 2, 4, 2, 8, 48, TransformerShape.Norm.RMS, 1e-5f,
            TransformerShape.Mlp.SWIGLU, TransformerShape.Positions.ROTARY, 8, 0);
    static final TransformerShape OPT = new TransformerShape(64, 32, 2, 4, 4, 8, 48, TransformerShape.Norm.LAYER, 1e-5f,
            TransformerShape.Mlp.RELU, TransformerShape.Positions.LEARNED, 0, 2);

    /** A buffer that only has a type and a length. */
    static <T extends DeviceArray> Buffer<T> buffer(ElementType<T> type, long length, String label) {
        return new Buffer<>(type, length, label) {};
    }

    static LayerGraphBuilder builder(TransformerShape s, Precision p, int partitions) {
        boolean opt = s.norm() == TransformerShape.Norm.LAYER;
        List<LayerBuffers> layers = new ArrayList<>();
        for (int l = 0; l < s.layers(); l++) {
            layers.add(new LayerBuffers(f32(s.hidden()), opt ? f32(s.hidden()) : null,
                    buffer(ElementType.F16, (long) s.qkvDim() * s.hidden(), "qkv"), opt ? f32(s.qkvDim()) : null,
                    buffer(ElementType.F16, (long) s.hidden() * s.qDim(), "out"), opt ? f32(s.hidden()) : null,
                    f32(s.hidden()), opt ? f32(s.hidden()) : null,
                    buffer(ElementType.F16, (long) s.mlpInDim() * s.hidden(), "up"), opt ? f32(s.ffn()) : null,
                    buffer(ElementType.F16, (long) s.hidden() * s.ffn(), "down"), opt ? f32(s.hidden()) : null));
        }
        ModelBuffers weights = new ModelBuffers(buffer(ElementType.F16, (long) s.vocab() * s.hidden(), "embedding"),
                opt ? f32((s.positionOffset() + 64L) * s.hidden()) : null, layers, f32(s.hidden()), opt ? f32(s.hidden()) : null,
                buffer(ElementType.F16, (long) s.vocab() * s.hidden(), "lmHead"), opt ? null : f32(s.ropeDims() / 2));
        List<Buffer<?>> k = new ArrayList<>(), v = new ArrayList<>();
        for (int l = 0; l < s.layers(); l++) {
            k.add(buffer(p.kvCache(), 9L * 16 * s.kvDim(), "k"));
            v.add(buffer(p.kvCache(), 9L * 16 * s.kvDim(), "v"));
        }
        KvBuffers kv = new KvBuffers(k, v, buffer(ElementType.I32, 3 * 4, "table"), 16, 4);
        ElementType<?> a = p.activations();
        int t = 8, n = 4;
        StepBuffers step = new StepBuffers(i32(t), i32(t), i32(t), i32(n), f32(t * s.hidden()), buffer(a, t * s.hidden(), "normed"),
                f32(t * s.qkvDim()), buffer(a, t * s.qDim(), "attn"), f32(n * partitions * s.qDim()), f32(n * partitions * s.heads() * 2), i32(n * s.kvHeads()),
                f32(t * s.mlpInDim()), buffer(a, t * s.ffn(), "mlpAct"), f32(n * s.hidden()), buffer(a, n * s.hidden(), "lastNormed"),
                f32(n * s.vocab()), t, n, partitions);
        return new LayerGraphBuilder(s, p, weights, kv, step, 16);
    }

    static Buffer<FloatArray> f32(long n) { return buffer(ElementType.F32, n, "f32"); }

    static Buffer<IntArray> i32(long n) { return buffer(ElementType.I32, n, "i32"); }

    /** Kernel names, "gemm" for GEMM tasks. */
    static List<String> names(TaskGraph g) {
        List<String> r = new ArrayList<>();
        for (Task t : g.tasks()) r.add(t instanceof KernelTask k ? k.kernel().name() : t instanceof GemmTask ? "gemm" : t.toString());
        return r;
    }

    @Test
    void splitKMergesPartitionsOnlyWhereManyWorkGroupsRemain() {
        // LLaMA-2-7B decode, batch 16, context 4096: 32 x 16 x 16 = 8192 work-groups -> 4 partitions of 1024 positions
        assertEquals(new LayerGraphBuilder.Split(4, 1024), LayerGraphBuilder.Split.of(32, 16, 16, 256));
        // LLaMA-3-8B, batch 16: 8 x 16 x 16 = 2048 -> 8 of 512
        assertEquals(new LayerGraphBuilder.Split(8, 512), LayerGraphBuilder.Split.of(8, 16, 16, 256));
        // batch 1: 512 work-groups, too few to merge
        assertEquals(new LayerGraphBuilder.Split(16, 256), LayerGraphBuilder.Split.of(32, 1, 16, 256));
        // an odd count still covers every position the step asked for
        LayerGraphBuilder.Split odd = LayerGraphBuilder.Split.of(64, 64, 5, 256);
        assertEquals(new LayerGraphBuilder.Split(2, 1024), odd);
        assertTrue(odd.partitions() * odd.size() >= 5 * 256);
        assertEquals(new LayerGraphBuilder.Split(1, 256), LayerGraphBuilder.Split.of(64, 64, 1, 256));
    }

    @Test
    void llamaLayerPrefill() {
        List<TaskGraph> graphs = builder(LLAMA, Precision.FLOAT32, 1).build(new StepShape(StepShape.Kind.PREFILL, 8, 2, 1));
        assertEquals(LLAMA.layers() + 2, graphs.size());
        assertEquals(List.of("gatherHalf"), names(graphs.getFirst()));
        assertEquals(List.of("rmsnorm", "gemm", "rotateWriteKv", "paged", "gemm", "rmsnorm", "gemm", "swiglu", "gemm"), names(graphs.get(1)));
        assertEquals(List.of("gather", "rmsnorm", "gemm"), names(graphs.getLast()));
        GemmTask out = (GemmTask) graphs.get(1).tasks().get(4);
        assertEquals(1f, out.beta(), "the output projection adds into the residual stream");
        assertEquals(8, out.m());
        GemmTask head = (GemmTask) graphs.getLast().tasks().get(2);
        assertEquals(2, head.m(), "logits only for each sequence's last token");
    }

    @Test
    void optLayerWithBiasesLearnedPositionsAndSplitKDecodeInFloat16() {
        List<TaskGraph> graphs = builder(OPT, Precision.FLOAT16, 4).build(new StepShape(StepShape.Kind.DECODE, 4, 4, 4));
        assertEquals(List.of("gatherHalf", "addPositions"), names(graphs.getFirst()));
        // the output biases ride in the next LayerNorm: O-projection's in the MLP's, the MLP's in the next layer's or the head's
        // split-K attention merges its partitions in the same launch: no combine
        assertEquals(List.of("layernormHalf", "gemm", "biasWriteKvHalf", "pagedHalf", "gemm",
                "addLayernormHalf", "gemm", "biasReluHalf", "gemm"), names(graphs.get(1)));
        assertEquals("addLayernormHalf", names(graphs.get(2)).getFirst());
        assertEquals(List.of("gather", "addLayernormHalf", "gemm"), names(graphs.getLast()));
    }

    @Test
    void refusesWhatItCannotRun() {
        LayerGraphBuilder b = builder(LLAMA, Precision.FLOAT32, 1);
        var big = assertThrows(IllegalArgumentException.class, () -> b.build(new StepShape(StepShape.Kind.PREFILL, 16, 2, 1)));
        assertTrue(big.getMessage().contains("exceeds the step buffers"), big.getMessage());
        var split = assertThrows(IllegalArgumentException.class, () -> b.build(new StepShape(StepShape.Kind.DECODE, 4, 4, 2)));
        assertTrue(split.getMessage().contains("partitions"), split.getMessage());
        TransformerShape oddHead = new TransformerShape(64, 36, 1, 4, 2, 9, 48, TransformerShape.Norm.RMS, 1e-5f,
                TransformerShape.Mlp.SWIGLU, TransformerShape.Positions.ROTARY, 8, 0);
        var head = assertThrows(IllegalArgumentException.class, () -> builder(oddHead, Precision.FLOAT32, 1));
        assertTrue(head.getMessage().contains("multiple of 8"), head.getMessage());
        var mixed = assertThrows(UnsupportedOperationException.class,
                () -> builder(LLAMA, new Precision(ElementType.F32, ElementType.F16), 1).build(new StepShape(StepShape.Kind.PREFILL, 8, 2, 1)));
        assertTrue(mixed.getMessage().contains("one type"), mixed.getMessage());
    }
}
