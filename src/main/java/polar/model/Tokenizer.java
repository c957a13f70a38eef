package polar.model;

/** Text <-> token ids. Implementations: byte-level BPE ({@code tokenizer.json}), SentencePiece BPE (GGUF). */
public interface Tokenizer {

    /** Token ids of {@code text}, with the model's BOS (as its post-processor adds it) when {@code addBos}. */
    int[] encode(String text, boolean addBos);

    /** Text of {@code ids}; special tokens such as BOS/EOS are dropped. */
    String decode(int[] ids);

    /** A decoder fed one token at a time that only emits complete UTF-8 characters. */
    StreamDecoder streamDecoder();

    int vocabSize();

    interface StreamDecoder {
        /** Text completed by {@code token} (possibly empty while a multi-byte character is pending). */
        String next(int token);

        /** Whatever is still pending, with malformed bytes replaced. */
        String flush();
    }
}
