package polar.engine;

/** How projection and embedding weights are stored on the device. */
public enum WeightFormat {
    /** float32, float16 and bfloat16 as the file stores them (quantised types become float32); jvm and opencl. */
    AS_STORED,
    /** Everything float16 (cuda: float16 GEMM inputs with float32 accumulation). */
    FLOAT16
}
