package polar.model;

import polar.formats.Tensor;

/**
 * A plain float64 transformer over a loaded {@link Model}, one token at a time with a KV cache: Llama
 * (RMSNorm, half-split RoPE, GQA, SwiGLU) and OPT (LayerNorm, learned positions, ReLU, biases).
 * It checks that the loader hands out the right tensors in the right layout (including GGUF's un-permuted
 * Q/K rows); it is no part of the engine. Its blocks are public so other checks can recombine them
 * (tensor parallelism sums the blocks of the ranks' models: {@code polar.engine.parallel.ShardedReference}).
 */
public final class ReferenceForward {
    private final ModelConfig c;
    private final double[][] embed, positions, lmHead;
    private final double[] finalNorm, finalNormBias;
    private final Layer[] layers;
    private final double[][][] keys, values; // [layer][position][kvDim]
    private int position;

    private record Layer(double[] attnNorm, double[] attnNormBias, double[][] wq, double[] bq, double[][] wk, double[] bk,
                         double[][] wv, double[] bv, double[][] wo, double[] bo, double[] mlpNorm, double[] mlpNormBias,
                         double[][] gate, double[][] up, double[] upBias, double[][] down, double[] downBias) {}

    public ReferenceForward(Model m, int maxTokens) {
        c = m.config();
        ModelWeights w = m.weights();
        embed = matrix(w.tokenEmbedding());
        positions = matrix(w.positionEmbedding());
        lmHead = w.lmHead() == w.tokenEmbedding() ? embed : matrix(w.lmHead());
        finalNorm = vector(w.finalNorm());
        finalNormBias = vector(w.finalNormBias());
        layers = w.layers().stream().map(l -> new Layer(vector(l.attnNorm()), vector(l.attnNormBias()),
                matrix(l.wq()), vector(l.bq()), matrix(l.wk()), vector(l.bk()), matrix(l.wv()), vector(l.bv()),
                matrix(l.wo()), vector(l.bo()), vector(l.mlpNorm()), vector(l.mlpNormBias()),
                matrix(l.gate()), matrix(l.up()), vector(l.upBias()), matrix(l.down()), vector(l.downBias()))).toArray(Layer[]::new);
        keys = new double[c.layers()][maxTokens][];
        values = new double[c.layers()][maxTokens][];
    }

    static double[] vector(Tensor t) {
        if (t == null) return null;
        float[] f = t.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    static double[][] matrix(Tensor t) {
        if (t == null) return null;
        float[] f = t.toFloatArray();
        int rows = (int) t.dim(0), cols = (int) t.dim(1);
        double[][] m = new double[rows][cols];
        for (int r = 0; r < rows; r++) for (int k = 0; k < cols; k++) m[r][k] = f[r * cols + k];
        return m;
    }

    static double[] matvec(double[][] w, double[] x, double[] bias) {
        double[] y = new double[w.length];
        for (int r = 0; r < w.length; r++) {
            double s = bias == null ? 0 : bias[r];
            for (int k = 0; k < x.length; k++) s += w[r][k] * x[k];
            y[r] = s;
        }
        return y;
    }

    private double[] norm(double[] x, double[] weight, double[] bias) {
        double[] y = new double[x.length];
        if (c.architecture() == Architecture.LLAMA) {
            double ss = 0;
            for (double v : x) ss += v * v;
            double scale = 1 / Math.sqrt(ss / x.length + c.normEps());
            for (int i = 0; i < x.length; i++) y[i] = x[i] * scale * weight[i];
        } else {
            double mean = 0, var = 0;
            for (double v : x) mean += v;
            mean /= x.length;
            for (double v : x) var += (v - mean) * (v - mean);
            double scale = 1 / Math.sqrt(var / x.length + c.normEps());
            for (int i = 0; i < x.length; i++) y[i] = (x[i] - mean) * scale * weight[i] + bias[i];
        }
        return y;
    }

    /** Half-split rotary embedding: dims i and i + ropeDims/2 of each head rotate together. */
    private void rope(double[] v, int heads, int pos) {
        int d = c.headDim(), half = c.ropeDims() / 2;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++) {
                double angle = pos * Math.pow(c.ropeTheta(), -2.0 * i / c.ropeDims());
                double a = v[h * d + i], b = v[h * d + i + half];
                v[h * d + i] = a * Math.cos(angle) - b * Math.sin(angle);
                v[h * d + i + half] = b * Math.cos(angle) + a * Math.sin(angle);
            }
    }

    public int layers() { return layers.length; }

    /** Feeds {@code token} at the next position; returns the logits. */
    public double[] next(int token) {
        int pos = position++;
        double[] x = embedding(token, pos);
        for (int l = 0; l < layers.length; l++) {
            add(x, attention(l, x, pos));
            add(x, mlp(l, x));
        }
        return logits(x);
    }

    /** The residual stream's start: the token's embedding (plus its learned position). */
    public double[] embedding(int token, int pos) {
        double[] x = embed[token].clone();
        if (positions != null) add(x, positions[pos + c.positionOffset()]);
        return x;
    }

    /** The final norm and LM head. */
    public double[] logits(double[] x) {
        return matvec(lmHead, norm(x, finalNorm, finalNormBias), null);
    }

    /**
     * Layer {@code layer}'s attention block for hidden state {@code x} at position {@code pos}: what it adds
     * to the residual stream (the output projection, with its bias). Caches this position's K and V.
     */
    public double[] attention(int layer, double[] x, int pos) {
        Layer w = layers[layer];
        int d = c.headDim();
        double[] h = norm(x, w.attnNorm, w.attnNormBias);
        double[] q = matvec(w.wq, h, w.bq), k = matvec(w.wk, h, w.bk), v = matvec(w.wv, h, w.bv);
        if (c.architecture() == Architecture.LLAMA) { rope(q, c.heads(), pos); rope(k, c.kvHeads(), pos); }
        keys[layer][pos] = k;
        values[layer][pos] = v;
        double[] att = new double[c.qDim()];
        for (int head = 0; head < c.heads(); head++) {
            int kv = head / c.groupSize();
            double[] scores = new double[pos + 1];
            double max = Double.NEGATIVE_INFINITY;
            for (int t = 0; t <= pos; t++) {
                double s = 0;
                for (int i = 0; i < d; i++) s += q[head * d + i] * keys[layer][t][kv * d + i];
                scores[t] = s / Math.sqrt(d);
                max = Math.max(max, scores[t]);
            }
            double sum = 0;
            for (int t = 0; t <= pos; t++) sum += scores[t] = Math.exp(scores[t] - max);
            for (int t = 0; t <= pos; t++)
                for (int i = 0; i < d; i++) att[head * d + i] += scores[t] / sum * values[layer][t][kv * d + i];
        }
        return matvec(w.wo, att, w.bo);
    }

    /** Layer {@code layer}'s MLP block for hidden state {@code x}: what it adds to the residual stream (the down projection, with its bias). */
    public double[] mlp(int layer, double[] x) {
        Layer w = layers[layer];
        double[] h = norm(x, w.mlpNorm, w.mlpNormBias);
        double[] up = matvec(w.up, h, w.upBias);
        if (w.gate != null) {
            double[] g = matvec(w.gate, h, null);
            for (int i = 0; i < up.length; i++) up[i] *= g[i] / (1 + Math.exp(-g[i]));
        } else {
            for (int i = 0; i < up.length; i++) up[i] = Math.max(0, up[i]);
        }
        return matvec(w.down, up, w.downBias);
    }

    /** {@code x += y}. */
    public static void add(double[] x, double[] y) {
        for (int i = 0; i < x.length; i++) x[i] += y[i];
    }

    public static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
