package polar.engine.sparsity;

/**
 * The engine's hook for router training: during a dense forward pass (prefill) it hands each
 * layer's activations to the observer, which records router inputs and labels (weights-tools'
 * {@code RouterDataCollector}). Rows are token positions in the pass's order; arrays are
 * row-major host copies, valid only during the call.
 */
public interface LayerObserver {

    /**
     * @param layer            the layer index
     * @param rows             token positions in this pass
     * @param normedInput      {@code [rows, hidden]}: the layer's normed attention input (what QKV and the routers read)
     * @param headOutput       {@code [rows, heads * headDim]}: attention output per query head (softmax(QK^T)V,
     *                         heads in order, GQA groups adjacent), before the output projection
     * @param mlpActivity      {@code [rows, ffn]}, ReLU models: the MLP activation {@code ReLU(fc1 x + b)} (or the
     *                         pre-activation: only the sign matters, a neuron is active where it is {@code > 0});
     *                         null for gated (SwiGLU) models
     */
    void layer(int layer, int rows, float[] normedInput, float[] headOutput, float[] mlpActivity);
}
