package polar.tools.routers;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import polar.engine.DeviceModel;
import polar.engine.sparsity.LayerObserver;
import polar.formats.Tensor;
import polar.model.Architecture;
import polar.model.LayerWeights;
import polar.model.Model;
import polar.model.ModelConfig;
import polar.model.ModelLoader;

/**
 * A plain-Java float32 forward pass (no LM head) that reports each layer's router data: the fast
 * way to collect on a CPU. The engine's JVM backend runs the same model (its taps, through
 * {@link EngineActivationSource}, agree with this to float rounding; see the tests) but its
 * work-group kernels are far slower for long prefills. Weights are held transposed ({@code [in, out]})
 * for {@link Mat}'s row-update products.
 */
public final class HostActivationSource implements ActivationSource {

    /** One layer's weights, transposed, as float32. Absent tensors are null. */
    private record Layer(float[] attnNorm, float[] attnNormBias, float[] wq, float[] bq, float[] wk, float[] bk, float[] wv, float[] bv,
                         float[] wo, float[] bo, float[] mlpNorm, float[] mlpNormBias, float[] gate, float[] up, float[] upBias,
                         float[] down, float[] downBias) {}

    private final Model model;
    private final ModelConfig c;
    private final RouterDataShape shape;
    private final Workers workers;
    private final float[] embedding, positions, inverseFrequencies;
    private final Layer[] layers;
    private final int maxSequences, window;

    public HostActivationSource(Model model, int maxSequences, int window, Workers workers) {
        this.model = model;
        this.c = model.config();
        this.shape = RouterDataShape.of(c);
        this.workers = workers;
        this.maxSequences = maxSequences;
        this.window = window;
        this.embedding = model.weights().tokenEmbedding().toFloatArray();
        this.positions = floats(model.weights().positionEmbedding());
        this.inverseFrequencies = c.architecture() == Architecture.LLAMA ? DeviceModel.inverseFrequencies(c) : null;
        this.layers = new Layer[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            LayerWeights w = model.weights().layers().get(l);
            layers[l] = new Layer(floats(w.attnNorm()), floats(w.attnNormBias()), transposed(w.wq()), floats(w.bq()), transposed(w.wk()),
                    floats(w.bk()), transposed(w.wv()), floats(w.bv()), transposed(w.wo()), floats(w.bo()), floats(w.mlpNorm()),
                    floats(w.mlpNormBias()), transposed(w.gate()), transposed(w.up()), floats(w.upBias()), transposed(w.down()),
                    floats(w.downBias()));
        }
    }

    public static final Opener OPENER = (path, backend, window) -> {
        try {
            return new HostActivationSource(ModelLoader.load(Path.of(path)), EngineActivationSource.DEFAULT_SEQUENCES, window,
                    new Workers(Workers.defaultThreads()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load model " + path + ": " + e.getMessage(), e);
        }
    };

    private static float[] floats(Tensor t) { return t == null ? null : t.toFloatArray(); }

    private static float[] transposed(Tensor t) {
        return t == null ? null : Mat.transpose(t.toFloatArray(), (int) t.dim(0), (int) t.dim(1));
    }

    @Override public RouterDataShape shape() { return shape; }

    @Override public String modelName() { return model.source().toAbsolutePath().toString(); }

    @Override public int[] encode(String text) { return model.tokenizer().encode(text, false); }

    @Override public int bos() { return c.bosId(); }

    @Override public int maxSequences() { return maxSequences; }

    @Override
    public void run(List<int[]> sequences, LayerObserver observer) {
        forward(sequences, observer, null);
    }

    /**
     * Which attention units each row keeps in a layer (>= 1): zeroes, in place, the values of the others in
     * {@code headOutput [rows, heads * headDim]} (before the output projection), as selective attention would.
     * {@code position[r]} is row r's position in its sequence.
     */
    @FunctionalInterface
    public interface HeadMask {
        void apply(int layer, int rows, int[] position, float[] normedInput, float[] headOutput);
    }

    @Override
    public float[] outputProjection(int layer) { return layers[layer].wo(); }

    private float[] lmHeadT, finalNorm, finalNormBias;

    /**
     * Teacher-forced negative log-likelihood: the summed {@code -log p(s[p] | s[..p))} over every sequence and
     * position {@code p >= 1}, and the count of those, as {@code {sum, count}}, with {@code mask} applied to the
     * attention of every layer >= 1. One causal pass per batch gives what teacher-forced decode gives: a position's
     * masked outputs feed later layers' keys and values at that position exactly as a decode step's would.
     */
    public double[] nll(List<int[]> sequences, HeadMask mask) {
        if (lmHeadT == null) {
            lmHeadT = transposed(model.weights().lmHead());
            finalNorm = floats(model.weights().finalNorm());
            finalNormBias = floats(model.weights().finalNormBias());
        }
        float[] x = forward(sequences, null, mask);
        int rows = x.length / c.hidden(), vocab = c.vocabSize();
        float[] normed = new float[x.length], logits = new float[Math.multiplyExact(rows, vocab)];
        norm(x, finalNorm, finalNormBias, normed, rows);
        Mat.mul(workers, normed, rows, c.hidden(), lmHeadT, vocab, logits);
        double sum = 0;
        long count = 0;
        int r = 0;
        for (int[] s : sequences) {
            for (int p = 0; p < s.length; p++, r++) {
                if (p + 1 >= s.length) continue;
                double max = Double.NEGATIVE_INFINITY, z = 0;
                for (int j = 0; j < vocab; j++) max = Math.max(max, logits[r * vocab + j]);
                for (int j = 0; j < vocab; j++) z += Math.exp(logits[r * vocab + j] - max);
                sum -= logits[r * vocab + s[p + 1]] - max - Math.log(z);
                count++;
            }
        }
        return new double[] {sum, count};
    }

    /** The residual stream after the last layer, {@code [rows, hidden]}; observer and mask may be null. */
    private float[] forward(List<int[]> sequences, LayerObserver observer, HeadMask mask) {
        int hidden = c.hidden(), qDim = c.qDim(), kvDim = c.kvDim(), ffn = c.ffn();
        int rows = 0;
        for (int[] s : sequences) {
            if (s.length > window) throw new IllegalArgumentException("sequence of " + s.length + " tokens; the window is " + window);
            rows += s.length;
        }
        int[] position = new int[rows], start = new int[sequences.size()];
        float[] x = new float[rows * hidden];
        int r = 0;
        for (int i = 0; i < sequences.size(); i++) {
            start[i] = r;
            int[] s = sequences.get(i);
            for (int p = 0; p < s.length; p++, r++) {
                position[r] = p;
                System.arraycopy(embedding, s[p] * hidden, x, r * hidden, hidden);
                if (positions != null) for (int j = 0; j < hidden; j++) x[r * hidden + j] += positions[(p + c.positionOffset()) * hidden + j];
            }
        }
        float[] normed = new float[rows * hidden], q = new float[rows * qDim], k = new float[rows * kvDim], v = new float[rows * kvDim];
        float[] heads = new float[rows * qDim], proj = new float[rows * hidden];
        float[] up = new float[rows * ffn], gate = c.architecture() == Architecture.LLAMA ? new float[rows * ffn] : null;
        for (int l = 0; l < layers.length; l++) {
            Layer w = layers[l];
            norm(x, w.attnNorm(), w.attnNormBias(), normed, rows);
            linear(normed, rows, hidden, w.wq(), w.bq(), qDim, q);
            linear(normed, rows, hidden, w.wk(), w.bk(), kvDim, k);
            linear(normed, rows, hidden, w.wv(), w.bv(), kvDim, v);
            if (inverseFrequencies != null) {
                rope(q, position, c.heads());
                rope(k, position, c.kvHeads());
            }
            attention(q, k, v, heads, sequences, start);
            if (mask != null && l >= 1) mask.apply(l, rows, position, normed, heads);
            float[] normedInput = observer == null ? null : normed.clone(), headOutput = observer == null ? null : heads.clone();
            linear(heads, rows, qDim, w.wo(), w.bo(), hidden, proj);
            for (int e = 0; e < x.length; e++) x[e] += proj[e];
            norm(x, w.mlpNorm(), w.mlpNormBias(), normed, rows);
            linear(normed, rows, hidden, w.up(), w.upBias(), ffn, up);
            float[] activity = null;
            if (gate == null) {
                for (int e = 0; e < up.length; e++) up[e] = Math.max(0f, up[e]);
                if (observer != null) activity = up.clone();
            } else {
                linear(normed, rows, hidden, w.gate(), null, ffn, gate);
                for (int e = 0; e < up.length; e++) up[e] *= gate[e] / (1f + (float) Math.exp(-gate[e])); // SiLU(gate) * up
            }
            linear(up, rows, ffn, w.down(), w.downBias(), hidden, proj);
            for (int e = 0; e < x.length; e++) x[e] += proj[e];
            if (observer != null) observer.layer(l, rows, normedInput, headOutput, activity);
        }
        return x;
    }

    /** {@code out[rows, outDim] = in[rows, inDim] W^T + bias}, with {@code wT} as {@code [inDim, outDim]}. */
    private void linear(float[] in, int rows, int inDim, float[] wT, float[] bias, int outDim, float[] out) {
        Mat.mul(workers, in, rows, inDim, wT, outDim, out);
        if (bias != null) for (int i = 0; i < rows; i++) for (int j = 0; j < outDim; j++) out[i * outDim + j] += bias[j];
    }

    /** LayerNorm (with a bias) or RMSNorm (without), row by row, in double for the statistics. */
    private void norm(float[] x, float[] weight, float[] bias, float[] out, int rows) {
        int n = c.hidden();
        for (int i = 0; i < rows; i++) {
            int o = i * n;
            double mean = 0, sq = 0;
            if (bias != null) {
                for (int j = 0; j < n; j++) mean += x[o + j];
                mean /= n;
            }
            for (int j = 0; j < n; j++) sq += (x[o + j] - mean) * (x[o + j] - mean);
            float inv = (float) (1 / Math.sqrt(sq / n + c.normEps()));
            for (int j = 0; j < n; j++) out[o + j] = (float) (x[o + j] - mean) * inv * weight[j] + (bias == null ? 0 : bias[j]);
        }
    }

    /** Rotary embedding, half-split form, of {@code heads} heads per row, in place. */
    private void rope(float[] a, int[] position, int heads) {
        int headDim = c.headDim(), half = c.ropeDims() / 2, width = heads * headDim;
        for (int r = 0; r < position.length; r++) {
            for (int i = 0; i < half; i++) {
                float angle = position[r] * inverseFrequencies[i];
                float cos = (float) Math.cos(angle), sin = (float) Math.sin(angle);
                for (int h = 0; h < heads; h++) {
                    int lo = r * width + h * headDim + i;
                    float x0 = a[lo], x1 = a[lo + half];
                    a[lo] = x0 * cos - x1 * sin;
                    a[lo + half] = x1 * cos + x0 * sin;
                }
            }
        }
    }

    /** Causal softmax attention within each sequence, every query head reading its KV head. */
    private void attention(float[] q, float[] k, float[] v, float[] out, List<int[]> sequences, int[] start) {
        int heads = c.heads(), headDim = c.headDim(), group = c.groupSize(), qDim = c.qDim(), kvDim = c.kvDim();
        float scale = (float) (1 / Math.sqrt(headDim));
        workers.forRange(sequences.size() * heads, 1, (from, to) -> {
            float[] scores = new float[window];
            for (int job = from; job < to; job++) {
                int seq = job / heads, h = job % heads, kv = h / group, base = start[seq], len = sequences.get(seq).length;
                for (int i = 0; i < len; i++) {
                    int qo = (base + i) * qDim + h * headDim;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        int ko = (base + j) * kvDim + kv * headDim;
                        float s = 0;
                        for (int d = 0; d < headDim; d++) s += q[qo + d] * k[ko + d];
                        scores[j] = s * scale;
                        max = Math.max(max, scores[j]);
                    }
                    float sum = 0;
                    for (int j = 0; j <= i; j++) sum += scores[j] = (float) Math.exp(scores[j] - max);
                    int oo = (base + i) * qDim + h * headDim;
                    java.util.Arrays.fill(out, oo, oo + headDim, 0f);
                    for (int j = 0; j <= i; j++) {
                        float p = scores[j] / sum;
                        int vo = (base + j) * kvDim + kv * headDim;
                        for (int d = 0; d < headDim; d++) out[oo + d] += p * v[vo + d];
                    }
                }
            }
        });
    }

    @Override
    public void close() {
        workers.close();
    }
}
