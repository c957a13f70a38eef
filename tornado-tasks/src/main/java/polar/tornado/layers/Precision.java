package polar.tornado.layers;

import polar.tornado.types.ElementType;

/**
 * Element types of what a step computes: {@code activations} are the GEMM inputs (normed hidden
 * states, attention output, MLP activation), {@code kvCache} the cache. The residual stream, GEMM
 * outputs, softmax and logits stay float32; weights keep the type they were uploaded in.
 */
public record Precision(ElementType<?> activations, ElementType<?> kvCache) {
    /** jvm and opencl: float32 activations and cache. */
    public static final Precision FLOAT32 = new Precision(ElementType.F32, ElementType.F32);
    /** cuda: float16 GEMM inputs and cache, float32 accumulation. */
    public static final Precision FLOAT16 = new Precision(ElementType.F16, ElementType.F16);

    public Precision {
        for (ElementType<?> t : new ElementType<?>[] {activations, kvCache}) {
            if (t != ElementType.F32 && t != ElementType.F16) throw new IllegalArgumentException("precision supports f32 and f16, not " + t);
        }
    }

    @Override
    public String toString() { return "activations " + activations + ", kv " + kvCache; }
}
