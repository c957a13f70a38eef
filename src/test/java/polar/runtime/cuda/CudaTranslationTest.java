package polar.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import polar.engine.Engine;
import polar.engine.EngineOptions;
import polar.engine.Sequence;
import polar.engine.WeightFormat;
import polar.engine.sparsity.PolarDecodeTest;
import polar.engine.sparsity.PolarSparsity;
import polar.model.Model;
import polar.model.ModelLoader;
import polar.model.SharedAssets;
import polar.runtime.jvm.JvmBackend;
import polar.tornado.compiler.Dialect;
import polar.tornado.compiler.KernelCompiler;
import polar.tornado.graph.KernelTask;
import polar.tornado.graph.TaskGraph;
import polar.tornado.layers.LayerGraphBuilder;
import polar.tornado.layers.Precision;
import polar.tornado.layers.StepShape;
import polar.tornado.runtime.Backend;

/**
 * Every kernel of a prefill and a decode step, with Polar Sparsity on (router, selective attention
 * with split-K, and for OPT the sparse MLP) in CUDA's float16 precision, translates to CUDA C that
 * NVRTC compiles for the H100 (sm_90). Needs NVRTC, not a GPU: on a CPU machine with Debian's
 * {@code libnvrtc11.2} (non-free; {@code .ci/test} installs it) this checks the CUDA translations
 * that otherwise only a GPU host would. The graphs are the engine's own, recorded on the jvm backend.
 */
class CudaTranslationTest {

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tiny-llama", "tiny-opt"})
    void everyKernelOfTheStepCompilesForTheH100(String name) throws Exception {
        Nvrtc nvrtc;
        try {
            nvrtc = Nvrtc.get();
        } catch (CudaException e) {
            assumeTrue(false, "no NVRTC: " + e.getMessage());
            return;
        }
        Model model = ModelLoader.load(SharedAssets.require("models/" + name));
        PolarSparsity polar = PolarSparsity.load(PolarDecodeTest.trained(name)).withAttentionDensity(0.5);
        EngineOptions options = EngineOptions.defaults().withPrecision(Precision.FLOAT16, WeightFormat.FLOAT16)
                .withMaxSequences(2).withMaxContext(64).withPartitions(8, true).withSparsity(polar);
        List<TaskGraph> graphs = new ArrayList<>();
        Engine.BuilderFactory recording = (shape, precision, weights, kv, step, partitionSize) ->
                new LayerGraphBuilder(shape, precision, weights, kv, step, partitionSize) {
                    @Override
                    public List<TaskGraph> build(StepShape s) {
                        List<TaskGraph> built = super.build(s);
                        graphs.addAll(built);
                        return built;
                    }
                };
        try (Backend backend = new JvmBackend(); Engine engine = new Engine(backend, model, options, recording)) {
            List<Sequence> both = List.of(engine.newSequence(), engine.newSequence());
            engine.prefill(both, List.of(new int[] {0, 5, 7, 9}, new int[] {0, 11}));
            engine.decode(both, new int[] {3, 4});
        }
        // one translation per kernel and constants, as the CUDA backend loads them
        Map<String, KernelTask> distinct = new LinkedHashMap<>();
        for (TaskGraph g : graphs) {
            for (var task : g.tasks()) {
                if (task instanceof KernelTask k) distinct.putIfAbsent(KernelCompiler.entryName(k.kernel(), KernelCompiler.constants(k)), k);
            }
        }
        Set<String> kernels = new TreeSet<>();
        for (KernelTask k : distinct.values()) {
            String entry = KernelCompiler.entryName(k.kernel(), KernelCompiler.constants(k));
            var source = KernelCompiler.translate(k.kernel(), Dialect.CUDA, KernelCompiler.constants(k));
            Nvrtc.Image image = nvrtc.compile(source.code(), entry, 9, 0, List.of()); // throws with NVRTC's log
            assertTrue(image.bytes().length > 0, entry);
            kernels.add(k.kernel().owner().getSimpleName() + "." + k.kernel().name());
        }
        for (String expected : List.of("HeadRouter.scoreTopKHalf", "SelectiveAttention.pagedHalf", "Attention.pagedHalf")) {
            assertTrue(kernels.contains(expected), name + ": the step should use " + expected + ", used " + kernels);
        }
        if (name.equals("tiny-opt")) assertTrue(kernels.contains("SparseMlp.fc2F16"), name + ": no sparse MLP in " + kernels);
        System.out.println(name + ": " + distinct.size() + " CUDA translations compiled by NVRTC " + nvrtc.version() + " (" + nvrtc.library() + ")");
    }
}
