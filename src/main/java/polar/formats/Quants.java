package polar.formats;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Dequantisation of GGML block formats (as ggml-quants.c defines them). */
public final class Quants {
    private Quants() {}

    private static final int QK_K = 256;

    /** Dequantises {@code count} values (whole blocks) of {@code type} from {@code src} into {@code out[offset..]}. */
    public static void dequantize(DType type, MemorySegment src, long count, float[] out, int offset) {
        if (count % type.blockSize != 0)
            throw new IllegalArgumentException(count + " values is not a whole number of " + type + " blocks");
        long blocks = count / type.blockSize;
        for (long b = 0; b < blocks; b++) {
            long at = b * type.blockBytes;
            int o = offset + (int) (b * type.blockSize);
            switch (type) {
                case Q8_0 -> q8_0(src, at, out, o);
                case Q4_K -> q4_K(src, at, out, o);
                case Q6_K -> q6_K(src, at, out, o);
                default -> throw new IllegalArgumentException(type + " is not a block-quantised type");
            }
        }
    }

    private static float f16(MemorySegment s, long at) { return Float.float16ToFloat(s.get(Tensor.I16_LE, at)); }

    private static int u8(MemorySegment s, long at) { return Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, at)); }

    private static int i8(MemorySegment s, long at) { return s.get(ValueLayout.JAVA_BYTE, at); }

    /** Q8_0: float16 scale d, 32 int8 q; x = d * q. */
    private static void q8_0(MemorySegment s, long at, float[] y, int o) {
        float d = f16(s, at);
        for (int i = 0; i < 32; i++) y[o + i] = d * i8(s, at + 2 + i);
    }

    /**
     * Q4_K: float16 d, float16 dmin, 12 bytes of eight 6-bit (scale, min) pairs, 128 bytes of 4-bit q.
     * Each 64 values: the low nibbles of 32 bytes with pair 2j, then their high nibbles with pair 2j+1;
     * x = d * scale * q - dmin * min.
     */
    private static void q4_K(MemorySegment s, long at, float[] y, int o) {
        float d = f16(s, at), dmin = f16(s, at + 2);
        long scales = at + 4, qs = at + 16;
        for (int j = 0; j < QK_K / 64; j++) {
            int is = 2 * j;
            float d1 = d * scaleK4(s, scales, is), m1 = dmin * minK4(s, scales, is);
            float d2 = d * scaleK4(s, scales, is + 1), m2 = dmin * minK4(s, scales, is + 1);
            for (int l = 0; l < 32; l++) {
                int q = u8(s, qs + 32L * j + l);
                y[o + 64 * j + l] = d1 * (q & 0xF) - m1;
                y[o + 64 * j + 32 + l] = d2 * (q >> 4) - m2;
            }
        }
    }

    /** The 6-bit scale of sub-block {@code j} (ggml's get_scale_min_k4). */
    static int scaleK4(MemorySegment s, long q, int j) {
        return j < 4 ? u8(s, q + j) & 63 : (u8(s, q + j + 4) & 0xF) | ((u8(s, q + j - 4) >> 6) << 4);
    }

    /** The 6-bit min of sub-block {@code j}. */
    static int minK4(MemorySegment s, long q, int j) {
        return j < 4 ? u8(s, q + j + 4) & 63 : (u8(s, q + j + 4) >> 4) | ((u8(s, q + j) >> 6) << 4);
    }

    /**
     * Q6_K: 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 int8 scales, float16 d.
     * x = d * scale[sub-block of 16] * (q - 32).
     */
    private static void q6_K(MemorySegment s, long at, float[] y, int o) {
        long ql = at, qh = at + 128, sc = at + 192;
        float d = f16(s, at + 208);
        for (int n = 0; n < QK_K / 128; n++) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int h = u8(s, qh + l);
                int lo0 = u8(s, ql + l), lo32 = u8(s, ql + l + 32);
                int q1 = ((lo0 & 0xF) | ((h & 3) << 4)) - 32;
                int q2 = ((lo32 & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                int q3 = ((lo0 >> 4) | (((h >> 4) & 3) << 4)) - 32;
                int q4 = ((lo32 >> 4) | (((h >> 6) & 3) << 4)) - 32;
                y[o + 128 * n + l] = d * i8(s, sc + is) * q1;
                y[o + 128 * n + l + 32] = d * i8(s, sc + is + 2) * q2;
                y[o + 128 * n + l + 64] = d * i8(s, sc + is + 4) * q3;
                y[o + 128 * n + l + 96] = d * i8(s, sc + is + 6) * q4;
            }
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}
