package polar.model;

/** Model families Polar runs. */
public enum Architecture {
    /** Llama 1/2/3, Mistral, TinyLlama: RMSNorm, RoPE, SwiGLU, GQA, no biases. */
    LLAMA,
    /** OPT: pre-LayerNorm, learned positions (offset 2), ReLU MLP, biases, tied head. */
    OPT
}
