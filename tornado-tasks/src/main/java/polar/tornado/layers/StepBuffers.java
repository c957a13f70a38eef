package polar.tornado.layers;

import polar.tornado.graph.Buffer;
import polar.tornado.runtime.Backend;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.IntArray;

/**
 * Device buffers of a step, sized for the largest step; a smaller step uses their first rows.
 * The first four are the per-step inputs the engine writes before each run (so compiled graphs,
 * and captured CUDA graphs, replay unchanged); the rest are activations that stay on the device.
 *
 * @param tokenIds   token of each step token
 * @param positions  position of each step token in its sequence
 * @param tokenSeq   block-table row of each step token's sequence
 * @param lastRows   for each sequence of the step, the index of its last token (whose logits are returned)
 * @param x          residual stream {@code [tokens, hidden]} float32
 * @param normed     normed hidden state {@code [tokens, hidden]} (activation type)
 * @param qkv        fused projection output {@code [tokens, qkvDim]} float32
 * @param attn       attention output {@code [tokens, qDim]} (activation type)
 * @param partOut    split-K partial outputs {@code [sequences, partitions, qDim]} float32
 * @param partStats  split-K per-head max and sum {@code [sequences, partitions, heads, 2]} float32
 * @param arrivals   split-K partitions finished per KV head {@code [sequences, kvHeads]}: zeros between launches
 * @param mlpIn      first MLP projection output {@code [tokens, mlpInDim]} float32
 * @param mlpAct     MLP activation {@code [tokens, ffn]} (activation type)
 * @param last       hidden state of each sequence's last token {@code [sequences, hidden]} float32
 * @param lastNormed final-normed {@code [sequences, hidden]} (activation type)
 * @param logits     {@code [sequences, vocab]} float32
 */
public record StepBuffers(Buffer<IntArray> tokenIds, Buffer<IntArray> positions, Buffer<IntArray> tokenSeq, Buffer<IntArray> lastRows,
                          Buffer<FloatArray> x, Buffer<?> normed, Buffer<FloatArray> qkv, Buffer<?> attn,
                          Buffer<FloatArray> partOut, Buffer<FloatArray> partStats, Buffer<IntArray> arrivals,
                          Buffer<FloatArray> mlpIn, Buffer<?> mlpAct,
                          Buffer<FloatArray> last, Buffer<?> lastNormed, Buffer<FloatArray> logits,
                          int maxTokens, int maxSequences, int maxPartitions) {

    /** Allocates buffers for steps of up to {@code maxTokens} tokens over up to {@code maxSequences} sequences. */
    public static StepBuffers allocate(Backend backend, TransformerShape shape, Precision precision,
                                       int maxTokens, int maxSequences, int maxPartitions) {
        ElementType<?> act = precision.activations();
        long t = maxTokens;
        long s = maxSequences;
        return new StepBuffers(
                backend.allocate(ElementType.I32, t, "step.tokenIds"),
                backend.allocate(ElementType.I32, t, "step.positions"),
                backend.allocate(ElementType.I32, t, "step.tokenSeq"),
                backend.allocate(ElementType.I32, s, "step.lastRows"),
                backend.allocate(ElementType.F32, t * shape.hidden(), "step.x"),
                backend.allocate(act, t * shape.hidden(), "step.normed"),
                backend.allocate(ElementType.F32, t * shape.qkvDim(), "step.qkv"),
                backend.allocate(act, t * shape.qDim(), "step.attn"),
                backend.allocate(ElementType.F32, maxPartitions > 1 ? s * maxPartitions * shape.qDim() : 1, "step.partOut"),
                backend.allocate(ElementType.F32, maxPartitions > 1 ? s * maxPartitions * shape.heads() * 2 : 1, "step.partStats"),
                backend.allocate(ElementType.I32, maxPartitions > 1 ? s * shape.kvHeads() : 1, "step.arrivals"),
                backend.allocate(ElementType.F32, t * shape.mlpInDim(), "step.mlpIn"),
                backend.allocate(act, t * shape.ffn(), "step.mlpAct"),
                backend.allocate(ElementType.F32, s * shape.hidden(), "step.last"),
                backend.allocate(act, s * shape.hidden(), "step.lastNormed"),
                backend.allocate(ElementType.F32, s * shape.vocab(), "step.logits"),
                maxTokens, maxSequences, maxPartitions);
    }

    /** Frees every buffer. */
    public void free(Backend backend) {
        for (Buffer<?> b : new Buffer<?>[] {tokenIds, positions, tokenSeq, lastRows, x, normed, qkv, attn, partOut, partStats, arrivals,
                mlpIn, mlpAct, last, lastNormed, logits}) {
            backend.free(b);
        }
    }
}
