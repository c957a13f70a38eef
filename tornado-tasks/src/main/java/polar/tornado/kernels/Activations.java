package polar.tornado.kernels;

import polar.tornado.Parallel;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/**
 * Element-wise parts of a layer: bias adds, the MLP activations (SwiGLU for Llama, bias + ReLU for
 * OPT). Inputs are float32 GEMM outputs; the {@code Half} variants write the next GEMM's float16 input.
 */
public final class Activations {
    private Activations() {}

    /** {@code x[r][c] += bias[c]}. */
    public static void addBias(FloatArray x, FloatArray bias, int rows, int cols) {
        for (@Parallel int c = 0; c < cols; c++) {
            for (@Parallel int r = 0; r < rows; r++) {
                int i = r * cols + c;
                x.set(i, x.get(i) + bias.get(c));
            }
        }
    }

    /** SwiGLU over {@code gateUp = [rows, 2*ffn]} (gate then up): {@code out[r][i] = silu(gate) * up}. */
    public static void swiglu(FloatArray gateUp, FloatArray out, int rows, int ffn) {
        for (@Parallel int i = 0; i < ffn; i++) {
            for (@Parallel int r = 0; r < rows; r++) {
                out.set(r * ffn + i, siluTimes(gateUp.get(r * 2 * ffn + i), gateUp.get(r * 2 * ffn + ffn + i)));
            }
        }
    }

    public static void swigluHalf(FloatArray gateUp, HalfArray out, int rows, int ffn) {
        for (@Parallel int i = 0; i < ffn; i++) {
            for (@Parallel int r = 0; r < rows; r++) {
                out.set(r * ffn + i, siluTimes(gateUp.get(r * 2 * ffn + i), gateUp.get(r * 2 * ffn + ffn + i)));
            }
        }
    }

    /** OPT's fc1 epilogue: {@code out[r][i] = max(0, h[r][i] + bias[i])}. */
    public static void biasRelu(FloatArray h, FloatArray bias, FloatArray out, int rows, int ffn) {
        for (@Parallel int i = 0; i < ffn; i++) {
            for (@Parallel int r = 0; r < rows; r++) {
                out.set(r * ffn + i, Math.max(0f, h.get(r * ffn + i) + bias.get(i)));
            }
        }
    }

    public static void biasReluHalf(FloatArray h, FloatArray bias, HalfArray out, int rows, int ffn) {
        for (@Parallel int i = 0; i < ffn; i++) {
            for (@Parallel int r = 0; r < rows; r++) {
                out.set(r * ffn + i, Math.max(0f, h.get(r * ffn + i) + bias.get(i)));
            }
        }
    }

    /** {@code silu(gate) * up} with {@code silu(x) = x / (1 + e^-x)}, as PyTorch computes it in float32. */
    static float siluTimes(float gate, float up) {
        return gate / (1f + (float) Math.exp(-gate)) * up;
    }
}
