package polar.tools.routers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import polar.engine.Engine;
import polar.engine.EngineOptions;
import polar.engine.Sequence;
import polar.engine.sparsity.PolarSparsity;
import polar.engine.sparsity.SparsityPlan;
import polar.model.Model;
import polar.model.ModelLoader;
import polar.runtime.jvm.JvmBackend;
import polar.tornado.runtime.Backend;

/**
 * The host forward pass's masked perplexity agrees with the engine's teacher-forced decode (jvm backend)
 * with the same selection: dense, the oracle (in the engine: dense attention, norms, top-k, mask, in the
 * task graph) and the trained routers (router GEMM, top-k, selective attention), at density 0.5.
 */
class HostPerplexityTest {
    static final int WINDOW = 24, TOKENS = 48;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tiny-llama", "tiny-opt"})
    void hostAndEngineAgreeOnEverySelection(String name) throws Exception {
        try (HostActivationSource host = HostActivationSourceTest.open(name, WINDOW)) {
            Model model = ModelLoader.load(HostActivationSourceTest.SHARED.resolve("models/" + name));
            String text = Files.readString(HostActivationSourceTest.SHARED.resolve("corpus/tinystories/valid-sample.txt")).substring(0, 2000);
            List<int[]> windows = HostPerplexity.windows(java.util.Arrays.copyOf(model.tokenizer().encode(text, true), TOKENS), WINDOW);
            PolarSparsity trained = PolarSparsity.load(trained(name)).withAttentionDensity(0.5).withoutMlp();
            SparsityPlan plan = trained.plan();
            double dense = engineNll(model, windows, null);
            double oracle = engineNll(model, windows, trained.withOracleAttention());
            double router = engineNll(model, windows, trained);
            assertEquals(dense, hostNll(host, windows, HostPerplexity.Selection.DENSE, trained), 1e-4 * dense, name + " dense");
            assertEquals(oracle, hostNll(host, windows, HostPerplexity.Selection.ORACLE, trained), 1e-4 * oracle, name + " oracle");
            assertEquals(router, hostNll(host, windows, HostPerplexity.Selection.ROUTER, trained), 1e-4 * router, name + " router");
            assertTrue(oracle != dense && router != oracle, "the selections differ: dense " + dense + ", oracle " + oracle + ", router " + router);
            assertEquals(plan.units() / 2, plan.attnK(1));
        }
    }

    static double hostNll(HostActivationSource host, List<int[]> windows, HostPerplexity.Selection selection, PolarSparsity s) {
        double ppl = HostPerplexity.perplexity(host, windows, 8, selection, s.plan(), s.routers());
        return Math.log(ppl) * predicted(windows);
    }

    static long predicted(List<int[]> windows) {
        return windows.stream().mapToLong(w -> w.length - 1).sum();
    }

    /** Summed NLL by teacher-forced decode: each window's first token prefilled, every later one fed as a decode step. */
    static double engineNll(Model model, List<int[]> windows, PolarSparsity sparsity) {
        EngineOptions options = EngineOptions.defaults().withMaxSequences(windows.size()).withMaxContext(WINDOW).withSparsity(sparsity);
        double nll = 0;
        try (Backend backend = new JvmBackend(); Engine engine = new Engine(backend, model, options)) {
            List<Sequence> seqs = new ArrayList<>();
            List<int[]> firsts = new ArrayList<>();
            for (int[] w : windows) {
                seqs.add(engine.newSequence());
                firsts.add(new int[] {w[0]});
            }
            float[][] logits = engine.prefill(seqs, firsts);
            for (int pos = 1; pos < WINDOW; pos++) {
                int[] next = new int[windows.size()];
                for (int i = 0; i < windows.size(); i++) { // equal-length windows here
                    nll -= logProb(logits[i], windows.get(i)[pos]);
                    next[i] = windows.get(i)[pos];
                }
                if (pos + 1 < WINDOW) logits = engine.decode(seqs, next);
            }
        }
        return nll;
    }

    static double logProb(float[] logits, int token) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (float v : logits) max = Math.max(max, v);
        for (float v : logits) sum += Math.exp(v - max);
        return logits[token] - max - Math.log(sum);
    }

    /** {@code weights-tools/trained/<model>}, from the module folder (tests run there) or the repository root. */
    static Path trained(String model) {
        for (Path p : new Path[] {Path.of("trained", model), Path.of("weights-tools/trained", model)}) if (Files.isDirectory(p)) return p;
        throw new IllegalStateException("trained routers for " + model + " not found");
    }
}
