package polar.model;

import java.util.Arrays;

/**
 * Model shapes of {@link SyntheticModel}s, by the name the decode benchmark's plans, the PyTorch peer
 * ({@code benchmarks/peers/torch_decode.py}) and {@code polar serve -m synthetic:NAME} use. The 7B-class
 * shapes are the real models' configs; the smoke ones exist for smoke runs on the JVM backend.
 */
public enum BenchModel {
    LLAMA2_7B("llama2-7b", new ModelConfig(Architecture.LLAMA, 32000, 4096, 32, 32, 32, 128, 11008, 4096, 1e-5f,
            10000f, null, 128, 0, false, 1, new int[] {2})),
    LLAMA3_8B("llama3-8b", new ModelConfig(Architecture.LLAMA, 128256, 4096, 32, 32, 8, 128, 14336, 8192, 1e-5f,
            500000f, null, 128, 0, false, 128000, new int[] {128001})),
    OPT_6_7B("opt-6.7b", new ModelConfig(Architecture.OPT, 50272, 4096, 32, 32, 32, 128, 16384, 2048, 1e-5f,
            0f, null, 0, 2, true, 2, new int[] {2})),
    /** Smoke shapes: small enough for the JVM backend, with GQA (Llama) and biases, LayerNorm, ReLU (OPT). */
    SMOKE_LLAMA("smoke-llama", new ModelConfig(Architecture.LLAMA, 512, 128, 2, 4, 2, 32, 256, 1024, 1e-5f,
            10000f, null, 32, 0, false, 1, new int[] {2})),
    SMOKE_OPT("smoke-opt", new ModelConfig(Architecture.OPT, 512, 128, 2, 4, 4, 32, 512, 1024, 1e-5f,
            0f, null, 0, 2, true, 2, new int[] {2}));

    private final String id;
    private final ModelConfig config;

    BenchModel(String id, ModelConfig config) {
        this.id = id;
        this.config = config;
    }

    /** The name in plans, JSON and the peer, e.g. {@code llama2-7b}. */
    public String id() { return id; }

    public ModelConfig config() { return config; }

    public static BenchModel byId(String id) {
        for (BenchModel m : values()) if (m.id.equals(id)) return m;
        throw new IllegalArgumentException("unknown model shape '" + id + "'; known: " + Arrays.stream(values()).map(BenchModel::id).toList());
    }
}
