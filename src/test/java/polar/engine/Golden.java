package polar.engine;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import polar.formats.Json;
import polar.formats.JsonFields;
import polar.model.SharedAssets;

/** The reference outputs in {@code ../shared/golden}: per prompt its ids, last-position logits and greedy continuation. */
public record Golden(String prompt, int[] promptIds, float[] lastLogits, int[] greedyIds) {

    /** The cases of {@code golden/<model>.golden.json} (skips the test when absent). */
    public static List<Golden> load(String model) throws IOException {
        Path file = SharedAssets.require("golden/" + model + ".golden.json");
        JsonFields root = JsonFields.of(Json.parse(file), file.toString());
        return root.objects("cases").stream().map(c -> new Golden(c.string("prompt"), ints(c.integers("prompt_ids")),
                floats(c.list("last_logits_all")), ints(c.integers("greedy_ids")))).toList();
    }

    static int[] ints(long[] values) {
        int[] r = new int[values.length];
        for (int i = 0; i < r.length; i++) r[i] = Math.toIntExact(values[i]);
        return r;
    }

    static float[] floats(List<Object> values) {
        float[] r = new float[values.size()];
        for (int i = 0; i < r.length; i++) r[i] = ((Number) values.get(i)).floatValue();
        return r;
    }
}
