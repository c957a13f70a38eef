package polar.model;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import polar.formats.FormatException;
import polar.formats.Gguf;

/**
 * SentencePiece-style BPE as llama.cpp runs it for GGUF files with {@code tokenizer.ggml.model = "llama"}:
 * spaces become '▁' (with one prepended: {@code add_space_prefix}), the text is split into UTF-8 characters,
 * and the adjacent pair whose concatenation is the highest-scoring token is merged until none is left;
 * pieces that are not tokens fall back to {@code <0xXX>} byte tokens.
 * Control and user-defined tokens written in the text are matched before that (llama.cpp's parse_special).
 */
public final class SentencePieceTokenizer extends ByteTokenizer {

    /** llama.cpp's token types ({@code tokenizer.ggml.token_type}). */
    enum TokenType {
        UNDEFINED, NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE;

        static TokenType of(long id) { return id >= 0 && id < values().length ? values()[(int) id] : UNDEFINED; }
    }

    private static final char SPACE = '\u2581'; // '▁'

    private final String[] pieces;
    private final float[] scores;
    private final TokenType[] types;
    private final Map<String, Integer> ids = new HashMap<>();
    private final int[] byteTokens = new int[256];
    private final List<Integer> specialLongestFirst; // control and user-defined tokens, matched in the text
    private final int bos, unk;
    private final boolean addBosToken, addEosToken, addSpacePrefix;
    private final int eos;

    public SentencePieceTokenizer(List<String> pieces, float[] scores, long[] types, int bos, int eos, int unk,
                                  boolean addBosToken, boolean addEosToken, boolean addSpacePrefix) {
        int n = pieces.size();
        this.pieces = pieces.toArray(String[]::new);
        this.scores = scores != null ? scores : new float[n];
        this.types = new TokenType[n];
        for (int i = 0; i < n; i++) {
            this.types[i] = types != null ? TokenType.of(types[i]) : TokenType.NORMAL;
            ids.putIfAbsent(this.pieces[i], i);
        }
        java.util.Arrays.fill(byteTokens, -1);
        for (int b = 0; b < 256; b++) {
            Integer id = ids.get(String.format("<0x%02X>", b));
            if (id != null) byteTokens[b] = id;
        }
        List<Integer> special = new ArrayList<>();
        for (int i = 0; i < n; i++)
            if ((this.types[i] == TokenType.CONTROL || this.types[i] == TokenType.USER_DEFINED) && !this.pieces[i].isEmpty()) special.add(i);
        special.sort(Comparator.comparingInt((Integer i) -> this.pieces[i].length()).reversed());
        this.specialLongestFirst = special;
        this.bos = bos;
        this.eos = eos;
        this.unk = unk;
        this.addBosToken = addBosToken;
        this.addEosToken = addEosToken;
        this.addSpacePrefix = addSpacePrefix;
    }

    /** The tokenizer in a GGUF file's {@code tokenizer.ggml.*} metadata. */
    public static SentencePieceTokenizer fromGguf(Gguf g) {
        List<String> tokens = g.strings("tokenizer.ggml.tokens");
        float[] scores = g.has("tokenizer.ggml.scores") ? g.floats("tokenizer.ggml.scores") : null;
        long[] types = g.has("tokenizer.ggml.token_type") ? g.integers("tokenizer.ggml.token_type") : null;
        if (scores != null && scores.length != tokens.size())
            throw new FormatException(g.file() + ": metadata 'tokenizer.ggml.scores' has " + scores.length + " entries for " + tokens.size() + " tokens");
        if (types != null && types.length != tokens.size())
            throw new FormatException(g.file() + ": metadata 'tokenizer.ggml.token_type' has " + types.length + " entries for " + tokens.size() + " tokens");
        return new SentencePieceTokenizer(tokens, scores, types,
                (int) g.integer("tokenizer.ggml.bos_token_id", 1), (int) g.integer("tokenizer.ggml.eos_token_id", 2),
                (int) g.integer("tokenizer.ggml.unknown_token_id", 0),
                g.bool("tokenizer.ggml.add_bos_token", true), g.bool("tokenizer.ggml.add_eos_token", false),
                g.bool("tokenizer.ggml.add_space_prefix", true));
    }

    @Override
    public int vocabSize() { return pieces.length; }

    public String piece(int id) { return pieces[id]; }

    // ---- encoding ----

    @Override
    public int[] encode(String text, boolean addBos) {
        IntList out = new IntList();
        if (addBos && addBosToken) out.add(bos);
        boolean afterSpecial = true; // llama.cpp: the space prefix goes before text that starts the input or follows a special token
        int start = 0;
        for (int pos = 0; pos < text.length(); ) {
            int special = specialAt(text, pos);
            if (special < 0) { pos++; continue; }
            if (pos > start) { encodeText(text.substring(start, pos), afterSpecial, out); }
            out.add(special);
            afterSpecial = true;
            start = pos = pos + pieces[special].length();
        }
        if (start < text.length()) encodeText(text.substring(start), afterSpecial, out);
        if (addBos && addEosToken) out.add(eos);
        return out.toArray();
    }

    private int specialAt(String text, int pos) {
        for (int id : specialLongestFirst) if (text.startsWith(pieces[id], pos)) return id;
        return -1;
    }

    /** One symbol of the merge: a run of the text, linked to its neighbours. */
    private static final class Symbol {
        final int start;
        int length, prev, next;

        Symbol(int start, int length, int prev, int next) {
            this.start = start;
            this.length = length;
            this.prev = prev;
            this.next = next;
        }
    }

    private record Bigram(int left, int right, float score, int length) {}

    private void encodeText(String raw, boolean prefixSpace, IntList out) {
        String text = ((addSpacePrefix && prefixSpace) ? " " + raw : raw).replace(' ', SPACE);
        List<Symbol> symbols = new ArrayList<>();
        for (int i = 0; i < text.length(); ) {
            int len = Character.charCount(text.codePointAt(i));
            symbols.add(new Symbol(i, len, symbols.size() - 1, i + len < text.length() ? symbols.size() + 1 : -1));
            i += len;
        }
        // Highest score first; on equal scores the leftmost pair.
        PriorityQueue<Bigram> queue = new PriorityQueue<>((a, b) -> a.score != b.score ? Float.compare(b.score, a.score) : Integer.compare(a.left, b.left));
        Map<String, int[]> reverseMerge = new HashMap<>();
        for (int i = 1; i < symbols.size(); i++) tryAddBigram(text, symbols, i - 1, i, queue, reverseMerge);
        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            Symbol left = symbols.get(b.left), right = symbols.get(b.right);
            if (left.length == 0 || right.length == 0 || left.length + right.length != b.length) continue; // stale
            left.length += right.length;
            right.length = 0;
            left.next = right.next;
            if (right.next >= 0) symbols.get(right.next).prev = b.left;
            tryAddBigram(text, symbols, left.prev, b.left, queue, reverseMerge);
            tryAddBigram(text, symbols, b.left, left.next, queue, reverseMerge);
        }
        for (int i = symbols.isEmpty() ? -1 : 0; i != -1; i = symbols.get(i).next) resegment(text, symbols, symbols.get(i), reverseMerge, out);
    }

    private void tryAddBigram(String text, List<Symbol> symbols, int left, int right, PriorityQueue<Bigram> queue, Map<String, int[]> reverseMerge) {
        if (left < 0 || right < 0) return;
        Symbol l = symbols.get(left), r = symbols.get(right);
        String merged = text.substring(l.start, l.start + l.length + r.length);
        Integer id = ids.get(merged);
        if (id == null) return;
        queue.add(new Bigram(left, right, scores[id], merged.length()));
        reverseMerge.put(merged, new int[] {left, right});
    }

    /** A symbol's token, or its merge history's tokens, or its bytes as byte tokens. */
    private void resegment(String text, List<Symbol> symbols, Symbol s, Map<String, int[]> reverseMerge, IntList out) {
        String piece = text.substring(s.start, s.start + s.length);
        Integer id = ids.get(piece);
        if (id != null) { out.add(id); return; }
        int[] pair = reverseMerge.get(piece);
        if (pair == null) {
            for (byte b : piece.getBytes(StandardCharsets.UTF_8)) {
                int t = byteTokens[b & 0xFF];
                out.add(t >= 0 ? t : unk);
            }
            return;
        }
        resegment(text, symbols, symbols.get(pair[0]), reverseMerge, out);
        resegment(text, symbols, symbols.get(pair[1]), reverseMerge, out);
    }

    // ---- decoding ----

    @Override
    void appendBytes(int id, ByteArrayOutputStream out) {
        checkId(id);
        switch (types[id]) {
            case CONTROL, UNKNOWN, UNUSED -> { }
            case BYTE -> out.write(Integer.parseInt(pieces[id].substring(3, 5), 16));
            case USER_DEFINED -> out.writeBytes(pieces[id].getBytes(StandardCharsets.UTF_8));
            default -> out.writeBytes(pieces[id].replace(SPACE, ' ').getBytes(StandardCharsets.UTF_8));
        }
    }

    @Override
    boolean removesPrefixSpace() { return addSpacePrefix; }

    @Override
    boolean isBos(int id) { return id == bos; }
}
