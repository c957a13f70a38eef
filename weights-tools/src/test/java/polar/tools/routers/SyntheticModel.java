package polar.tools.routers;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import polar.engine.sparsity.LayerObserver;

/**
 * A stand-in for the engine in tests: tokens are bytes, a layer's normed input is a fixed random
 * vector per (layer, token) plus a constant feature, head outputs have norms that follow a planted
 * linear rule of that input, and MLP pre-activations a planted low-rank rule.
 */
final class SyntheticModel implements ActivationSource {
    final RouterDataShape shape;
    final float[][] embed, headRule, mlpA, mlpB;
    final int rank = 4;

    SyntheticModel(RouterDataShape shape, long seed) {
        this.shape = shape;
        Random rnd = new Random(seed);
        int layers = shape.layers(), hidden = shape.hidden();
        embed = new float[layers][];
        headRule = new float[layers][];
        mlpA = new float[layers][];
        mlpB = new float[layers][];
        for (int l = 0; l < layers; l++) {
            embed[l] = Synthetic.gaussian(rnd, 256 * hidden);
            for (int t = 0; t < 256; t++) embed[l][t * hidden] = 1; // a constant feature, like a LayerNorm bias
            headRule[l] = Synthetic.gaussian(rnd, shape.heads() * hidden);
            mlpA[l] = Synthetic.gaussian(rnd, rank * hidden);
            mlpB[l] = Synthetic.gaussian(rnd, shape.ffn() * rank);
        }
    }

    @Override public RouterDataShape shape() { return shape; }

    @Override public String modelName() { return "synthetic"; }

    @Override public int[] encode(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length];
        for (int i = 0; i < b.length; i++) ids[i] = b[i] & 0xff;
        return ids;
    }

    @Override public int bos() { return 0; }

    @Override public int maxSequences() { return 3; }

    @Override
    public void run(List<int[]> sequences, LayerObserver observer) {
        int[] tokens = sequences.stream().flatMapToInt(java.util.Arrays::stream).toArray();
        int rows = tokens.length, hidden = shape.hidden(), heads = shape.heads(), headDim = shape.headDim(), ffn = shape.ffn();
        for (int l = 0; l < shape.layers(); l++) {
            float[] x = new float[rows * hidden];
            for (int i = 0; i < rows; i++) System.arraycopy(embed[l], tokens[i] * hidden, x, i * hidden, hidden);
            float[] z = Synthetic.mulTransposed(x, rows, hidden, headRule[l], heads);
            float[] headOut = new float[rows * heads * headDim];
            for (int i = 0; i < rows; i++) {
                for (int h = 0; h < heads; h++) {
                    // a vector of norm exp(z / 4) spread evenly over the head's dimensions
                    float v = (float) (Math.exp(z[i * heads + h] / 4) / Math.sqrt(headDim));
                    for (int d = 0; d < headDim; d++) headOut[(i * heads + h) * headDim + d] = (d % 2 == 0 ? v : -v);
                }
            }
            float[] pre = null;
            if (shape.reluMlp()) {
                float[] h = Synthetic.mulTransposed(x, rows, hidden, mlpA[l], rank);
                pre = Synthetic.mulTransposed(h, rows, rank, mlpB[l], ffn);
                float threshold = (float) (1.5 * Math.sqrt(hidden * rank));
                for (int e = 0; e < pre.length; e++) pre[e] -= threshold;
            }
            observer.layer(l, rows, x, headOut, pre);
        }
    }
}
