package polar.tornado.layers;

/**
 * What the layer builder needs to know about a decoder-only transformer (the engine maps a
 * model's config to it; this layer cannot see model classes). Biases are not part of the shape:
 * a layer has those whose buffers are present.
 *
 * @param ropeDims       rotated dimensions per head ({@link Positions#ROTARY})
 * @param positionOffset row of position 0 in the learned position table ({@link Positions#LEARNED}; OPT: 2)
 */
public record TransformerShape(int vocab, int hidden, int layers, int heads, int kvHeads, int headDim, int ffn,
                               Norm norm, float normEps, Mlp mlp, Positions positions,
                               int ropeDims, int positionOffset) {

    public enum Norm { RMS, LAYER }

    /** {@code SWIGLU}: {@code down(silu(gate(x)) * up(x))}; {@code RELU}: {@code fc2(relu(fc1(x) + b1)) + b2}. */
    public enum Mlp { SWIGLU, RELU }

    public enum Positions { ROTARY, LEARNED }

    public TransformerShape {
        if (heads % kvHeads != 0) throw new IllegalArgumentException(heads + " query heads are not a multiple of " + kvHeads + " KV heads");
        if (positions == Positions.ROTARY && (ropeDims < 2 || ropeDims % 2 != 0 || ropeDims > headDim)) {
            throw new IllegalArgumentException("rotary dimensions " + ropeDims + " must be even and at most the head size " + headDim);
        }
    }

    /** Query heads per KV head. */
    public int group() { return heads / kvHeads; }

    public int qDim() { return heads * headDim; }

    public int kvDim() { return kvHeads * headDim; }

    /** Width of the fused Q, K, V projection's output row. */
    public int qkvDim() { return qDim() + 2 * kvDim(); }

    /** Width of the first MLP projection's output row (gate and up fused for SwiGLU). */
    public int mlpInDim() { return mlp == Mlp.SWIGLU ? 2 * ffn : ffn; }
}
