package polar.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import polar.engine.DeviceModel;
import polar.engine.KvCache;
import polar.formats.DType;
import polar.engine.WeightFormat;
import polar.model.BenchModel;
import polar.model.SyntheticModel;
import polar.runtime.jvm.JvmBackend;
import polar.tornado.layers.Precision;
import polar.tornado.layers.StepBuffers;
import polar.tornado.layers.StepShape;
import polar.tornado.layers.TransformerShape;
import polar.tornado.types.IntArray;

class LayerBuildersTest {

    @Test
    void selectionCheckRejectsWhatTheKernelsCannotTake() {
        assertNull(LayerBuilders.invalid(new int[] {0, 3, 1, 2}, 2, 2, 4));
        assertTrue(LayerBuilders.invalid(new int[] {0, 4}, 1, 2, 4).contains("outside [0, 4)"));
        assertTrue(LayerBuilders.invalid(new int[] {-1, 2}, 1, 2, 4).contains("outside"));
        assertTrue(LayerBuilders.invalid(new int[] {2, 2}, 1, 2, 4).contains("not strictly ascending"), "duplicates");
        assertTrue(LayerBuilders.invalid(new int[] {3, 1}, 1, 2, 4).contains("not strictly ascending"));
        assertTrue(LayerBuilders.invalid(new int[] {0, 1, 2}, 2, 2, 4).contains("expected 2 x 2"));
    }

    /** One polar step of smoke-opt on the JVM: the index buffers the routers wrote are valid and differ per sequence. */
    @Test
    void randomRoutersWriteValidIndexBuffers() {
        BenchModel model = BenchModel.SMOKE_OPT;
        int batch = 6, context = 40;
        Sparsity sparsity = new Sparsity(0.5, 0.3);
        try (JvmBackend jvm = new JvmBackend();
             DeviceModel weights = DeviceModel.upload(jvm, SyntheticModel.create(model.config(), DType.F32, 7), WeightFormat.AS_STORED)) {
            TransformerShape shape = weights.shape();
            try (KvCache cache = new KvCache(jvm, shape, Precision.FLOAT32.kvCache(), 16, batch * 3 + 1, batch, context)) {
                for (int i = 0; i < batch; i++) cache.reserve(cache.acquireRow(), context);
                cache.sync();
                DeviceRandom random = new DeviceRandom(jvm, 11);
                for (int l = 0; l < shape.layers(); l++) {
                    random.fill(cache.buffers().keys().get(l));
                    random.fill(cache.buffers().values().get(l));
                }
                StepBuffers step = StepBuffers.allocate(jvm, shape, Precision.FLOAT32, batch, batch, 1);
                IntArray tokens = new IntArray(batch), positions = new IntArray(batch), rows = new IntArray(batch);
                for (int i = 0; i < batch; i++) {
                    tokens.set(i, 17 * i + 3);
                    positions.set(i, context - 1);
                    rows.set(i, i);
                }
                jvm.write(step.tokenIds(), tokens);
                jvm.write(step.positions(), positions);
                jvm.write(step.tokenSeq(), rows);
                jvm.write(step.lastRows(), rows);
                try (LayerBuilders builders = LayerBuilders.create(jvm, random, sparsity, shape, Precision.FLOAT32, weights.buffers(),
                        cache.buffers(), step, 256, batch)) {
                    jvm.compile(builders.builder().build(new StepShape(StepShape.Kind.DECODE, batch, batch, 1))).run();
                    jvm.synchronize();
                    Map<String, Object> found = builders.checkSelections(batch);
                    assertEquals(2, found.get("heads_per_sequence")); // half of 4 heads
                    assertEquals(4, found.get("units"));
                    assertTrue((int) found.get("distinct_head_sets") >= 2, "per-sequence selections: " + found);
                    assertEquals(256, found.get("neurons")); // 0.3 x 512 = 153.6, rounded up to 256
                    assertEquals(512, found.get("ffn"));
                    assertNotNull(found.get("first_sequence_heads"));
                    assertEquals(2, ((List<?>) found.get("first_sequence_heads")).size());
                } finally {
                    step.free(jvm);
                }
            }
        }
    }

    @Test
    void mlpSparsityNeedsAReluModel() {
        try (JvmBackend jvm = new JvmBackend();
             DeviceModel weights = DeviceModel.upload(jvm, SyntheticModel.create(BenchModel.SMOKE_LLAMA.config(), DType.F32, 7), WeightFormat.AS_STORED)) {
            TransformerShape shape = weights.shape();
            try (KvCache cache = new KvCache(jvm, shape, Precision.FLOAT32.kvCache(), 16, 3, 1, 32)) {
                StepBuffers step = StepBuffers.allocate(jvm, shape, Precision.FLOAT32, 1, 1, 1);
                assertThrows(UnsupportedOperationException.class, () -> LayerBuilders.create(jvm, new DeviceRandom(jvm, 1), new Sparsity(1, 0.5),
                        shape, Precision.FLOAT32, weights.buffers(), cache.buffers(), step, 256, 1));
                step.free(jvm);
            }
        }
    }
}
