package polar.model;

import polar.formats.Tensor;

/**
 * One transformer layer's tensors, in Hugging Face layout (linear weights {@code [out, in]};
 * GGUF's pair-wise rotary Q/K rows are already un-permuted to the half-split form).
 * Fields a family lacks are null: Llama has no biases; OPT has no {@code gate}.
 *
 * @param up   Llama {@code up_proj}; OPT {@code fc1}
 * @param down Llama {@code down_proj}; OPT {@code fc2}
 */
public record LayerWeights(Tensor attnNorm, Tensor attnNormBias,
                           Tensor wq, Tensor bq, Tensor wk, Tensor bk, Tensor wv, Tensor bv, Tensor wo, Tensor bo,
                           Tensor mlpNorm, Tensor mlpNormBias,
                           Tensor gate, Tensor up, Tensor upBias, Tensor down, Tensor downBias) {}
