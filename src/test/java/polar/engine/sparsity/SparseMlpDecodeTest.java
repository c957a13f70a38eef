package polar.engine.sparsity;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import polar.engine.Engine;
import polar.engine.EngineOptions;
import polar.engine.Sequence;
import polar.engine.WeightFormat;
import polar.model.Model;
import polar.model.ModelLoader;
import polar.model.SharedAssets;
import polar.runtime.jvm.JvmBackend;
import polar.tornado.layers.Precision;
import polar.tornado.runtime.Backend;

/**
 * tiny-opt decode with every neuron through the sparse MLP in cuda's precision, on the jvm backend:
 * float16 weights, activations and KV cache, so the MLP routers (both matrices and {@code low}) and
 * the transposed FC2 weight {@code W2t} are float16 as on cuda, and at batch 2 the router's second
 * matrix runs fused with the batch sum ({@code MlpRouterScores.upSum}). The dense path rounds the
 * MLP activation to float16, the sparse one keeps it in float32: same tokens, logits within 1e-2.
 * ({@link PolarDecodeTest#allNeuronsThroughTheSparseMlpMatchDense} is the float32 check.)
 */
class SparseMlpDecodeTest {

    @Test
    void allNeuronsThroughTheSparseMlpMatchDenseInFloat16() throws Exception {
        Model model = ModelLoader.load(SharedAssets.require("models/tiny-opt"));
        PolarSparsity polar = PolarSparsity.load(PolarDecodeTest.trained("tiny-opt")).withAttentionDensity(1.0);
        MlpTable t = polar.plan().mlp();
        int[][] all = new int[t.layers()][t.batchSizes().length];
        for (int[] row : all) Arrays.fill(row, t.ffn());
        // denseAbove 1: the table never falls back to the dense MLP, so every neuron goes through the sparse kernels
        polar = new PolarSparsity(polar.plan().withMlp(new MlpTable(t.ffn(), t.tile(), 1.0, t.score(), t.recall(), t.batchSizes(), all)), polar.routers());
        PolarDecodeTest.assertClose("tiny-opt sparse MLP, float16", run(model, null), run(model, polar), 1e-2f);
    }

    /** Greedy decode of PolarDecodeTest's two prompts in one batch in float16; the logits of every step. */
    static float[][][] run(Model model, PolarSparsity sparsity) {
        EngineOptions options = EngineOptions.defaults().withPrecision(Precision.FLOAT16, WeightFormat.FLOAT16)
                .withMaxSequences(2).withMaxContext(64).withPartitions(8, true).withSparsity(sparsity);
        float[][][] out = new float[PolarDecodeTest.STEPS + 1][][];
        try (Backend backend = new JvmBackend(); Engine engine = new Engine(backend, model, options)) {
            Sequence a = engine.newSequence(), b = engine.newSequence();
            List<Sequence> both = List.of(a, b);
            out[0] = engine.prefill(both, List.of(PolarDecodeTest.PROMPTS[0], PolarDecodeTest.PROMPTS[1]));
            for (int s = 1; s <= PolarDecodeTest.STEPS; s++) {
                out[s] = engine.decode(both, new int[] {PolarDecodeTest.argmax(out[s - 1][0]), PolarDecodeTest.argmax(out[s - 1][1])});
            }
        }
        return out;
    }
}
