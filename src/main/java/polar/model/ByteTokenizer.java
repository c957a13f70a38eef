package polar.model;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** A tokenizer whose tokens stand for byte strings; decoding joins the bytes and reads them as UTF-8. */
abstract class ByteTokenizer implements Tokenizer {

    /** Appends the bytes of token {@code id} (nothing for special tokens) to {@code out}. */
    abstract void appendBytes(int id, ByteArrayOutputStream out);

    void checkId(int id) {
        if (id < 0 || id >= vocabSize()) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary (size " + vocabSize() + ")");
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int id : ids) appendBytes(id, out);
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public StreamDecoder streamDecoder() {
        Utf8Stream utf8 = new Utf8Stream();
        return new StreamDecoder() {
            @Override
            public String next(int token) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                appendBytes(token, out);
                return utf8.push(out.toByteArray());
            }

            @Override
            public String flush() { return utf8.flush(); }
        };
    }
}
