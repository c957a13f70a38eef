package polar.model;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A tokenizer whose tokens stand for byte strings; decoding joins the bytes and reads them as UTF-8.
 * SentencePiece-style tokenizers put a space before the first word when encoding; decoding removes it again
 * ({@link #removesPrefixSpace()}): at the start of {@link #decode}'s text, and in a stream right after BOS
 * (a stream that starts without BOS continues a prompt, so its first space is real).
 */
abstract class ByteTokenizer implements Tokenizer {

    /** Appends the bytes of token {@code id} (nothing for special tokens) to {@code out}. */
    abstract void appendBytes(int id, ByteArrayOutputStream out);

    /** Whether decoding drops the space that encoding prefixed to the text. */
    abstract boolean removesPrefixSpace();

    abstract boolean isBos(int id);

    void checkId(int id) {
        if (id < 0 || id >= vocabSize()) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary (size " + vocabSize() + ")");
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int id : ids) appendBytes(id, out);
        String s = out.toString(StandardCharsets.UTF_8);
        return removesPrefixSpace() && s.startsWith(" ") ? s.substring(1) : s;
    }

    @Override
    public StreamDecoder streamDecoder() {
        Utf8Stream utf8 = new Utf8Stream();
        return new StreamDecoder() {
            boolean afterBos;

            @Override
            public String next(int token) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                appendBytes(token, out);
                String s = utf8.push(out.toByteArray());
                if (isBos(token)) afterBos = true;
                else if (afterBos && !s.isEmpty()) {
                    afterBos = false;
                    if (removesPrefixSpace() && s.startsWith(" ")) s = s.substring(1);
                }
                return s;
            }

            @Override
            public String flush() { return utf8.flush(); }
        };
    }
}
