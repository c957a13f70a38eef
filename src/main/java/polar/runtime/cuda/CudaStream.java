package polar.runtime.cuda;

import java.lang.foreign.MemorySegment;

/**
 * A {@code CUstream} of a {@link CudaBackend}: what another library needs to enqueue its own work
 * in order with the backend's (NCCL's all-reduce), so that the backend's {@link CudaBackend#capture}
 * records that work in the same CUDA graph. The handle is valid until the backend is closed; the
 * caller must have the backend's context current, as the backend's own entry points do.
 *
 * @param handle  the {@code CUstream} (also a {@code cudaStream_t})
 * @param device  the device ordinal the stream belongs to
 */
public record CudaStream(MemorySegment handle, int device) {}
