package polar.engine.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import polar.engine.Golden;
import polar.engine.BatchEngine;
import polar.engine.Engine;
import polar.engine.EngineOptions;
import polar.engine.Sequence;
import polar.formats.DType;
import polar.formats.Tensor;
import polar.engine.sparsity.PolarDecodeTest;
import polar.engine.sparsity.PolarSparsity;
import polar.model.Architecture;
import polar.model.LayerWeights;
import polar.model.Model;
import polar.model.ModelConfig;
import polar.model.ModelLoader;
import polar.model.ModelWeights;
import polar.model.SharedAssets;
import polar.runtime.cuda.CudaBackend;
import polar.runtime.nccl.Nccl;
import polar.tornado.runtime.Backend;

/**
 * Tensor parallelism on the GPUs of one host over NCCL: the greedy tokens of N = 1 (one rank through
 * the whole NCCL path: all-reduces on the backend's stream, the step captured as one CUDA graph),
 * and of N = 2, 4, 8 where there are as many GPUs and the model divides, equal those of a plain
 * {@link Engine} on one GPU: tiny-llama and tiny-opt dense and with Polar Sparsity (trained routers,
 * attention density 0.5), and a LLaMA-3-8B-shaped model of random weights ({@code -Dpolar.tp.layers},
 * default 4 layers). Prints decode tokens/s of each (not asserted). Skips without a CUDA GPU, libnccl,
 * or {@code NCCL_NVLS_ENABLE=0} in the environment.
 */
class TensorParallelCudaTest {
    static final int GREEDY_TOKENS = 16;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tiny-llama", "tiny-opt"})
    void sameTokensAsOneGpu(String name) throws Exception {
        assumeNccl();
        Model model = ModelLoader.load(SharedAssets.require("models/" + name));
        compare(name + " dense", model, prompts(name), null);
    }

    /**
     * Polar Sparsity (attention at density 0.5; MLP dense, since the ranks' MLP keeps k/N of its own neurons each, a
     * different choice from one device's): every rank routes over the whole model, so the selections are one GPU's.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tiny-llama", "tiny-opt"})
    void polarSameTokensAsOneGpu(String name) throws Exception {
        assumeNccl();
        Model model = ModelLoader.load(SharedAssets.require("models/" + name));
        PolarSparsity half = PolarSparsity.load(PolarDecodeTest.trained(name)).withAttentionDensity(0.5).withoutMlp();
        compare(name + " polar 0.5", model, prompts(name), half);
    }

    @Test
    void llama3ShapedSyntheticModel() {
        assumeNccl();
        int layers = Integer.getInteger("polar.tp.layers", 4);
        ModelConfig c = new ModelConfig(Architecture.LLAMA, 128_256, 4096, layers, 32, 8, 128, 14_336, 8192, 1e-5f,
                500_000f, null, 128, 0, false, 128_000, new int[] {128_001});
        Model model = randomModel(c, 20251);
        SplittableRandom random = new SplittableRandom(7);
        List<int[]> prompts = IntStream.range(0, 4).mapToObj(i -> random.ints(24 + 8 * i, 0, c.vocabSize()).toArray()).toList();
        compare("LLaMA-3-8B-shaped, " + layers + " layers", model, prompts, null);
    }

    private static List<int[]> prompts(String name) throws Exception {
        return Golden.load(name).stream().map(Golden::promptIds).toList();
    }

    private static void assumeNccl() {
        assumeTrue(CudaBackend.deviceCount() >= 1, "no CUDA GPU");
        assumeTrue(Nccl.available(), Nccl::unavailableReason);
        assumeTrue("0".equals(System.getenv(Nccl.NVLS_VARIABLE)), "run with NCCL_NVLS_ENABLE=0");
    }

    /** Greedy tokens of every prompt (batched) on one GPU, then over 1, 2, 4 and 8 NCCL ranks where possible: all equal. */
    private static void compare(String what, Model model, List<int[]> prompts, PolarSparsity sparsity) {
        EngineOptions options = EngineOptions.defaults().withMaxSequences(prompts.size()).withMaxContext(128).withSparsity(sparsity);
        Greedy one;
        try (CudaBackend backend = new CudaBackend(0); Engine engine = new Engine(backend, model, options)) {
            one = greedy(engine, prompts);
        }
        System.out.printf("%s on 1 GPU (Engine): decode %.0f tokens/s%n", what, one.decodeTokensPerSecond());
        for (int n : new int[] {1, 2, 4, 8}) {
            if (n > CudaBackend.deviceCount() || !Sharding.divides(model.config(), n)) continue;
            List<CudaBackend> gpus = IntStream.range(0, n).mapToObj(CudaBackend::new).toList();
            List<Communicator> group = NcclCommunicator.group(gpus);
            try (TensorParallelEngine engine = new TensorParallelEngine(new ArrayList<Backend>(gpus), group, model, options)) {
                Greedy split = greedy(engine, prompts);
                System.out.printf("%s over %d NCCL rank%s: decode %.0f tokens/s (all-reduce in the step's CUDA graph)%n",
                        what, n, n == 1 ? "" : "s", split.decodeTokensPerSecond());
                for (int i = 0; i < prompts.size(); i++) {
                    assertArrayEquals(one.tokens()[i], split.tokens()[i], what + ", prompt " + i + ": tokens over " + n + " NCCL ranks vs one GPU");
                }
            } finally {
                group.forEach(Communicator::close);
                gpus.forEach(CudaBackend::close);
            }
        }
    }

    /** Greedy tokens per prompt, and the decode rate of the steps after the first (which compiles and captures). */
    private record Greedy(int[][] tokens, double decodeTokensPerSecond) {}

    private static Greedy greedy(BatchEngine engine, List<int[]> prompts) {
        List<Sequence> seqs = prompts.stream().map(p -> engine.newSequence()).toList();
        float[][] logits = engine.prefill(seqs, prompts);
        int[][] out = new int[prompts.size()][GREEDY_TOKENS];
        long start = 0;
        for (int step = 0; step < GREEDY_TOKENS; step++) {
            int[] next = new int[logits.length];
            for (int i = 0; i < next.length; i++) {
                assertTrue(Float.isFinite(logits[i][0]), "finite logits");
                next[i] = out[i][step] = TensorParallelEngineTest.argmax(logits[i]);
            }
            if (step == 1) start = System.nanoTime();
            if (step + 1 < GREEDY_TOKENS) logits = engine.decode(seqs, next);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        seqs.forEach(engine::release);
        return new Greedy(out, prompts.size() * (GREEDY_TOKENS - 2) / seconds);
    }

    /** A Llama model of random float16 weights (uniform in +-1/sqrt(in), norms 1); every layer shares one layer's host tensors. */
    static Model randomModel(ModelConfig c, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int h = c.hidden();
        LayerWeights layer = new LayerWeights(ones("attn_norm", h), null,
                f16("wq", random, c.qDim(), h), null, f16("wk", random, c.kvDim(), h), null, f16("wv", random, c.kvDim(), h), null,
                f16("wo", random, h, c.qDim()), null, ones("mlp_norm", h), null,
                f16("gate", random, c.ffn(), h), f16("up", random, c.ffn(), h), null, f16("down", random, h, c.ffn()), null);
        Tensor embedding = f16("embedding", random, c.vocabSize(), h);
        ModelWeights w = new ModelWeights(embedding, null, Collections.nCopies(c.layers(), layer), ones("final_norm", h), null,
                f16("lm_head", random, c.vocabSize(), h));
        return new Model(c, w, null, null);
    }

    private static Tensor ones(String name, int n) {
        float[] v = new float[n];
        Arrays.fill(v, 1f);
        return Tensor.f32(name, v, n);
    }

    private static Tensor f16(String name, SplittableRandom random, int out, int in) {
        long n = (long) out * in;
        MemorySegment data = Arena.ofAuto().allocate(2 * n, 64);
        float scale = (float) (1 / Math.sqrt(in));
        long chunk = 1 << 20;
        List<SplittableRandom> streams = new ArrayList<>();
        for (long at = 0; at < n; at += chunk) streams.add(random.split());
        IntStream.range(0, streams.size()).parallel().forEach(k -> {
            SplittableRandom r = streams.get(k);
            for (long i = k * chunk; i < Math.min(n, (k + 1) * chunk); i++) {
                data.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16((float) (r.nextDouble(-1, 1) * scale)));
            }
        });
        return new Tensor(name, DType.F16, new long[] {out, in}, data, "<random>");
    }
}
