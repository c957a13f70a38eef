package polar.runtime.cuda;

import polar.tornado.KernelContext;
import polar.tornado.Parallel;
import polar.tornado.compiler.Dialect;
import polar.tornado.compiler.KernelSource;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/**
 * Java kernels with hand-written CUDA C twins that follow the launch ABI (each buffer is a
 * pointer then its {@code int} length; scalars by value; specialised constants absent). The
 * tests register the twins with {@link CudaBackend#defineKernel}, so they exercise argument
 * packing, launch geometry and graphs without the kernel compiler.
 */
final class HandWrittenKernels {
    private HandWrittenKernels() {}

    /** float16 <-> float32 through PTX, so the sources need no CUDA headers. */
    static final String HALF = """
            __device__ __forceinline__ float h2f(unsigned short h) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h)); return f; }
            __device__ __forceinline__ unsigned short f2h(float f) { unsigned short h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f)); return h; }
            """;

    /** {@code y[i] = a * x[i] + y[i]}. */
    static void saxpy(FloatArray x, FloatArray y, float a, int n) {
        for (@Parallel int i = 0; i < n; i++) y.set(i, a * x.get(i) + y.get(i));
    }

    static final KernelSource SAXPY = new KernelSource("saxpy", Dialect.CUDA, """
            extern "C" __global__ void saxpy(const float* x, int x_size, float* y, int y_size, float a, int n) {
                for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) y[i] = a * x[i] + y[i];
            }
            """);

    /** {@code out[i] = scale * in[i]} in float16 storage; {@code unused} is a specialised constant the ABI leaves out. */
    static void scaleHalf(HalfArray in, int unused, HalfArray out, float scale, int n) {
        for (@Parallel int i = 0; i < n; i++) out.set(i, scale * in.get(i));
    }

    static final KernelSource SCALE_HALF = new KernelSource("scale_half", Dialect.CUDA, HALF + """
            extern "C" __global__ void scale_half(const unsigned short* in, int in_size, unsigned short* out, int out_size, float scale, int n) {
                for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) out[i] = f2h(scale * h2f(in[i]));
            }
            """);

    /** 2-D: {@code out[r][c] = in[r][c] + bias[c]}, contiguous columns in x (outer loop), rows in y. */
    static void addBias(FloatArray in, FloatArray bias, FloatArray out, int rows, int cols) {
        for (@Parallel int c = 0; c < cols; c++) {
            for (@Parallel int r = 0; r < rows; r++) out.set(r * cols + c, in.get(r * cols + c) + bias.get(c));
        }
    }

    static final KernelSource ADD_BIAS = new KernelSource("add_bias", Dialect.CUDA, """
            extern "C" __global__ void add_bias(const float* in, int in_size, const float* bias, int bias_size, float* out, int out_size, int rows, int cols) {
                for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += blockDim.x * gridDim.x)
                    for (int r = blockIdx.y * blockDim.y + threadIdx.y; r < rows; r += blockDim.y * gridDim.y)
                        out[r * cols + c] = in[r * cols + c] + bias[c];
            }
            """);

    /** One sum per row of a {@code [rows, 256]} matrix: one work-group per row, a tree in local memory. */
    static void rowSums(KernelContext ctx, FloatArray in, FloatArray sums) {
        float[] partial = ctx.allocateFloatLocalArray(256);
        int row = ctx.groupIdx;
        partial[ctx.localIdx] = in.get(row * 256 + ctx.localIdx);
        ctx.localBarrier();
        for (int stride = 128; stride > 0; stride >>= 1) {
            if (ctx.localIdx < stride) partial[ctx.localIdx] += partial[ctx.localIdx + stride];
            ctx.localBarrier();
        }
        if (ctx.localIdx == 0) sums.set(row, partial[0]);
    }

    static final KernelSource ROW_SUMS = new KernelSource("row_sums", Dialect.CUDA, """
            extern "C" __global__ void row_sums(const float* in, int in_size, float* sums, int sums_size) {
                __shared__ float partial[256];
                int row = blockIdx.x;
                partial[threadIdx.x] = in[row * 256 + threadIdx.x];
                __syncthreads();
                for (int stride = 128; stride > 0; stride >>= 1) {
                    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
                    __syncthreads();
                }
                if (threadIdx.x == 0) sums[row] = partial[0];
            }
            """);

    /** Adds {@code step[0]} to every element: a per-step value read from a device buffer, so a captured graph sees new values. */
    static void addStep(FloatArray data, FloatArray step, int n) {
        for (@Parallel int i = 0; i < n; i++) data.set(i, data.get(i) + step.get(0));
    }

    static final KernelSource ADD_STEP = new KernelSource("add_step", Dialect.CUDA, """
            extern "C" __global__ void add_step(float* data, int data_size, const float* step, int step_size, int n) {
                for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) data[i] += step[0];
            }
            """);

    /** Uses CUDA's own float16 header, as generated kernels may: checks that NVRTC finds it. */
    static void halfHeader(HalfArray in, HalfArray out) {
        for (@Parallel int i = 0; i < in.getSize(); i++) out.set(i, in.get(i) * 2f);
    }

    static final KernelSource HALF_HEADER = new KernelSource("half_header", Dialect.CUDA, """
            #include <cuda_fp16.h>
            extern "C" __global__ void half_header(const __half* in, int in_size, __half* out, int out_size) {
                for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < in_size; i += blockDim.x * gridDim.x)
                    out[i] = __float2half(__half2float(in[i]) * 2.0f);
            }
            """);

    /** A kernel whose CUDA C does not compile, for the error test. */
    static void broken(FloatArray x) {
        for (@Parallel int i = 0; i < x.getSize(); i++) x.set(i, 0f);
    }

    static final KernelSource BROKEN = new KernelSource("broken", Dialect.CUDA, """
            extern "C" __global__ void broken(float* x, int x_size) {
                x[threadIdx.x] = undefined_variable_polar;
            }
            """);
}
