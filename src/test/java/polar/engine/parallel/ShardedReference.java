package polar.engine.parallel;

import java.util.List;
import polar.formats.Tensor;
import polar.model.Architecture;
import polar.model.LayerWeights;
import polar.model.Model;
import polar.model.ModelConfig;
import polar.model.ModelWeights;

/**
 * A float64 transformer over the rank models of {@link Sharding}, one token at a time: each layer's
 * attention and MLP blocks run on every rank over the rank's heads and neurons, and the ranks'
 * block outputs are summed in rank order (what the all-reduce does) before the residual add. Over
 * one rank (the unsplit model) it is a plain float64 forward pass, the same math as
 * {@code polar.model.ReferenceForward} (whose blocks are not reachable from here: see
 * docs/tensor-parallel.md, Integration), and is checked against the golden outputs as such.
 */
final class ShardedReference {
    private final ModelConfig c;
    private final double[][] embed, positions, lmHead;
    private final double[] finalNorm, finalNormBias;
    private final Rank[] ranks;

    /** One rank's narrow layers and its KV cache: {@code keys[layer][position]} of its own KV heads. */
    private record Rank(ModelConfig c, Layer[] layers, double[][][] keys, double[][][] values) {}

    private record Layer(double[] attnNorm, double[] attnNormBias, double[][] wq, double[] bq, double[][] wk, double[] bk,
                         double[][] wv, double[] bv, double[][] wo, double[] bo, double[] mlpNorm, double[] mlpNormBias,
                         double[][] gate, double[][] up, double[] upBias, double[][] down, double[] downBias) {
        static Layer of(LayerWeights l) {
            return new Layer(vector(l.attnNorm()), vector(l.attnNormBias()), matrix(l.wq()), vector(l.bq()), matrix(l.wk()), vector(l.bk()),
                    matrix(l.wv()), vector(l.bv()), matrix(l.wo()), vector(l.bo()), vector(l.mlpNorm()), vector(l.mlpNormBias()),
                    matrix(l.gate()), matrix(l.up()), vector(l.upBias()), matrix(l.down()), vector(l.downBias()));
        }
    }

    ShardedReference(List<Model> shards, int maxTokens) {
        Model first = shards.getFirst();
        ModelWeights w = first.weights();
        c = first.config();
        embed = matrix(w.tokenEmbedding());
        positions = matrix(w.positionEmbedding());
        lmHead = w.lmHead() == w.tokenEmbedding() ? embed : matrix(w.lmHead());
        finalNorm = vector(w.finalNorm());
        finalNormBias = vector(w.finalNormBias());
        ranks = shards.stream().map(m -> new Rank(m.config(), m.weights().layers().stream().map(Layer::of).toArray(Layer[]::new),
                new double[c.layers()][maxTokens][], new double[c.layers()][maxTokens][])).toArray(Rank[]::new);
    }

    int ranks() { return ranks.length; }

    /** Feeds {@code token} at position {@code pos}; returns the logits. */
    double[] next(int token, int pos) {
        double[] x = embedding(token, pos);
        for (int l = 0; l < c.layers(); l++) {
            add(x, sum(attention(l, x, pos)));
            add(x, sum(mlp(l, x)));
        }
        return logits(x);
    }

    /** The residual stream's start: the token's embedding (plus its learned position). */
    double[] embedding(int token, int pos) {
        double[] x = embed[token].clone();
        if (positions != null) add(x, positions[pos + c.positionOffset()]);
        return x;
    }

    double[] logits(double[] x) {
        return matvec(lmHead, norm(x, finalNorm, finalNormBias), null);
    }

    /** Each rank's attention block output (its O-projection's partial sum) for hidden state {@code x}; caches this position's K and V. */
    double[][] attention(int layer, double[] x, int pos) {
        double[][] out = new double[ranks.length][];
        for (int r = 0; r < ranks.length; r++) out[r] = attention(ranks[r], layer, x, pos);
        return out;
    }

    /** Each rank's MLP block output (its down projection's partial sum) for hidden state {@code x}. */
    double[][] mlp(int layer, double[] x) {
        double[][] out = new double[ranks.length][];
        for (int r = 0; r < ranks.length; r++) out[r] = mlp(ranks[r].layers[layer], x);
        return out;
    }

    private double[] attention(Rank rank, int layer, double[] x, int pos) {
        Layer w = rank.layers[layer];
        ModelConfig rc = rank.c;
        int d = c.headDim();
        double[] h = norm(x, w.attnNorm, w.attnNormBias);
        double[] q = matvec(w.wq, h, w.bq), k = matvec(w.wk, h, w.bk), v = matvec(w.wv, h, w.bv);
        if (c.architecture() == Architecture.LLAMA) {
            rope(q, rc.heads(), pos);
            rope(k, rc.kvHeads(), pos);
        }
        rank.keys[layer][pos] = k;
        rank.values[layer][pos] = v;
        double[] att = new double[rc.qDim()];
        for (int head = 0; head < rc.heads(); head++) {
            int kv = head / rc.groupSize();
            double[] scores = new double[pos + 1];
            double max = Double.NEGATIVE_INFINITY;
            for (int t = 0; t <= pos; t++) {
                double s = 0;
                for (int i = 0; i < d; i++) s += q[head * d + i] * rank.keys[layer][t][kv * d + i];
                scores[t] = s / Math.sqrt(d);
                max = Math.max(max, scores[t]);
            }
            double total = 0;
            for (int t = 0; t <= pos; t++) total += scores[t] = Math.exp(scores[t] - max);
            for (int t = 0; t <= pos; t++) {
                for (int i = 0; i < d; i++) att[head * d + i] += scores[t] / total * rank.values[layer][t][kv * d + i];
            }
        }
        return matvec(w.wo, att, w.bo);
    }

    private double[] mlp(Layer w, double[] x) {
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
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < half; i++) {
                double angle = pos * Math.pow(c.ropeTheta(), -2.0 * i / c.ropeDims());
                double a = v[h * d + i], b = v[h * d + i + half];
                v[h * d + i] = a * Math.cos(angle) - b * Math.sin(angle);
                v[h * d + i + half] = b * Math.cos(angle) + a * Math.sin(angle);
            }
        }
    }

    /** The ranks' partial outputs summed in rank order. */
    static double[] sum(double[][] parts) {
        double[] s = parts[0].clone();
        for (int r = 1; r < parts.length; r++) add(s, parts[r]);
        return s;
    }

    static void add(double[] x, double[] y) {
        for (int i = 0; i < x.length; i++) x[i] += y[i];
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

    static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
