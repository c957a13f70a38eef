package polar.model;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import polar.formats.FormatException;
import polar.formats.Json;
import polar.formats.JsonFields;

/**
 * Byte-level BPE as Hugging Face {@code tokenizers} runs it for GPT-2, OPT and Llama 3 ({@code tokenizer.json}):
 * added tokens are cut out first; the rest is pre-tokenized (ByteLevel's GPT-2 regex, or a Split regex as in
 * Llama 3), each piece's UTF-8 bytes are mapped to printable characters (GPT-2's byte-to-unicode table) and
 * merged by rank. The post-processor's special tokens (a TemplateProcessing BOS) are added on request.
 */
public final class ByteLevelBpeTokenizer extends ByteTokenizer {

    /** GPT-2's pre-tokenization regex (used by the ByteLevel pre-tokenizer when {@code use_regex} is true). */
    static final String GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    private record AddedToken(int id, String content, boolean special, boolean lstrip, boolean rstrip) {}

    private final String source;
    private final Map<String, Integer> vocab;
    private final String[] pieces;           // token text in byte-level characters, by id
    private final Map<Long, Long> merges;    // (left id << 32 | right id) -> (rank << 32 | merged id)
    private final boolean ignoreMerges;
    private final AddedToken[] addedById;    // null for ordinary tokens
    private final List<AddedToken> addedLongestFirst;
    private final UnaryOperator<String> normalizer;
    private final List<PreTokenizerStep> preTokenizer;
    private final int[] prefix, suffix;      // special tokens around the text, from the post-processor
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    /** One step of pre-tokenization: pieces of text in, finer pieces out. */
    private interface PreTokenizerStep {
        List<String> split(String piece);
    }

    private ByteLevelBpeTokenizer(String source, Map<String, Integer> vocab, String[] pieces, Map<Long, Long> merges,
                                  boolean ignoreMerges, AddedToken[] addedById, UnaryOperator<String> normalizer,
                                  List<PreTokenizerStep> preTokenizer, int[] prefix, int[] suffix) {
        this.source = source;
        this.vocab = vocab;
        this.pieces = pieces;
        this.merges = merges;
        this.ignoreMerges = ignoreMerges;
        this.addedById = addedById;
        this.addedLongestFirst = Arrays.stream(addedById).filter(a -> a != null)
                .sorted(Comparator.comparingInt((AddedToken a) -> a.content.length()).reversed()).toList();
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.prefix = prefix;
        this.suffix = suffix;
    }

    /** Reads {@code tokenizer.json} (and, beside it, {@code tokenizer_config.json} when there is no post-processor). */
    public static ByteLevelBpeTokenizer load(Path file) throws IOException {
        String src = file.toString();
        JsonFields json = JsonFields.of(Json.parse(file), src);
        JsonFields model = json.object("model");
        String modelType = model.string("type", "BPE");
        if (!modelType.equals("BPE")) throw model.error("type", "is '" + modelType + "': only BPE tokenizers are supported");
        if (model.bool("byte_fallback", false))
            throw model.error("byte_fallback", "is true: SentencePiece-style tokenizer.json files are not supported (byte-level BPE only)");

        JsonFields vocabJson = model.object("vocab");
        Map<String, Integer> vocab = new HashMap<>();
        int size = 0;
        for (String token : vocabJson.map().keySet()) {
            int id = (int) vocabJson.integer(token);
            vocab.put(token, id);
            size = Math.max(size, id + 1);
        }
        List<AddedToken> added = new ArrayList<>();
        if (json.has("added_tokens")) {
            for (JsonFields a : json.objects("added_tokens")) {
                AddedToken t = new AddedToken((int) a.integer("id"), a.string("content"), a.bool("special", false),
                        a.bool("lstrip", false), a.bool("rstrip", false));
                added.add(t);
                size = Math.max(size, t.id + 1);
            }
        }
        String[] pieces = new String[size];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) pieces[e.getValue()] = e.getKey();
        AddedToken[] addedById = new AddedToken[size];
        for (AddedToken a : added) {
            addedById[a.id] = a;
            if (pieces[a.id] == null) pieces[a.id] = a.content;
        }

        Map<Long, Long> merges = new HashMap<>();
        List<Object> mergeList = model.list("merges");
        for (int rank = 0; rank < mergeList.size(); rank++) {
            Object m = mergeList.get(rank);
            String left, right;
            if (m instanceof String s && s.indexOf(' ', 1) > 0) {
                int space = s.indexOf(' ', 1);
                left = s.substring(0, space);
                right = s.substring(space + 1);
            } else if (m instanceof List<?> pair && pair.size() == 2) {
                left = String.valueOf(pair.get(0));
                right = String.valueOf(pair.get(1));
            } else throw model.error("merges", "entry " + rank + " is not a pair: " + Json.write(m));
            Integer l = vocab.get(left), r = vocab.get(right), merged = vocab.get(left + right);
            if (l == null || r == null || merged == null)
                throw model.error("merges", "entry " + rank + " (" + Json.write(m) + ") uses tokens that are not in the vocabulary");
            merges.putIfAbsent(((long) l << 32) | r, ((long) rank << 32) | merged);
        }

        UnaryOperator<String> normalizer = normalizer(json.objectOrNull("normalizer"));
        boolean[] byteLevel = {false};
        List<PreTokenizerStep> pre = new ArrayList<>();
        JsonFields preJson = json.objectOrNull("pre_tokenizer");
        if (preJson != null) preTokenizer(preJson, pre, byteLevel);
        JsonFields decoder = json.objectOrNull("decoder");
        if (!byteLevel[0] && !(decoder != null && mentionsByteLevel(decoder)))
            throw new FormatException(src + ": not a byte-level BPE tokenizer (no ByteLevel pre-tokenizer or decoder); unsupported");

        List<Integer> prefix = new ArrayList<>(), suffix = new ArrayList<>();
        JsonFields post = json.objectOrNull("post_processor");
        if (post != null) postProcessor(post, prefix, suffix);
        else addBosFromTokenizerConfig(file.resolveSibling("tokenizer_config.json"), vocab, addedById, prefix);

        return new ByteLevelBpeTokenizer(src, vocab, pieces, merges, model.bool("ignore_merges", false), addedById,
                normalizer, pre, prefix.stream().mapToInt(Integer::intValue).toArray(),
                suffix.stream().mapToInt(Integer::intValue).toArray());
    }

    private static UnaryOperator<String> normalizer(JsonFields n) {
        if (n == null) return s -> s;
        String type = n.string("type");
        return switch (type) {
            case "NFC" -> s -> Normalizer.normalize(s, Normalizer.Form.NFC);
            case "NFKC" -> s -> Normalizer.normalize(s, Normalizer.Form.NFKC);
            case "Sequence" -> {
                UnaryOperator<String> all = s -> s;
                for (JsonFields step : n.objects("normalizers")) {
                    UnaryOperator<String> before = all, next = normalizer(step);
                    all = s -> next.apply(before.apply(s));
                }
                yield all;
            }
            default -> throw n.error("type", "is '" + type + "': this normalizer is not supported");
        };
    }

    private static boolean mentionsByteLevel(JsonFields f) {
        return Json.write(f.map()).contains("\"ByteLevel\"");
    }

    private static void preTokenizer(JsonFields p, List<PreTokenizerStep> steps, boolean[] byteLevel) {
        String type = p.string("type");
        switch (type) {
            case "Sequence" -> { for (JsonFields s : p.objects("pretokenizers")) preTokenizer(s, steps, byteLevel); }
            case "ByteLevel" -> {
                byteLevel[0] = true;
                if (p.bool("add_prefix_space", false)) steps.add(s -> List.of(s.startsWith(" ") ? s : " " + s));
                if (p.bool("use_regex", true)) {
                    Pattern gpt2 = Pattern.compile(GPT2_PATTERN, Pattern.UNICODE_CHARACTER_CLASS);
                    steps.add(s -> split(gpt2, s, "Isolated"));
                }
            }
            case "Split" -> {
                JsonFields pattern = p.object("pattern");
                Pattern regex = pattern.has("Regex") ? Pattern.compile(pattern.string("Regex"), Pattern.UNICODE_CHARACTER_CLASS)
                        : Pattern.compile(Pattern.quote(pattern.string("String")));
                String behavior = p.string("behavior");
                if (p.bool("invert", false)) throw p.error("invert", "is true: inverted Split is not supported");
                if (!List.of("Isolated", "Removed", "MergedWithPrevious", "MergedWithNext").contains(behavior))
                    throw p.error("behavior", "is '" + behavior + "': not supported");
                steps.add(s -> split(regex, s, behavior));
            }
            default -> throw p.error("type", "is '" + type + "': this pre-tokenizer is not supported (ByteLevel, Split, Sequence are)");
        }
    }

    /** Splits {@code s} at the matches of {@code regex}, as {@code tokenizers}' SplitDelimiterBehavior does. */
    static List<String> split(Pattern regex, String s, String behavior) {
        List<String> out = new ArrayList<>();
        Matcher m = regex.matcher(s);
        int last = 0;
        String carry = ""; // MergedWithNext: a match waiting for the text that follows it
        while (m.find()) {
            if (m.end() == m.start()) continue;
            String gap = s.substring(last, m.start()), match = m.group();
            switch (behavior) {
                case "Isolated" -> { add(out, gap); add(out, match); }
                case "Removed" -> add(out, gap);
                case "MergedWithPrevious" -> add(out, gap + match);
                case "MergedWithNext" -> { add(out, carry + gap); carry = match; }
                default -> throw new IllegalArgumentException(behavior);
            }
            last = m.end();
        }
        add(out, carry + s.substring(last));
        return out;
    }

    private static void add(List<String> out, String piece) {
        if (!piece.isEmpty()) out.add(piece);
    }

    private static void postProcessor(JsonFields p, List<Integer> prefix, List<Integer> suffix) {
        String type = p.string("type");
        switch (type) {
            case "Sequence" -> { for (JsonFields s : p.objects("processors")) postProcessor(s, prefix, suffix); }
            case "ByteLevel" -> { } // adjusts offsets only
            case "TemplateProcessing" -> {
                JsonFields specials = p.object("special_tokens");
                boolean seenText = false;
                for (JsonFields item : p.objects("single")) {
                    if (item.has("Sequence")) { seenText = true; continue; }
                    String name = item.object("SpecialToken").string("id");
                    for (Object id : specials.object(name).list("ids")) (seenText ? suffix : prefix).add(((Long) id).intValue());
                }
            }
            default -> throw p.error("type", "is '" + type + "': this post-processor is not supported (TemplateProcessing, ByteLevel, Sequence are)");
        }
    }

    /** Without a post-processor, {@code add_bos_token} and {@code bos_token} of tokenizer_config.json decide. */
    private static void addBosFromTokenizerConfig(Path configFile, Map<String, Integer> vocab, AddedToken[] added, List<Integer> prefix)
            throws IOException {
        if (!Files.exists(configFile)) return;
        JsonFields c = JsonFields.of(Json.parse(configFile), configFile.toString());
        if (!c.bool("add_bos_token", false) || !(c.get("bos_token") instanceof String bos)) return;
        for (AddedToken a : added) if (a != null && a.content.equals(bos)) { prefix.add(a.id); return; }
        Integer id = vocab.get(bos);
        if (id == null) throw c.error("bos_token", "'" + bos + "' is not a token of the tokenizer");
        prefix.add(id);
    }

    // ---- encoding ----

    @Override
    public int[] encode(String text, boolean addBos) {
        IntList out = new IntList();
        if (addBos) out.addAll(prefix);
        int start = 0, pos = 0;
        while (pos < text.length()) {
            AddedToken match = addedAt(text, pos);
            if (match == null) { pos++; continue; }
            int end = pos + match.content.length();
            int textEnd = pos;
            if (match.lstrip) while (textEnd > start && Character.isWhitespace(text.charAt(textEnd - 1))) textEnd--;
            encodeText(text.substring(start, textEnd), out);
            out.add(match.id);
            if (match.rstrip) while (end < text.length() && Character.isWhitespace(text.charAt(end))) end++;
            start = pos = end;
        }
        encodeText(text.substring(start), out);
        if (addBos) out.addAll(suffix);
        return out.toArray();
    }

    private AddedToken addedAt(String text, int pos) {
        for (AddedToken a : addedLongestFirst) if (text.startsWith(a.content, pos)) return a;
        return null;
    }

    private void encodeText(String text, IntList out) {
        if (text.isEmpty()) return;
        List<String> parts = List.of(normalizer.apply(text));
        for (PreTokenizerStep step : preTokenizer) {
            List<String> next = new ArrayList<>();
            for (String part : parts) next.addAll(step.split(part));
            parts = next;
        }
        for (String part : parts) {
            int[] ids = cache.get(part);
            if (ids == null) {
                ids = bpe(ByteLevel.encode(part.getBytes(StandardCharsets.UTF_8)));
                if (cache.size() < 200_000) cache.put(part, ids);
            }
            out.addAll(ids);
        }
    }

    /** Merges the byte-level characters of {@code word}, lowest rank first (leftmost on ties). */
    private int[] bpe(String word) {
        if (ignoreMerges) {
            Integer whole = vocab.get(word);
            if (whole != null) return new int[] {whole};
        }
        int n = word.length();
        int[] symbols = new int[n];
        for (int i = 0; i < n; i++) {
            Integer id = vocab.get(word.substring(i, i + 1));
            if (id == null) throw new FormatException(source + ": byte-level character '" + word.charAt(i) + "' is not in the vocabulary");
            symbols[i] = id;
        }
        while (n > 1) {
            long best = Long.MAX_VALUE;
            int at = -1;
            for (int i = 0; i + 1 < n; i++) {
                Long m = merges.get(((long) symbols[i] << 32) | symbols[i + 1]);
                if (m != null && m < best) { best = m; at = i; }
            }
            if (at < 0) break;
            symbols[at] = (int) best; // low 32 bits: the merged token
            System.arraycopy(symbols, at + 2, symbols, at + 1, n - at - 2);
            n--;
        }
        return Arrays.copyOf(symbols, n);
    }

    // ---- decoding ----

    @Override
    void appendBytes(int id, ByteArrayOutputStream out) {
        checkId(id);
        AddedToken a = addedById[id];
        if (a != null) {
            if (!a.special) out.writeBytes(a.content.getBytes(StandardCharsets.UTF_8));
            return;
        }
        String piece = pieces[id];
        if (piece != null) ByteLevel.decode(piece, out);
    }

    @Override
    public int vocabSize() { return pieces.length; }

    /** The token's text as stored in the vocabulary (byte-level characters), for diagnostics. */
    public String piece(int id) { return pieces[id]; }

    /** Ids added before the text by {@code encode(text, true)}. */
    public int[] prefixIds() { return prefix.clone(); }

    /** GPT-2's reversible map of the 256 byte values to printable characters. */
    static final class ByteLevel {
        private static final char[] BYTE_TO_CHAR = new char[256];
        private static final int[] CHAR_TO_BYTE = new int[512];

        static {
            Arrays.fill(CHAR_TO_BYTE, -1);
            int next = 0;
            for (int b = 0; b < 256; b++) {
                boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
                char c = printable ? (char) b : (char) (256 + next++);
                BYTE_TO_CHAR[b] = c;
                CHAR_TO_BYTE[c] = b;
            }
        }

        static String encode(byte[] bytes) {
            char[] out = new char[bytes.length];
            for (int i = 0; i < bytes.length; i++) out[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
            return new String(out);
        }

        /** Bytes of a byte-level piece; characters outside the table stand for themselves (UTF-8). */
        static void decode(String piece, ByteArrayOutputStream out) {
            for (int i = 0; i < piece.length(); i++) {
                char c = piece.charAt(i);
                int b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
                if (b >= 0) out.write(b);
                else {
                    int cp = piece.codePointAt(i);
                    out.writeBytes(new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8));
                    if (Character.isSupplementaryCodePoint(cp)) i++;
                }
            }
        }
    }
}
