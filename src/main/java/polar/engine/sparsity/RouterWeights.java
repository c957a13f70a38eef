package polar.engine.sparsity;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import polar.formats.DType;
import polar.formats.FormatException;
import polar.formats.Safetensors;
import polar.formats.Tensor;

/**
 * The trained routers of a model, per layer (either may be absent in a layer):
 * <ul>
 *   <li>attention router: {@code logits = W x + b}, W {@code [units, hidden]}, one logit per head (MHA) or
 *       KV group (GQA); each sequence keeps its top {@link SparsityPlan#attnK} units. Or two layers,
 *       {@code W ReLU(W1 x + b1) + b} (files with {@code attn_router.inner.*} tensors).</li>
 *   <li>MLP router (ReLU models): {@code logits = U (D x)}, D {@code [rank, hidden]}, U {@code [ffn, rank]},
 *       no bias and no non-linearity between (a low-rank linear map); a batch keeps the top k(B)
 *       neurons of {@code sum over the batch of ReLU(logits)}.</li>
 * </ul>
 * Both read the layer's normed attention input (what the QKV projection reads). Stored as
 * {@value #FILE_NAME} (float32; tensor names in {@link RouterTensor}).
 */
public final class RouterWeights {

    public static final String FILE_NAME = "polar-routers.safetensors";

    /**
     * Attention router of one layer. Linear ({@code inner == 0}): {@code logits = W x + b}, weight {@code [units, hidden]}.
     * Two-layer ({@code inner > 0}): {@code logits = W ReLU(W1 x + b1) + b}, innerWeight W1 {@code [inner, hidden]},
     * innerBias b1 {@code [inner]}, weight W {@code [units, inner]}; bias {@code [units]} either way.
     */
    public record AttentionRouter(int units, int hidden, float[] weight, float[] bias, int inner, float[] innerWeight, float[] innerBias) {
        public AttentionRouter {
            if (inner < 0) throw new IllegalArgumentException("attention router inner width " + inner);
            int in = inner > 0 ? inner : hidden;
            if (weight.length != units * in || bias.length != units)
                throw new IllegalArgumentException("attention router of " + units + "x" + in + " given " + weight.length + " weights, " + bias.length + " biases");
            if (inner > 0 && (innerWeight == null || innerBias == null || innerWeight.length != inner * hidden || innerBias.length != inner))
                throw new IllegalArgumentException("attention router's first layer must be " + inner + "x" + hidden + " with " + inner + " biases");
        }

        /** A linear router. */
        public AttentionRouter(int units, int hidden, float[] weight, float[] bias) {
            this(units, hidden, weight, bias, 0, null, null);
        }

        /** Logits {@code [rows, units]} of inputs {@code x [rows, hidden]}. */
        public float[] logits(float[] x, int rows) {
            float[] out = new float[rows * units];
            float[] h = new float[Math.max(1, inner)];
            for (int i = 0; i < rows; i++) {
                if (inner == 0) {
                    for (int u = 0; u < units; u++) out[i * units + u] = bias[u] + dot(x, i * hidden, weight, u * hidden, hidden);
                } else {
                    for (int j = 0; j < inner; j++) h[j] = Math.max(0f, innerBias[j] + dot(x, i * hidden, innerWeight, j * hidden, hidden));
                    for (int u = 0; u < units; u++) out[i * units + u] = bias[u] + dot(h, 0, weight, u * inner, inner);
                }
            }
            return out;
        }
    }

    /** MLP router of one layer: down {@code [rank, hidden]}, up {@code [ffn, rank]}. */
    public record MlpRouter(int hidden, int rank, int ffn, float[] down, float[] up) {
        public MlpRouter {
            if (down.length != rank * hidden || up.length != ffn * rank)
                throw new IllegalArgumentException("MLP router " + hidden + "->" + rank + "->" + ffn + " given " + down.length + " and " + up.length + " weights");
        }

        /** Logits {@code [rows, ffn]} of inputs {@code x [rows, hidden]}. */
        public float[] logits(float[] x, int rows) {
            float[] h = new float[rank];
            float[] out = new float[rows * ffn];
            for (int i = 0; i < rows; i++) {
                for (int r = 0; r < rank; r++) h[r] = dot(x, i * hidden, down, r * hidden, hidden);
                for (int n = 0; n < ffn; n++) out[i * ffn + n] = dot(h, 0, up, n * rank, rank);
            }
            return out;
        }
    }

    private final AttentionRouter[] attention;
    private final MlpRouter[] mlp;

    /** Routers per layer; null entries mean "no router in this layer". Both arrays have one entry per layer. */
    public RouterWeights(AttentionRouter[] attention, MlpRouter[] mlp) {
        if (attention.length != mlp.length) throw new IllegalArgumentException(attention.length + " attention layers, " + mlp.length + " MLP layers");
        this.attention = attention.clone();
        this.mlp = mlp.clone();
    }

    /** No router in any of {@code layers} layers (what the oracle needs). */
    public static RouterWeights none(int layers) {
        return new RouterWeights(new AttentionRouter[layers], new MlpRouter[layers]);
    }

    public int layers() { return attention.length; }

    /** The attention router of {@code layer}, or null. */
    public AttentionRouter attention(int layer) { return layer < attention.length ? attention[layer] : null; }

    /** The MLP router of {@code layer}, or null. */
    public MlpRouter mlp(int layer) { return layer < mlp.length ? mlp[layer] : null; }

    /**
     * Throws, naming {@code source} and the missing or misshapen tensor, unless every layer that
     * {@code plan} runs sparse has its router, shaped for a model of width {@code hidden}.
     */
    public void checkCovers(SparsityPlan plan, int hidden, String source) {
        for (int l = 0; l < plan.layers(); l++) {
            if (!plan.attnDense(l)) {
                AttentionRouter a = attention(l);
                if (a == null) throw new IllegalArgumentException(source + ": missing tensor " + RouterTensor.ATTN_WEIGHT.name(l)
                        + " (the plan keeps " + plan.attnK(l) + " of " + plan.units() + " " + plan.attentionUnit().jsonName + " in layer " + l + ")");
                if (a.units() != plan.units() || a.hidden() != hidden)
                    throw new IllegalArgumentException(source + ": tensor " + RouterTensor.ATTN_WEIGHT.name(l) + " is [" + a.units() + ", " + a.hidden()
                            + "], the model needs [" + plan.units() + ", " + hidden + "]");
            }
            MlpTable table = plan.mlp();
            if (table != null && !plan.mlpDense(l, 1)) {
                MlpRouter m = mlp(l);
                if (m == null) throw new IllegalArgumentException(source + ": missing tensor " + RouterTensor.MLP_DOWN.name(l)
                        + " (the plan's MLP table runs layer " + l + " sparse)");
                if (m.hidden() != hidden || m.ffn() != table.ffn())
                    throw new IllegalArgumentException(source + ": MLP router of layer " + l + " maps " + m.hidden() + " -> " + m.ffn()
                            + ", the model needs " + hidden + " -> " + table.ffn());
            }
        }
    }

    /** The tensors to store (float32), in layer order (see {@link RouterTensor}). */
    public List<Tensor> tensors() {
        List<Tensor> out = new ArrayList<>();
        for (int l = 0; l < layers(); l++) {
            AttentionRouter a = attention[l];
            if (a != null) {
                out.add(Tensor.f32(RouterTensor.ATTN_WEIGHT.name(l), a.weight(), a.units(), a.inner() > 0 ? a.inner() : a.hidden()));
                out.add(Tensor.f32(RouterTensor.ATTN_BIAS.name(l), a.bias(), a.units()));
                if (a.inner() > 0) {
                    out.add(Tensor.f32(RouterTensor.ATTN_INNER_WEIGHT.name(l), a.innerWeight(), a.inner(), a.hidden()));
                    out.add(Tensor.f32(RouterTensor.ATTN_INNER_BIAS.name(l), a.innerBias(), a.inner()));
                }
            }
            MlpRouter m = mlp[l];
            if (m != null) {
                out.add(Tensor.f32(RouterTensor.MLP_DOWN.name(l), m.down(), m.rank(), m.hidden()));
                out.add(Tensor.f32(RouterTensor.MLP_UP.name(l), m.up(), m.ffn(), m.rank()));
            }
        }
        return out;
    }

    /** A router tensor read onto the heap. */
    private record Loaded(String name, long[] shape, float[] data) {}

    /** Every tensor of {@code file}, which must all be float32. */
    private static Map<String, Loaded> readFloat32(Path file) {
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Loaded> out = new LinkedHashMap<>();
            for (Tensor t : Safetensors.openFile(file, arena).tensors().values()) {
                if (t.dtype() != DType.F32) throw new FormatException(file + ": tensor " + t.name() + " is " + t.dtype() + ", router files hold F32");
                out.put(t.name(), new Loaded(t.name(), t.shape(), t.toFloatArray()));
            }
            return out;
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException("router file not found: " + file, e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** Reads {@code file}; errors name the file and the tensor (unknown names, missing partners, shapes that disagree). */
    public static RouterWeights load(Path file) {
        String source = file.toString();
        Map<String, Loaded> tensors = readFloat32(file);
        int layers = 0;
        for (String name : tensors.keySet()) {
            RouterTensor.Name n = RouterTensor.parse(name);
            if (n == null) throw new FormatException(source + ": unexpected tensor " + name
                    + " (router tensors are named layers.<layer>.{attn_router.weight, attn_router.bias, attn_router.inner.weight, attn_router.inner.bias, mlp_router.down.weight, mlp_router.up.weight})");
            layers = Math.max(layers, n.layer() + 1);
        }
        AttentionRouter[] attention = new AttentionRouter[layers];
        MlpRouter[] mlp = new MlpRouter[layers];
        for (int l = 0; l < layers; l++) {
            Loaded w = tensors.get(RouterTensor.ATTN_WEIGHT.name(l)), b = tensors.get(RouterTensor.ATTN_BIAS.name(l));
            if (w != null || b != null) {
                Loaded present = w != null ? w : b;
                if (w == null) throw missing(source, RouterTensor.ATTN_WEIGHT.name(l), present.name());
                if (b == null) throw missing(source, RouterTensor.ATTN_BIAS.name(l), present.name());
                requireRank(source, w, 2);
                requireRank(source, b, 1);
                if (b.shape()[0] != w.shape()[0]) throw shapeMismatch(source, b, "[" + w.shape()[0] + "] to match " + w.name());
                Loaded w1 = tensors.get(RouterTensor.ATTN_INNER_WEIGHT.name(l)), b1 = tensors.get(RouterTensor.ATTN_INNER_BIAS.name(l));
                if (w1 == null && b1 == null) {
                    attention[l] = new AttentionRouter((int) w.shape()[0], (int) w.shape()[1], w.data(), b.data());
                } else {
                    if (w1 == null) throw missing(source, RouterTensor.ATTN_INNER_WEIGHT.name(l), b1.name());
                    if (b1 == null) throw missing(source, RouterTensor.ATTN_INNER_BIAS.name(l), w1.name());
                    requireRank(source, w1, 2);
                    requireRank(source, b1, 1);
                    if (w.shape()[1] != w1.shape()[0]) throw shapeMismatch(source, w, "[units, " + w1.shape()[0] + "] to match " + w1.name());
                    if (b1.shape()[0] != w1.shape()[0]) throw shapeMismatch(source, b1, "[" + w1.shape()[0] + "] to match " + w1.name());
                    attention[l] = new AttentionRouter((int) w.shape()[0], (int) w1.shape()[1], w.data(), b.data(), (int) w1.shape()[0], w1.data(), b1.data());
                }
            } else {
                for (RouterTensor t : new RouterTensor[] {RouterTensor.ATTN_INNER_WEIGHT, RouterTensor.ATTN_INNER_BIAS}) {
                    if (tensors.containsKey(t.name(l))) throw missing(source, RouterTensor.ATTN_WEIGHT.name(l), t.name(l));
                }
            }
            Loaded d = tensors.get(RouterTensor.MLP_DOWN.name(l)), u = tensors.get(RouterTensor.MLP_UP.name(l));
            if (d != null || u != null) {
                Loaded present = d != null ? d : u;
                if (d == null) throw missing(source, RouterTensor.MLP_DOWN.name(l), present.name());
                if (u == null) throw missing(source, RouterTensor.MLP_UP.name(l), present.name());
                requireRank(source, d, 2);
                requireRank(source, u, 2);
                if (u.shape()[1] != d.shape()[0]) throw shapeMismatch(source, u, "[ffn, " + d.shape()[0] + "] to match " + d.name());
                mlp[l] = new MlpRouter((int) d.shape()[1], (int) d.shape()[0], (int) u.shape()[0], d.data(), u.data());
            }
        }
        return new RouterWeights(attention, mlp);
    }

    private static FormatException missing(String source, String name, String partner) {
        return new FormatException(source + ": missing tensor " + name + " (" + partner + " is present)");
    }

    private static void requireRank(String source, Loaded t, int rank) {
        if (t.shape().length != rank) throw shapeMismatch(source, t, rank + " dimensions");
    }

    private static FormatException shapeMismatch(String source, Loaded t, String expected) {
        return new FormatException(source + ": tensor " + t.name() + " has shape " + Arrays.toString(t.shape()) + ", expected " + expected);
    }

    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }
}
