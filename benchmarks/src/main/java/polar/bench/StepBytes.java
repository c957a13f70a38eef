package polar.bench;

import polar.model.Architecture;
import polar.model.ModelConfig;

/**
 * The fewest bytes a decode step must read from device memory: every weight it uses once and
 * the KV cache of every head it attends to once. Activations (a few MB even at batch 256) are left
 * out. {@code benchmarks/peers/torch_decode.py} computes the dense case with the same formula.
 *
 * <p>A Polar step ({@link LayerBuilders}) reads, in layers 1 and up: the K and V of the units each
 * sequence keeps, the MLP neurons the batch keeps (FC1 rows of W1 and their biases, rows of
 * {@code W2t}, in the weights' type; ReLU models only, and only where the gathered MLP is faster
 * than the dense one at this batch: {@code SparseMlp.fasterThanDense}, as the builder decides), and
 * its routers (in the activations' type, which is the weights' here). Layer 0 is dense.
 *
 * @param weights projections, LM head, norms and biases, and the embedding rows gathered
 * @param kv      K and V of every attended position of every sequence, all layers
 * @param routers Polar's attention and MLP routers (0 when dense)
 */
public record StepBytes(long weights, long kv, long routers) {

    /** Rank of the MLP router: hidden / 4 (1024 on 7B-class models, DESIGN.md). */
    static int routerRank(int hidden) { return hidden / 4; }

    public long total() { return weights + kv + routers; }

    /**
     * @param weightBytes bytes per projection/embedding element (2 for float16); activations (and so
     *                    the first router matrices, uploaded in the activation type) have the same size
     * @param kvBytes     bytes per KV cache element
     */
    public static StepBytes of(ModelConfig c, int weightBytes, int kvBytes, int batch, int context, Sparsity s) {
        long h = c.hidden(), ffn = c.ffn();
        boolean relu = c.architecture() == Architecture.OPT;
        // MLP sparsity gathers neurons of ReLU models only, and only where that beats the dense MLP at this batch.
        long neurons = relu && LayerBuilders.sparseMlp(s, c.ffn(), batch) ? s.keptNeurons(c.ffn()) : ffn;
        long denseLayer = layerBytes(c, weightBytes, ffn);
        long sparseLayer = layerBytes(c, weightBytes, neurons);
        long head = (long) c.vocabSize() * h * weightBytes + (relu ? 2 : 1) * h * 4;
        long embedding = batch * h * weightBytes + (relu ? batch * h * 4 : 0);
        long weights = denseLayer + (c.layers() - 1) * sparseLayer + head + embedding;

        int units = c.kvHeads(); // query heads for MHA, KV groups for GQA
        double headShare = (double) s.keptHeads(units) / units;
        long kvPerLayer = (long) batch * context * 2 * c.kvDim() * kvBytes;
        long kv = kvPerLayer + Math.round((c.layers() - 1) * kvPerLayer * headShare);

        long routers = 0;
        if (s.heads() < 1) routers += (c.layers() - 1) * (h * units * weightBytes + units * 4L);
        if (neurons < ffn) {
            long r = routerRank(c.hidden());
            routers += (c.layers() - 1) * (h * r + r * ffn) * weightBytes;
        }
        return new StepBytes(weights, kv, routers);
    }

    /** One layer's weights, norms and biases with {@code neurons} of the MLP's neurons (all: dense). */
    private static long layerBytes(ModelConfig c, int weightBytes, long neurons) {
        long h = c.hidden(), q = c.qDim(), qkv = q + 2L * c.kvDim();
        boolean relu = c.architecture() == Architecture.OPT;
        long mlpIn = relu ? neurons : 2L * c.ffn();
        long vectors = 2 * h + (relu ? 2 * h + qkv + h + neurons + h : 0); // norm weights (+ norm biases and biases), float32
        return (qkv * h + h * q + mlpIn * h + h * neurons) * weightBytes + vectors * 4;
    }
}
