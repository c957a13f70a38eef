package polar.bench;

import polar.tornado.Parallel;
import polar.tornado.compiler.Dialect;
import polar.tornado.compiler.KernelSource;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/**
 * Helper kernels of the GPU benchmarks, each a Java kernel with a hand-written CUDA C twin
 * (registered with {@code CudaBackend.defineKernel}): they measure the launch path and fill
 * buffers, so they must not depend on the kernel compiler.
 */
final class BenchKernels {
    private BenchKernels() {}

    private static final String HALF = """
            __device__ __forceinline__ float h2f(unsigned short h) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h)); return f; }
            __device__ __forceinline__ unsigned short f2h(float f) { unsigned short h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f)); return h; }
            """;

    /** Does nothing: its launches measure launch overhead. */
    static void empty(IntArray unused) {
    }

    static final KernelSource EMPTY = new KernelSource("empty", Dialect.CUDA, """
            extern "C" __global__ void empty(int* unused, int unused_size) {}
            """);

    /** Fills {@code out} with values uniform in [-1, 1) from a hash of (index, seed): random data without a host upload. */
    static void randomHalf(HalfArray out, int seed, int n) {
        for (@Parallel int i = 0; i < n; i++) out.set(i, hash(i, seed) * 0x1p-31f * 2f - 1f);
    }

    /** A 31-bit hash (lowbias32), the same in Java and in the CUDA twin. */
    static int hash(int i, int seed) {
        int x = i ^ (seed * 0x9E3779B9);
        x ^= x >>> 16;
        x *= 0x7feb352d;
        x ^= x >>> 15;
        x *= 0x846ca68b;
        x ^= x >>> 16;
        return x >>> 1;
    }

    static final KernelSource RANDOM_HALF = new KernelSource("random_half", Dialect.CUDA, HALF + """
            extern "C" __global__ void random_half(unsigned short* out, int out_size, int seed, int n) {
                for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
                    unsigned int x = (unsigned int) i ^ ((unsigned int) seed * 0x9E3779B9u);
                    x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16;
                    out[i] = f2h((float) (x >> 1) * 0x1p-31f * 2.0f - 1.0f);
                }
            }
            """);

    /** {@link #randomHalf} for float32 buffers. */
    static void randomFloat(FloatArray out, int seed, int n) {
        for (@Parallel int i = 0; i < n; i++) out.set(i, hash(i, seed) * 0x1p-31f * 2f - 1f);
    }

    static final KernelSource RANDOM_FLOAT = new KernelSource("random_float", Dialect.CUDA, """
            extern "C" __global__ void random_float(float* out, int out_size, int seed, int n) {
                for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
                    unsigned int x = (unsigned int) i ^ ((unsigned int) seed * 0x9E3779B9u);
                    x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16;
                    out[i] = (float) (x >> 1) * 0x1p-31f * 2.0f - 1.0f;
                }
            }
            """);

    /** Hand-written twins of {@code Basics.scaleHalf} and {@code Basics.scaleHalf8}, for when the kernel compiler is not there. */
    static final KernelSource SCALE_HALF = new KernelSource("scale_half", Dialect.CUDA, HALF + """
            extern "C" __global__ void scale_half(const unsigned short* in, int in_size, unsigned short* out, int out_size, float alpha, int n) {
                for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) out[i] = f2h(alpha * h2f(in[i]));
            }
            """);

    static final KernelSource SCALE_HALF8 = new KernelSource("scale_half8", Dialect.CUDA, HALF + """
            __device__ __forceinline__ unsigned int scale2(unsigned int w, float alpha) {
                return f2h(alpha * h2f(w & 0xffffu)) | ((unsigned int) f2h(alpha * h2f(w >> 16)) << 16);
            }
            extern "C" __global__ void scale_half8(const unsigned short* in, int in_size, unsigned short* out, int out_size, float alpha, int n) {
                int vectors = (n + 7) / 8;
                for (int v = blockIdx.x * blockDim.x + threadIdx.x; v < vectors; v += blockDim.x * gridDim.x) {
                    int base = v * 8;
                    if (base + 8 <= n) {
                        uint4 q = *reinterpret_cast<const uint4*>(in + base);
                        *reinterpret_cast<uint4*>(out + base) = make_uint4(scale2(q.x, alpha), scale2(q.y, alpha), scale2(q.z, alpha), scale2(q.w, alpha));
                    } else {
                        for (int i = base; i < n; i++) out[i] = f2h(alpha * h2f(in[i]));
                    }
                }
            }
            """);
}
