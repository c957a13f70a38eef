package polar.bench;

import java.util.List;
import java.util.Locale;
import polar.engine.DeviceModel;
import polar.engine.KvCache;
import polar.engine.WeightFormat;
import polar.formats.DType;
import polar.model.Architecture;
import polar.model.BenchModel;
import polar.model.SyntheticModel;
import polar.runtime.jvm.JvmBackend;
import polar.tornado.layers.LayerGraphBuilder;
import polar.tornado.layers.Precision;
import polar.tornado.layers.StepBuffers;
import polar.tornado.layers.StepShape;
import polar.tornado.layers.TransformerShape;
import polar.tornado.runtime.Backend;

/**
 * The types a benchmark row runs in: the engine's {@link Precision} (activations, KV cache), how
 * weights are stored on the device, and the type of the synthetic host tensors. {@code note} says
 * why a row runs in float32 where float16 was asked for.
 */
record Numerics(Precision precision, WeightFormat weights, DType synthetic, String note) {
    static final Numerics FLOAT16 = new Numerics(Precision.FLOAT16, WeightFormat.FLOAT16, DType.F16, "");
    static final Numerics FLOAT32 = new Numerics(Precision.FLOAT32, WeightFormat.AS_STORED, DType.F32, "");

    int weightBytes() { return synthetic == DType.F16 ? 2 : 4; }

    int kvBytes() { return precision.kvCache().bytes(); }

    String label() {
        return String.format(Locale.ROOT, "weights %s, %s", synthetic.name().toLowerCase(Locale.ROOT), precision);
    }

    /**
     * {@code auto}: float16 on CUDA (the precision policy) where the layer builder can build a float16
     * decode step for the model's family, else float32 with the builder's reason; float32 elsewhere.
     */
    static Numerics choose(DecodeBench.PrecisionChoice choice, Backend backend, BenchModel model) {
        return switch (choice) {
            case F16 -> FLOAT16;
            case F32 -> FLOAT32;
            case AUTO -> {
                if (!backend.name().equals("cuda")) yield FLOAT32;
                String missing = unsupported(FLOAT16, model.config().architecture());
                yield missing == null ? FLOAT16 : new Numerics(FLOAT32.precision, FLOAT32.weights, FLOAT32.synthetic,
                        "float16 decode is not buildable yet (" + missing + "); float32 weights, activations and KV cache instead");
            }
        };
    }

    /** Why the layer builder cannot build a decode step in {@code n}'s types (null: it can), tried on a smoke-sized model in the JVM. */
    static String unsupported(Numerics n, Architecture family) {
        BenchModel smoke = family == Architecture.OPT ? BenchModel.SMOKE_OPT : BenchModel.SMOKE_LLAMA;
        try (JvmBackend jvm = new JvmBackend();
             DeviceModel weights = DeviceModel.upload(jvm, SyntheticModel.create(smoke.config(), n.synthetic, 1), n.weights)) {
            TransformerShape shape = weights.shape();
            try (KvCache cache = new KvCache(jvm, shape, n.precision.kvCache(), 16, 3, 1, 32)) {
                StepBuffers step = StepBuffers.allocate(jvm, shape, n.precision, 1, 1, 1);
                List<?> graphs = new LayerGraphBuilder(shape, n.precision, weights.buffers(), cache.buffers(), step, 256)
                        .build(new StepShape(StepShape.Kind.DECODE, 1, 1, 1));
                return graphs.isEmpty() ? "no graphs" : null;
            }
        } catch (UnsupportedOperationException e) {
            return e.getMessage();
        }
    }
}
