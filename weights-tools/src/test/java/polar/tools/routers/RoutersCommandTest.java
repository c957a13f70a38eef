package polar.tools.routers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import polar.engine.sparsity.RouterWeights;
import polar.engine.sparsity.SparsityPlan;
import polar.formats.Json;

/** The whole workflow on a synthetic model: collect, train, calibrate, eval. */
class RoutersCommandTest {
    static final RouterDataShape SHAPE = new RouterDataShape(3, 32, 4, 4, 8, 128, true);

    static String corpus(int stories, long seed) {
        Random rnd = new Random(seed);
        StringBuilder sb = new StringBuilder();
        for (int s = 0; s < stories; s++) {
            for (int c = 0; c < 300; c++) sb.append((char) (' ' + rnd.nextInt(90)));
            sb.append("<|endoftext|>");
        }
        return sb.toString();
    }

    record Run(int status, String out, String err) {}

    static Run polar(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        RoutersCommand cmd = new RoutersCommand(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                (model, backend, window) -> new SyntheticModel(SHAPE, 42));
        int status = cmd.run(args);
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    @SuppressWarnings("unchecked")
    void collectTrainCalibrateEvaluate(@TempDir Path dir) throws Exception {
        Path text = dir.resolve("corpus.txt"), data = dir.resolve("data"), routers = dir.resolve("routers");
        Files.writeString(text, corpus(30, 1));

        Run collect = polar("collect", "-m", "synthetic", "--text", text.toString(), "--data", data.toString(), "--tokens", "5000", "--window", "64");
        assertEquals(0, collect.status(), collect.err());
        RouterDataset ds = RouterDataset.open(data);
        assertEquals(5000, ds.rows());

        Run train = polar("train", "--data", data.toString(), "--out", routers.toString(), "--quiet", "--epochs", "8", "--batch", "64", "--lr", "3e-3");
        assertEquals(0, train.status(), train.err());
        RouterWeights weights = RouterWeights.load(routers.resolve(RouterWeights.FILE_NAME));
        assertNull(weights.attention(0), "layer 0 attention is dense: no router");
        assertNotNull(weights.attention(1));
        assertNotNull(weights.mlp(0));
        assertNull(SparsityPlan.load(routers.resolve(SparsityPlan.FILE_NAME)).mlp(), "MLP stays dense until calibrated");

        Run calibrate = polar("calibrate", "--data", data.toString(), "--routers", routers.toString(), "--batch-sizes", "1,4,16,64", "--samples", "16");
        assertEquals(0, calibrate.status(), calibrate.err());
        SparsityPlan plan = SparsityPlan.load(routers.resolve(SparsityPlan.FILE_NAME));
        assertNotNull(plan.mlp());
        assertEquals(32, plan.mlp().tile());
        weights.checkCovers(plan, SHAPE.hidden(), "routers");

        Run eval = polar("eval", "--data", data.toString(), "--routers", routers.toString(), "--format", "json", "--samples", "16");
        assertEquals(0, eval.status(), eval.err());
        Map<String, Object> report = Json.parseObject(eval.out(), "eval output");
        List<Map<String, Object>> layers = (List<Map<String, Object>>) report.get("layers");
        assertEquals(3, layers.size());
        assertNull(layers.get(0).get("attnRecall"));
        for (int l = 1; l < 3; l++) {
            double recall = ((Number) layers.get(l).get("attnRecall")).doubleValue();
            assertTrue(recall > 0.8 && recall > ((Number) layers.get(l).get("attnRandomRecall")).doubleValue() + 0.2, "layer " + l + " recall " + recall);
        }
        for (int l = 0; l < 3; l++) {
            Map<String, Object> m = layers.get(l);
            assertTrue(((Number) m.get("mlpF1")).doubleValue() > 0.7, "layer " + l + " MLP F1 " + m.get("mlpF1"));
            List<Object> batchRecall = (List<Object>) m.get("mlpBatchRecall");
            assertTrue(((Number) batchRecall.get(0)).doubleValue() >= 0.97, "batched recall at the calibrated k(1): " + batchRecall);
        }

        // Retraining only the attention routers at another density keeps the MLP routers and their calibration.
        Run retrain = polar("train", "--data", data.toString(), "--out", routers.toString(), "--quiet", "--only", "attention",
                "--attn-density", "0.75", "--epochs", "2");
        assertEquals(0, retrain.status(), retrain.err());
        SparsityPlan after = SparsityPlan.load(routers.resolve(SparsityPlan.FILE_NAME));
        assertEquals(3, after.attnK(1));
        assertEquals(plan.mlp(), after.mlp());
        RouterWeights retrained = RouterWeights.load(routers.resolve(RouterWeights.FILE_NAME));
        assertArrayEquals(weights.mlp(2).up(), retrained.mlp(2).up());

        Run text2 = polar("eval", "--data", data.toString(), "--routers", routers.toString(), "--attn-density", "0.25");
        assertEquals(0, text2.status(), text2.err());
        assertTrue(text2.out().contains("1/4"), text2.out());
    }

    @Test
    void errorsNameTheProblem(@TempDir Path dir) {
        Run none = polar();
        assertEquals(2, none.status());
        assertTrue(none.err().contains("usage: polar routers"));
        Run unknown = polar("frobnicate");
        assertEquals(2, unknown.status());
        Run missing = polar("train", "--data", dir.resolve("nothing").toString(), "--out", dir.toString());
        assertEquals(1, missing.status());
        assertTrue(missing.err().contains("no router data in " + dir.resolve("nothing")), missing.err());
        Run badFlag = polar("eval", "--data", dir.toString(), "--bogus", "1");
        assertEquals(1, badFlag.status(), "the data set is checked first: " + badFlag.err());
        Run noValue = polar("train", "--data");
        assertEquals(2, noValue.status());
        assertTrue(noValue.err().contains("flag --data needs a value"), noValue.err());
        Run noText = polar("collect", "-m", "x", "--text", dir.resolve("nope.txt").toString(), "--data", dir.toString());
        assertEquals(1, noText.status());
        assertTrue(noText.err().contains("nope.txt"), noText.err());
    }
}
