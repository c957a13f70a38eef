package polar.model;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import polar.formats.DType;
import polar.formats.Tensor;

/**
 * A {@link Model} of random weights with a config's real shapes, built in memory (no files), for
 * timing. Projections are uniform in {@code ±1/sqrt(in)} so activations stay finite through
 * every layer; norm weights are near 1. To keep host memory to one layer, every layer shares the
 * same host tensors: the engine still uploads each layer into its own device buffers, so a step
 * reads as many distinct bytes as the real model's would.
 */
public final class SyntheticModel {
    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Values per parallel chunk of a fill, each chunk with its own split of the generator. */
    private static final int CHUNK = 1 << 20;

    private SyntheticModel() {}

    /**
     * @param matrixType storage of projection and embedding tensors: {@link DType#F16} or {@link DType#F32}
     *                   (norms, biases and learned positions are always float32)
     */
    public static Model create(ModelConfig c, DType matrixType, long seed) {
        if (matrixType != DType.F16 && matrixType != DType.F32) throw new IllegalArgumentException("synthetic weights are F16 or F32, not " + matrixType);
        SplittableRandom random = new SplittableRandom(seed);
        boolean opt = c.architecture() == Architecture.OPT;
        int h = c.hidden(), q = c.qDim(), kv = c.kvDim(), f = c.ffn();
        Filler fill = new Filler(matrixType, random);
        LayerWeights layer = new LayerWeights(
                fill.norm("attn_norm", h), opt ? fill.bias("attn_norm_bias", h) : null,
                fill.matrix("wq", q, h), opt ? fill.bias("bq", q) : null,
                fill.matrix("wk", kv, h), opt ? fill.bias("bk", kv) : null,
                fill.matrix("wv", kv, h), opt ? fill.bias("bv", kv) : null,
                fill.matrix("wo", h, q), opt ? fill.bias("bo", h) : null,
                fill.norm("mlp_norm", h), opt ? fill.bias("mlp_norm_bias", h) : null,
                opt ? null : fill.matrix("gate", f, h), fill.matrix("up", f, h), opt ? fill.bias("up_bias", f) : null,
                fill.matrix("down", h, f), opt ? fill.bias("down_bias", h) : null);
        List<LayerWeights> layers = Collections.nCopies(c.layers(), layer);
        // The embedding is a gather table (scale 1); an untied LM head is its own tensor over the same host bytes.
        Tensor embedding = fill.tensor("tok_embeddings", matrixType, 1f, c.vocabSize(), h);
        Tensor lmHead = c.tiedEmbeddings() ? embedding
                : new Tensor("lm_head", embedding.dtype(), embedding.shape(), embedding.data(), embedding.file());
        Tensor positions = opt ? fill.tensor("positions", DType.F32, 1f, c.maxPositions() + c.positionOffset(), h) : null;
        ModelWeights weights = new ModelWeights(embedding, positions, layers,
                fill.norm("final_norm", h), opt ? fill.bias("final_norm_bias", h) : null, lmHead);
        return new Model(c, weights, null, null);
    }

    /** How a synthetic model is named where a model path is expected: {@code synthetic:llama2-7b}. */
    public static final String PREFIX = "synthetic:";

    /** Whether {@code model} names a synthetic model ({@value #PREFIX}NAME) rather than a file. */
    public static boolean isName(String model) { return model.startsWith(PREFIX); }

    /** The shape that {@code model} ({@value #PREFIX}NAME) names; an unknown name is an error listing the known ones. */
    public static BenchModel shape(String model) {
        if (!isName(model)) throw new IllegalArgumentException("'" + model + "' does not name a synthetic model (" + PREFIX + "NAME)");
        return BenchModel.byId(model.substring(PREFIX.length()));
    }

    /**
     * A synthetic model of {@code shape} that speaks {@code vocabulary}'s language: its tokenizer, BOS and EOS ids.
     * The vocabulary is the larger of the shape's and {@code vocabulary}'s, so the LM head keeps the real shape;
     * ids beyond the tokenizer's are never prompted (and a server samples below {@code tokenizer().vocabSize()}).
     */
    public static Model speaking(BenchModel shape, Model vocabulary, DType matrixType, long seed) {
        ModelConfig c = shape.config(), v = vocabulary.config();
        ModelConfig config = new ModelConfig(c.architecture(), Math.max(c.vocabSize(), vocabulary.tokenizer().vocabSize()), c.hidden(),
                c.layers(), c.heads(), c.kvHeads(), c.headDim(), c.ffn(), c.maxPositions(), c.normEps(), c.ropeTheta(), c.ropeScaling(),
                c.ropeDims(), c.positionOffset(), c.tiedEmbeddings(), v.bosId(), v.eosIds());
        return new Model(config, create(config, matrixType, seed).weights(), vocabulary.tokenizer(), null);
    }

    /** Makes random tensors, each from its own split of one generator. */
    private static final class Filler {
        final DType matrixType;
        final SplittableRandom random;

        Filler(DType matrixType, SplittableRandom random) {
            this.matrixType = matrixType;
            this.random = random;
        }

        Tensor matrix(String name, int out, int in) {
            return tensor(name, matrixType, (float) (1 / Math.sqrt(in)), out, in);
        }

        Tensor bias(String name, int n) {
            return tensor(name, DType.F32, 0.02f, n);
        }

        /** Near 1: 1 + uniform(±0.1). */
        Tensor norm(String name, int n) {
            Tensor t = tensor(name, DType.F32, 0.1f, n);
            for (long i = 0; i < n; i++) t.data().set(F32, 4 * i, 1f + t.data().get(F32, 4 * i));
            return t;
        }

        /** Uniform in {@code ±scale}. */
        Tensor tensor(String name, DType type, float scale, long... shape) {
            long n = 1;
            for (long d : shape) n *= d;
            long elements = n;
            int bytes = type == DType.F16 ? 2 : 4;
            MemorySegment data = Arena.ofAuto().allocate(elements * bytes, 64);
            int chunks = (int) ((elements + CHUNK - 1) / CHUNK);
            List<SplittableRandom> splits = new ArrayList<>(chunks);
            for (int i = 0; i < chunks; i++) splits.add(random.split());
            IntStream.range(0, chunks).parallel().forEach(chunk -> {
                SplittableRandom r = splits.get(chunk);
                long from = (long) chunk * CHUNK, to = Math.min(elements, from + CHUNK);
                for (long i = from; i < to; i++) {
                    float v = (float) ((r.nextDouble() * 2 - 1) * scale);
                    if (bytes == 2) data.set(F16, 2 * i, Float.floatToFloat16(v));
                    else data.set(F32, 4 * i, v);
                }
            });
            return new Tensor(name, type, shape, data, "<synthetic>");
        }
    }
}
