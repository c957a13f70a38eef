package polar.engine;

import polar.engine.sparsity.PolarSparsity;
import polar.tornado.layers.Precision;

/**
 * Capacity and numerics of an {@link Engine}.
 *
 * @param maxSequences   sequences that may hold KV cache at once (and decode in one step)
 * @param maxContext     positions per sequence (at most the model's); 0: the model's
 * @param maxStepTokens  tokens of one step (prefill longer than this runs in several steps)
 * @param blockSize      KV cache positions per block
 * @param kvBlocks       KV cache blocks per layer, scratch block included; 0: enough for every sequence at full context
 * @param partitionSize  positions per split-K attention partition in decode steps
 * @param splitK         split long decode attention into partitions (flash-decoding); off: one work-group per head and token
 * @param precision      activation and KV types; null: by backend (float16 on cuda, else float32)
 * @param weights        weight storage; null: by backend (float16 on cuda, else as stored)
 * @param sparsity       Polar Sparsity plan and routers for decode steps; null: dense
 */
public record EngineOptions(int maxSequences, int maxContext, int maxStepTokens, int blockSize, int kvBlocks,
                            int partitionSize, boolean splitK, Precision precision, WeightFormat weights, PolarSparsity sparsity) {

    public static EngineOptions defaults() {
        return new EngineOptions(8, 0, 512, 16, 0, 256, true, null, null, null);
    }

    public EngineOptions withMaxSequences(int n) {
        return new EngineOptions(n, maxContext, maxStepTokens, blockSize, kvBlocks, partitionSize, splitK, precision, weights, sparsity);
    }

    public EngineOptions withMaxContext(int n) {
        return new EngineOptions(maxSequences, n, maxStepTokens, blockSize, kvBlocks, partitionSize, splitK, precision, weights, sparsity);
    }

    public EngineOptions withMaxStepTokens(int n) {
        return new EngineOptions(maxSequences, maxContext, n, blockSize, kvBlocks, partitionSize, splitK, precision, weights, sparsity);
    }

    public EngineOptions withKvBlocks(int n) {
        return new EngineOptions(maxSequences, maxContext, maxStepTokens, blockSize, n, partitionSize, splitK, precision, weights, sparsity);
    }

    public EngineOptions withPartitions(int size, boolean split) {
        return new EngineOptions(maxSequences, maxContext, maxStepTokens, blockSize, kvBlocks, size, split, precision, weights, sparsity);
    }

    public EngineOptions withPrecision(Precision p, WeightFormat w) {
        return new EngineOptions(maxSequences, maxContext, maxStepTokens, blockSize, kvBlocks, partitionSize, splitK, p, w, sparsity);
    }

    /** Polar Sparsity for decode steps (null: dense). */
    public EngineOptions withSparsity(PolarSparsity s) {
        return new EngineOptions(maxSequences, maxContext, maxStepTokens, blockSize, kvBlocks, partitionSize, splitK, precision, weights, s);
    }
}
