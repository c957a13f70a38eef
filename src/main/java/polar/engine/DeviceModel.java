package polar.engine;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import polar.formats.DType;
import polar.formats.Tensor;
import polar.model.Architecture;
import polar.model.LayerWeights;
import polar.model.Model;
import polar.model.ModelConfig;
import polar.model.ModelWeights;
import polar.tornado.graph.Buffer;
import polar.tornado.layers.LayerBuffers;
import polar.tornado.layers.ModelBuffers;
import polar.tornado.layers.TransformerShape;
import polar.tornado.runtime.Backend;
import polar.tornado.types.BFloat16Array;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/**
 * A model's weights uploaded once to a backend, in the layout the layer builder expects: Q, K, V
 * fused into one matrix (and SwiGLU's gate and up), norm weights and biases as float32, rotary
 * inverse frequencies computed here. A tied LM head shares the embedding's buffer.
 */
public final class DeviceModel implements AutoCloseable {
    private final Backend backend;
    private final TransformerShape shape;
    private final ModelBuffers buffers;
    private final List<Buffer<?>> owned;

    private DeviceModel(Backend backend, TransformerShape shape, ModelBuffers buffers, List<Buffer<?>> owned) {
        this.backend = backend;
        this.shape = shape;
        this.buffers = buffers;
        this.owned = owned;
    }

    public TransformerShape shape() { return shape; }

    public ModelBuffers buffers() { return buffers; }

    /** Bytes of device memory the weights take. */
    public long bytes() { return owned.stream().mapToLong(Buffer::byteSize).sum(); }

    /** The layer builder's view of a model config. */
    public static TransformerShape shapeOf(ModelConfig c) {
        return switch (c.architecture()) {
            case LLAMA -> new TransformerShape(c.vocabSize(), c.hidden(), c.layers(), c.heads(), c.kvHeads(), c.headDim(), c.ffn(),
                    TransformerShape.Norm.RMS, c.normEps(), TransformerShape.Mlp.SWIGLU, TransformerShape.Positions.ROTARY,
                    c.ropeDims(), 0);
            case OPT -> new TransformerShape(c.vocabSize(), c.hidden(), c.layers(), c.heads(), c.kvHeads(), c.headDim(), c.ffn(),
                    TransformerShape.Norm.LAYER, c.normEps(), TransformerShape.Mlp.RELU, TransformerShape.Positions.LEARNED,
                    0, c.positionOffset());
        };
    }

    /**
     * Rotary inverse frequencies {@code theta^(-2i/ropeDims)} as PyTorch computes them in float32,
     * with Llama 3.1 ("llama3") scaling: long wavelengths divided by {@code factor}, short ones
     * kept, those between blended.
     */
    public static float[] inverseFrequencies(ModelConfig c) {
        int half = c.ropeDims() / 2;
        float[] inv = new float[half];
        for (int i = 0; i < half; i++) {
            float exponent = (float) (2 * i) / c.ropeDims();
            inv[i] = 1f / (float) Math.pow(c.ropeTheta(), exponent);
        }
        ModelConfig.RopeScaling s = c.ropeScaling();
        if (s != null) {
            double lowWavelength = s.originalMaxPositions() / s.lowFreqFactor();
            double highWavelength = s.originalMaxPositions() / s.highFreqFactor();
            for (int i = 0; i < half; i++) {
                double wavelength = 2 * Math.PI / inv[i];
                if (wavelength > lowWavelength) {
                    inv[i] = inv[i] / s.factor();
                } else if (wavelength >= highWavelength) {
                    double smooth = (s.originalMaxPositions() / wavelength - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor());
                    inv[i] = (float) ((1 - smooth) * inv[i] / s.factor() + smooth * inv[i]);
                }
            }
        }
        return inv;
    }

    /** Uploads {@code model}'s weights to {@code backend}. */
    public static DeviceModel upload(Backend backend, Model model, WeightFormat format) {
        Uploader up = new Uploader(backend, format);
        ModelConfig c = model.config();
        ModelWeights w = model.weights();
        List<LayerBuffers> layers = new ArrayList<>();
        for (int l = 0; l < w.layers().size(); l++) {
            LayerWeights lw = w.layers().get(l);
            String p = "layer" + l + ".";
            boolean swiglu = c.architecture() == Architecture.LLAMA;
            layers.add(new LayerBuffers(
                    up.floats(p + "attnNorm", lw.attnNorm()), up.floats(p + "attnNormBias", lw.attnNormBias()),
                    up.matrix(p + "qkv", lw.wq(), lw.wk(), lw.wv()), up.floats(p + "qkvBias", lw.bq(), lw.bk(), lw.bv()),
                    up.matrix(p + "out", lw.wo()), up.floats(p + "outBias", lw.bo()),
                    up.floats(p + "mlpNorm", lw.mlpNorm()), up.floats(p + "mlpNormBias", lw.mlpNormBias()),
                    swiglu ? up.matrix(p + "gateUp", lw.gate(), lw.up()) : up.matrix(p + "up", lw.up()), up.floats(p + "upBias", lw.upBias()),
                    up.matrix(p + "down", lw.down()), up.floats(p + "downBias", lw.downBias())));
        }
        Buffer<?> embedding = up.embedding("tokenEmbedding", w.tokenEmbedding());
        Buffer<?> lmHead = w.lmHead() == w.tokenEmbedding() && up.matrixType(w.lmHead()) == embedding.type()
                ? embedding : up.matrix("lmHead", w.lmHead());
        Buffer<FloatArray> inverseFrequencies = c.architecture() == Architecture.LLAMA
                ? up.track(backend.upload(FloatArray.of(inverseFrequencies(c)), "inverseFrequencies")) : null;
        ModelBuffers buffers = new ModelBuffers(embedding, up.floats("positionEmbedding", w.positionEmbedding()), layers,
                up.floats("finalNorm", w.finalNorm()), up.floats("finalNormBias", w.finalNormBias()), lmHead, inverseFrequencies);
        return new DeviceModel(backend, shapeOf(c), buffers, up.owned);
    }

    @Override
    public void close() {
        for (Buffer<?> b : owned) backend.free(b);
        owned.clear();
    }

    /** Converts and uploads tensors, remembering every buffer it made. */
    private static final class Uploader {
        final Backend backend;
        final WeightFormat format;
        final List<Buffer<?>> owned = new ArrayList<>();

        Uploader(Backend backend, WeightFormat format) {
            this.backend = backend;
            this.format = format;
        }

        <T extends DeviceArray> Buffer<T> track(Buffer<T> b) {
            owned.add(b);
            return b;
        }

        /** Small vectors (norms, biases, positions): float32, the parts concatenated; null when the first part is absent. */
        Buffer<FloatArray> floats(String label, Tensor... parts) {
            if (parts[0] == null) return null;
            return track(backend.upload(ElementType.F32, concat(ElementType.F32, parts).segment(), label));
        }

        /** A projection ({@code [out, in]}, parts stacked along {@code out}) in the weight format. */
        Buffer<?> matrix(String label, Tensor... parts) {
            return upload(label, matrixType(parts), parts);
        }

        ElementType<?> matrixType(Tensor... parts) {
            return format == WeightFormat.FLOAT16 ? ElementType.F16 : storedType(parts);
        }

        /** The token table, which the gather kernels read as float16 or float32. */
        Buffer<?> embedding(String label, Tensor table) {
            ElementType<?> type = format == WeightFormat.FLOAT16 || table.dtype() == DType.F16 ? ElementType.F16 : ElementType.F32;
            return upload(label, type, table);
        }

        private Buffer<?> upload(String label, ElementType<?> type, Tensor... parts) {
            // One tensor already in the right type goes up as is (the JVM backend may then share the mapping).
            if (parts.length == 1 && elementType(parts[0].dtype()) == type) return track(backend.upload(type, parts[0].data(), label));
            return track(backend.upload(type, concat(type, parts).segment(), label));
        }

        private static ElementType<?> storedType(Tensor... parts) {
            ElementType<?> t = elementType(parts[0].dtype());
            for (Tensor p : parts) if (elementType(p.dtype()) != t) return ElementType.F32;
            return t == null ? ElementType.F32 : t;
        }

        private static ElementType<?> elementType(DType d) {
            return switch (d) {
                case F32 -> ElementType.F32;
                case F16 -> ElementType.F16;
                case BF16 -> ElementType.BF16;
                default -> null;
            };
        }

        /** The parts' values one after another, as a host array of {@code type}. */
        private static DeviceArray concat(ElementType<?> type, Tensor... parts) {
            long total = 0;
            for (Tensor p : parts) total += p.elements();
            if (total > Integer.MAX_VALUE) throw new IllegalArgumentException(parts[0] + ": too many elements for one buffer");
            DeviceArray out = type.wrap(java.lang.foreign.Arena.ofAuto().allocate(total * type.bytes(), 64));
            long at = 0;
            for (Tensor p : parts) {
                if (elementType(p.dtype()) == type) {
                    MemorySegment.copy(p.data(), 0, out.segment(), at * type.bytes(), p.elements() * type.bytes());
                } else {
                    float[] values = p.toFloatArray();
                    for (int i = 0; i < values.length; i++) set(out, (int) at + i, values[i]);
                }
                at += p.elements();
            }
            return out;
        }

        private static void set(DeviceArray a, int i, float v) {
            switch (a) {
                case FloatArray f -> f.set(i, v);
                case HalfArray h -> h.set(i, v);
                case BFloat16Array b -> b.set(i, v);
                default -> throw new IllegalArgumentException("weights cannot be stored as " + a.elementType());
            }
        }
    }
}
