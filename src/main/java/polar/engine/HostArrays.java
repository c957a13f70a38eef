package polar.engine;

import polar.tornado.types.DeviceArray;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/** Host-side float data made ready for upload: in a device type, or transposed first (router and W2t uploads). */
public final class HostArrays {
    private HostArrays() {}

    /** {@code values} as float16 or float32 ({@code type}). */
    public static DeviceArray of(float[] values, ElementType<?> type) {
        if (type == ElementType.F16) {
            HalfArray h = new HalfArray(values.length);
            for (int i = 0; i < values.length; i++) h.set(i, values[i]);
            return h;
        }
        return FloatArray.of(values);
    }

    /** {@code w [rows, cols]} transposed to {@code [cols, rows]}. */
    public static float[] transposed(float[] w, int rows, int cols) {
        float[] t = new float[w.length];
        for (int row = 0; row < rows; row++) for (int c = 0; c < cols; c++) t[c * rows + row] = w[row * cols + c];
        return t;
    }
}
