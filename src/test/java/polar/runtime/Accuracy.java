package polar.runtime;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;
import polar.tornado.types.BFloat16Array;
import polar.tornado.types.DeviceArray;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;
import polar.tornado.types.IntArray;

/** Fresh random inputs and relative-error checks against float64 references, for backend tests. */
public final class Accuracy {
    private Accuracy() {}

    /** float32 results: accumulation error only. */
    public static final double F32 = 1e-5;
    /** Results stored as float16 (rounding alone is up to 2^-11 relative). */
    public static final double F16 = 1e-3;

    /** A new seed per call, unless {@code -Dpolar.seed=S} replays a failure. */
    public static long seed() {
        Long fixed = Long.getLong("polar.seed");
        return fixed != null ? fixed : new Random().nextLong();
    }

    /**
     * Fails unless {@code ||out - ref|| / ||ref|| <= tolerance}; any NaN or infinity in {@code out}
     * fails. {@code what} should name the kernel, the shape and the seed.
     */
    public static void assertClose(double[] ref, double[] out, double tolerance, String what) {
        if (out.length != ref.length) fail(what + ": " + out.length + " values, expected " + ref.length);
        double diff = 0, norm = 0, worst = 0;
        int worstAt = 0;
        for (int i = 0; i < ref.length; i++) {
            if (!Double.isFinite(out[i])) fail(what + ": element " + i + " is " + out[i] + " (expected " + ref[i] + ")");
            double d = out[i] - ref[i];
            diff += d * d;
            norm += ref[i] * ref[i];
            if (Math.abs(d) > worst) {
                worst = Math.abs(d);
                worstAt = i;
            }
        }
        double relative = norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
        if (!(relative <= tolerance)) {
            fail(String.format("%s: relative error %.3g > %.1g; worst element %d: %s, expected %s",
                    what, relative, tolerance, worstAt, out[worstAt], ref[worstAt]));
        }
    }

    /** The values of a float-valued array as float64. */
    public static double[] values(DeviceArray array) {
        double[] r = new double[array.getSize()];
        for (int i = 0; i < r.length; i++) {
            r[i] = switch (array) {
                case FloatArray f -> f.get(i);
                case HalfArray h -> h.get(i);
                case BFloat16Array b -> b.get(i);
                case IntArray n -> n.get(i);
                default -> throw new IllegalArgumentException("not a numeric array: " + array.elementType());
            };
        }
        return r;
    }

    /** {@code n} values uniform in [-1, 1). */
    public static FloatArray randomFloats(Random random, int n) {
        FloatArray a = new FloatArray(n);
        for (int i = 0; i < n; i++) a.set(i, random.nextFloat() * 2 - 1);
        return a;
    }

    /** {@code n} values uniform in [-1, 1), rounded to float16. */
    public static HalfArray randomHalfs(Random random, int n) {
        HalfArray a = new HalfArray(n);
        for (int i = 0; i < n; i++) a.set(i, random.nextFloat() * 2 - 1);
        return a;
    }

    /** An array of {@code n} NaNs (or, for integers, of -1), to write into outputs before a kernel runs. */
    public static DeviceArray poison(polar.tornado.types.ElementType<?> type, int n) {
        DeviceArray a = type.wrap(java.lang.foreign.Arena.ofAuto().allocate(Math.max(1, (long) n * type.bytes())).asSlice(0, (long) n * type.bytes()));
        switch (a) {
            case FloatArray f -> f.fill(Float.NaN);
            case HalfArray h -> h.fill(Float.NaN);
            case BFloat16Array b -> b.fill(Float.NaN);
            case IntArray i -> i.fill(-1);
            default -> a.segment().fill((byte) 0x7f);
        }
        return a;
    }
}
