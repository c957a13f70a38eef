package polar.model;

import java.nio.file.Path;

/** A loaded model: config, tensors (memory-mapped) and tokenizer. */
public record Model(ModelConfig config, ModelWeights weights, Tokenizer tokenizer, Path source) {}
