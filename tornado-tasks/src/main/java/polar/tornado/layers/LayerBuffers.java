package polar.tornado.layers;

import polar.tornado.graph.Buffer;
import polar.tornado.types.FloatArray;

/**
 * One layer's weights on the device. Projection weights are {@code [out, in]} in whatever type
 * they were uploaded (the GEMM takes any); Q, K, V are one fused {@code [qDim + 2 kvDim, hidden]}
 * matrix, and for SwiGLU gate and up are one {@code [2 ffn, hidden]} matrix. Norm weights and
 * biases are float32. Biases and norm biases are null where the family has none.
 */
public record LayerBuffers(Buffer<FloatArray> attnNorm, Buffer<FloatArray> attnNormBias,
                           Buffer<?> qkv, Buffer<FloatArray> qkvBias,
                           Buffer<?> out, Buffer<FloatArray> outBias,
                           Buffer<FloatArray> mlpNorm, Buffer<FloatArray> mlpNormBias,
                           Buffer<?> up, Buffer<FloatArray> upBias,
                           Buffer<?> down, Buffer<FloatArray> downBias) {}
