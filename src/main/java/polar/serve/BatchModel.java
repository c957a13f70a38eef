package polar.serve;

import java.util.List;
import polar.model.Tokenizer;

/**
 * What the scheduler needs from an inference engine: sequences over a paged KV cache, batched
 * chunked prefill and batched one-token decode, returning logits on the host.
 *
 * <p>Contract (the scheduler keeps its side; an implementation must check its own and throw,
 * never corrupt the cache):
 * <ul>
 *   <li>{@link #open}, {@link #prefill}, {@link #decode}, {@link #close(int)}, {@link #freeBlocks} and {@link #close()}
 *       are called from one thread, the scheduler's. The others describe fixed properties and may be called from
 *       any thread; the tokenizer's {@code encode} is called from request threads concurrently.</li>
 *   <li>A sequence of {@code n} cached positions holds exactly {@code ceil(n / blockSize())} KV blocks,
 *       allocated as positions are written; {@link #close(int)} returns them all to the free list at once.
 *       Before each call the scheduler makes sure {@link #freeBlocks()} covers the blocks the call needs.</li>
 *   <li>At most {@link #maxBatch()} sequences are open at once, so at most that many take part in a call.</li>
 *   <li>A sequence never holds more than {@link #contextLength()} positions.</li>
 *   <li>Returned logits rows may be reused by the implementation: they are valid until the next
 *       {@link #prefill} or {@link #decode}.</li>
 * </ul>
 */
public interface BatchModel extends AutoCloseable {

    /** The model's name, as {@code /v1/models} lists it and requests name it. */
    String id();

    Tokenizer tokenizer();

    /** {@code chat_template} from {@code tokenizer_config.json} (or GGUF metadata), or null when the model has none. */
    String chatTemplate();

    /** True for the model's end-of-sequence tokens (those that stop generation). */
    boolean isEos(int token);

    /** Length of a logits row (may exceed the tokenizer's vocabulary when the embedding is padded). */
    int vocabSize();

    /** Most positions (prompt plus generated tokens) one sequence may hold. */
    int contextLength();

    /** Most sequences open at once. */
    int maxBatch();

    /** Most prompt tokens, over all chunks, in one {@link #prefill} call. */
    int maxPrefillTokens();

    /** Positions per KV block. */
    int blockSize();

    int totalBlocks();

    int freeBlocks();

    /** A new, empty sequence (no blocks yet); returns its id, unique among open sequences. */
    int open();

    /**
     * Appends each chunk's tokens to its sequence's KV cache (positions {@code length .. length + tokens.length - 1}),
     * all chunks in one batched call. Chunks name distinct sequences and hold at most {@link #maxPrefillTokens()}
     * tokens together.
     *
     * @return logits at the last position of every chunk with {@code wantLogits}, in chunk order: one row of
     *         {@link #vocabSize()} floats each
     */
    float[][] prefill(List<PrefillChunk> chunks);

    /**
     * Appends {@code tokens[i]} to sequence {@code seqs[i]} (one position each, distinct sequences) and returns the
     * logits at that position: {@code seqs.length} rows of {@link #vocabSize()} floats.
     */
    float[][] decode(int[] seqs, int[] tokens);

    /** Ends a sequence and frees its blocks at once. */
    void close(int seq);

    /** Releases the device and the cache; called once, after every sequence is closed. */
    @Override
    void close();

    /** Prompt tokens for one sequence; {@code wantLogits} when they complete its prompt. */
    record PrefillChunk(int seq, int[] tokens, boolean wantLogits) {}
}
