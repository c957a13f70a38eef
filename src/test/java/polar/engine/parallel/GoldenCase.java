package polar.engine.parallel;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import polar.formats.Json;
import polar.formats.JsonFields;
import polar.model.SharedAssets;

/**
 * A prompt of {@code ../shared/golden/<model>.golden.json} (PyTorch float32): its ids, the logits after
 * it and its greedy continuation. ({@code polar.engine.Golden} reads the same file but is package-private.)
 */
record GoldenCase(int[] promptIds, float[] lastLogits, int[] greedyIds) {

    /** Every case of the model's golden file; skips the calling test when the file is absent. */
    static List<GoldenCase> load(String model) throws IOException {
        Path file = SharedAssets.require("golden/" + model + ".golden.json");
        JsonFields root = JsonFields.of(Json.parse(file), file.toString());
        return root.objects("cases").stream().map(c -> {
            List<Object> logits = c.list("last_logits_all");
            float[] values = new float[logits.size()];
            for (int i = 0; i < values.length; i++) values[i] = ((Number) logits.get(i)).floatValue();
            return new GoldenCase(ints(c.integers("prompt_ids")), values, ints(c.integers("greedy_ids")));
        }).toList();
    }

    private static int[] ints(long[] values) {
        int[] r = new int[values.length];
        for (int i = 0; i < r.length; i++) r[i] = Math.toIntExact(values[i]);
        return r;
    }

    /** {@code ||out - ref|| / ||ref||}; NaN anywhere gives NaN (which fails every {@code <=} check). */
    static double relativeError(double[] out, float[] ref) {
        double diff = 0, norm = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = out[i] - ref[i];
            diff += d * d;
            norm += (double) ref[i] * ref[i];
        }
        return Math.sqrt(diff / norm);
    }

    static double relativeError(float[] out, float[] ref) {
        double[] d = new double[out.length];
        for (int i = 0; i < d.length; i++) d[i] = out[i];
        return relativeError(d, ref);
    }
}
