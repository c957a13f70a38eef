package polar.tornado.compiler;

/**
 * A kernel translated to CUDA C or OpenCL C.
 *
 * <p>Launch ABI, the same for every kernel and dialect: the generated entry point takes, for each
 * argument of the {@code KernelTask} in order, a buffer as a device pointer followed by its
 * length in elements as {@code int}; an {@code int} or {@code float} scalar as itself; a
 * specialised constant not at all (it is compiled in). {@code KernelContext} is implicit.
 *
 * @param entryName the {@code extern "C" __global__} / {@code __kernel} function name
 * @param code      complete translation unit
 */
public record KernelSource(String entryName, Dialect dialect, String code) {}
