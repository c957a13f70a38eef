package polar.tornado.compiler;

/** Target languages of the kernel compiler. */
public enum Dialect {
    /** CUDA C, compiled by NVRTC to PTX for the device's architecture. */
    CUDA,
    /** OpenCL C 1.2, built by the OpenCL driver (NVIDIA, AMD, Intel, PoCL). */
    OPENCL
}
