package polar.bench;

import polar.model.Architecture;
import polar.model.ModelConfig;

/**
 * The fewest bytes a decode step must read from device memory: every weight it uses once and
 * the KV cache of every head it attends to once. Activations (a few MB even at batch 256) are left
 * out. {@code benchmarks/peers/torch_decode.py} computes the dense case with the same formula.
 *
 * @param weights projections, LM head, norms and biases, and the embedding rows gathered
 * @param kv      K and V of every attended position of every sequence, all layers
 * @param routers Polar's attention and MLP routers (0 when dense)
 */
public record StepBytes(long weights, long kv, long routers) {

    /** Rank of the MLP router of 7B-class models (hidden / 4). */
    static int routerRank(ModelConfig c) { return c.hidden() / 4; }

    public long total() { return weights + kv + routers; }

    /**
     * @param weightBytes bytes per projection/embedding element (2 for float16)
     * @param kvBytes     bytes per KV cache element
     */
    public static StepBytes of(ModelConfig c, int weightBytes, int kvBytes, int batch, int context, Sparsity s) {
        long h = c.hidden(), q = c.qDim(), kvDim = c.kvDim(), ffn = c.ffn();
        boolean relu = c.architecture() == Architecture.OPT;
        long mlpIn = relu ? ffn : 2 * ffn;
        long qkv = q + 2 * kvDim;
        // MLP sparsity gathers neurons of ReLU models only.
        long neurons = relu ? s.keptNeurons(c.ffn()) : ffn;
        long mlpInKept = relu ? neurons : mlpIn;
        long vectors = 2 * h + (relu ? 2 * h + qkv + h + neurons + h : 0); // norm weights (+ norm biases and biases), float32
        long perLayer = (qkv * h + h * q + mlpInKept * h + h * neurons) * weightBytes + vectors * 4;
        long head = (long) c.vocabSize() * h * weightBytes + (relu ? 2 : 1) * h * 4;
        long embedding = batch * h * weightBytes + (relu ? batch * h * 4 : 0);
        long weights = c.layers() * perLayer + head + embedding;

        int units = c.kvHeads() == c.heads() ? c.heads() : c.kvHeads();
        double headShare = (double) s.keptHeads(units) / units;
        long kvPerLayer = (long) batch * context * 2 * kvDim * kvBytes;
        long kv = kvPerLayer + Math.round((c.layers() - 1) * kvPerLayer * headShare);

        long routers = 0;
        if (s.heads() < 1) routers += (c.layers() - 1) * (h * units * weightBytes + units * 4L);
        if (relu && neurons < ffn) routers += c.layers() * ((h * routerRank(c) + routerRank(c) * ffn) * weightBytes);
        return new StepBytes(weights, kv, routers);
    }
}
