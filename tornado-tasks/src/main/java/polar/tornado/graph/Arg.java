package polar.tornado.graph;

/**
 * A kernel argument: a device {@link Buffer}, or a scalar. A {@link #constant(int) constant} is
 * specialised into the kernel's source when it is compiled (loop bounds such as head size unroll);
 * a plain scalar is passed at launch. Values that change every step belong in small device buffers.
 */
public sealed interface Arg<T> permits Buffer, Arg.Scalar {

    /** A scalar passed at launch, or baked into the compiled kernel when {@code specialised}. */
    record Scalar<T>(T value, boolean specialised) implements Arg<T> {
        @Override
        public String toString() { return (specialised ? "const " : "") + value; }
    }

    static Arg<Integer> i32(int value) { return new Scalar<>(value, false); }

    static Arg<Float> f32(float value) { return new Scalar<>(value, false); }

    /** An int compiled into the kernel as a constant (one compiled variant per distinct value). */
    static Arg<Integer> constant(int value) { return new Scalar<>(value, true); }
}
