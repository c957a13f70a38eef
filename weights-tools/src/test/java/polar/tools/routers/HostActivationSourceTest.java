package polar.tools.routers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import polar.formats.Json;
import polar.formats.JsonFields;
import polar.model.ModelLoader;

/** The plain-Java forward pass used for collection (its agreement with the engine is in {@link EngineActivationSourceTest}). */
class HostActivationSourceTest {
    static final Path SHARED = Path.of(System.getProperty("polar.shared", "../shared"));

    static HostActivationSource open(String model, int window) throws Exception {
        Path p = SHARED.resolve("models/" + model);
        assumeTrue(Files.exists(p), p + " is absent");
        return new HostActivationSource(ModelLoader.load(p), 1, window, new Workers(Workers.defaultThreads()));
    }

    @Test
    void reluZeroFractionsMatchTheGoldenMeasurement() throws Exception {
        // The golden file measured the zero fraction of each layer's ReLU output on 256 validation tokens.
        JsonFields golden = JsonFields.of(Json.parse(SHARED.resolve("golden/tiny-opt.golden.json")), "tiny-opt.golden.json");
        List<Object> expected = golden.list("relu_zero_fraction_per_layer");
        try (HostActivationSource opt = open("tiny-opt", 256)) {
            int[] ids = opt.encode(Files.readString(SHARED.resolve("corpus/tinystories/valid-sample.txt")).substring(0, 4000));
            int[] seq = new int[256];
            seq[0] = opt.bos();
            System.arraycopy(ids, 0, seq, 1, 255);
            List<float[]> mlp = new ArrayList<>();
            opt.run(List.of(seq), (l, rows, normed, heads, activity) -> mlp.add(activity));
            for (int l = 0; l < 6; l++) {
                long zeros = 0;
                for (float v : mlp.get(l)) if (v <= 0) zeros++;
                double fraction = (double) zeros / mlp.get(l).length, want = ((Number) expected.get(l)).doubleValue();
                assertEquals(want, fraction, 0.03, "layer " + l + " ReLU zero fraction");
            }
        }
    }

    @Test
    void gqaModelsRecordKvGroupsAndNoMlpLabels() throws Exception {
        try (HostActivationSource llama = open("tiny-llama", 32)) {
            assertEquals(4, llama.shape().units());
            assertEquals(2, llama.shape().headsPerUnit());
            assertEquals(0, llama.bos());
            int[] count = {0};
            llama.run(List.of(new int[] {0, 5, 6, 7}, new int[] {0, 9}), (l, rows, normed, heads, mlp) -> {
                assertEquals(6, rows);
                assertEquals(6 * 256, normed.length);
                assertEquals(6 * 8 * 32, heads.length);
                assertNull(mlp, "SwiGLU: no MLP labels");
                count[0]++;
            });
            assertEquals(6, count[0]);
        }
    }
}
