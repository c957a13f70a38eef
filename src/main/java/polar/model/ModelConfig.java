package polar.model;

/**
 * Shape and hyper-parameters of a model, read from {@code config.json} or GGUF metadata.
 *
 * @param ropeTheta    RoPE base (Llama); 0 for OPT
 * @param ropeScaling  Llama 3.1 "llama3" scaling, or null
 * @param ropeDims     rotated dimensions per head (normally {@code headDim})
 * @param positionOffset  OPT's learned-position offset (2); 0 for Llama
 * @param maxPositions context length the model supports
 */
public record ModelConfig(Architecture architecture,
                          int vocabSize, int hidden, int layers, int heads, int kvHeads, int headDim, int ffn,
                          int maxPositions, float normEps,
                          float ropeTheta, RopeScaling ropeScaling, int ropeDims, int positionOffset,
                          boolean tiedEmbeddings, int bosId, int[] eosIds) {

    /** Llama 3.1 rope scaling ({@code rope_type = "llama3"}). */
    public record RopeScaling(float factor, float lowFreqFactor, float highFreqFactor, int originalMaxPositions) {}

    /** Query heads per KV head (1 for MHA). */
    public int groupSize() { return heads / kvHeads; }

    public int qDim() { return heads * headDim; }

    public int kvDim() { return kvHeads * headDim; }

    public boolean isEos(int token) {
        for (int e : eosIds) if (e == token) return true;
        return false;
    }
}
