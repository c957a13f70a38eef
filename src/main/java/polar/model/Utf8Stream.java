package polar.model;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Bytes in, text out, holding back a trailing UTF-8 sequence until it is complete: a token may end
 * in the middle of a character (byte-level BPE, SentencePiece byte fallback).
 */
final class Utf8Stream {
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    /** Appends {@code bytes}; returns the text that is now complete. */
    String push(byte[] bytes) {
        pending.writeBytes(bytes);
        byte[] all = pending.toByteArray();
        int cut = completePrefix(all);
        pending.reset();
        pending.write(all, cut, all.length - cut);
        return new String(all, 0, cut, StandardCharsets.UTF_8);
    }

    /** Whatever is pending, malformed bytes replaced by U+FFFD. */
    String flush() {
        String s = pending.toString(StandardCharsets.UTF_8);
        pending.reset();
        return s;
    }

    /**
     * Length of the longest prefix that does not end inside an unfinished character: the last
     * lead byte is held back only when fewer continuation bytes follow it than it announces.
     */
    static int completePrefix(byte[] b) {
        int n = b.length;
        for (int back = 1; back <= Math.min(3, n); back++) {
            int c = b[n - back] & 0xFF;
            if ((c & 0xC0) == 0x80) continue; // continuation byte: keep looking for its lead
            int need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
            return need > back ? n - back : n;
        }
        return n; // only continuation bytes at the end: malformed, let the decoder replace them
    }
}
