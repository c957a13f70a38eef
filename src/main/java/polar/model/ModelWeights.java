package polar.model;

import java.util.List;
import polar.formats.Tensor;

/**
 * All tensors of a model. {@code lmHead} is the embedding itself when tied.
 * {@code positionEmbedding} is OPT's learned table (with its offset rows), else null.
 */
public record ModelWeights(Tensor tokenEmbedding, Tensor positionEmbedding, List<LayerWeights> layers,
                           Tensor finalNorm, Tensor finalNormBias, Tensor lmHead) {}
