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
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import polar.formats.FormatException;
import polar.formats.Json;
import polar.formats.JsonFields;

/**
 * BPE as Hugging Face {@code tokenizers} runs it from {@code tokenizer.json}, in its two common styles:
 * <ul>
 * <li>{@link Style#BYTE_LEVEL} (GPT-2, OPT, Llama 3): each piece's UTF-8 bytes are mapped to printable characters
 *     (GPT-2's byte-to-unicode table) before merging;</li>
 * <li>{@link Style#METASPACE} (Llama 2, Mistral, TinyLlama: SentencePiece converted to BPE): spaces become '▁'
 *     (with one prepended), characters outside the vocabulary fall back to {@code <0xXX>} byte tokens.</li>
 * </ul>
 * Added tokens are cut out first; the rest is normalized, pre-tokenized (ByteLevel's GPT-2 regex, a Split regex as
 * in Llama 3, or Metaspace) and merged by rank. The post-processor's special tokens (a TemplateProcessing BOS)
 * are added on request. GGUF files with {@code tokenizer.ggml.model = "gpt2"} load here too ({@link #fromGguf}).
 */
public final class BpeTokenizer extends ByteTokenizer {

    /** How text becomes symbols before merging, and tokens become bytes when decoding. */
    public enum Style { BYTE_LEVEL, METASPACE }

    /** SentencePiece's stand-in for a space. */
    static final char METASPACE = '\u2581';

    /** GPT-2's pre-tokenization regex (used by the ByteLevel pre-tokenizer when {@code use_regex} is true). */
    static final String GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    /** Llama 3's pre-tokenization regex (a Split pre-tokenizer in its tokenizer.json; {@code llama-bpe} in GGUF). */
    static final String LLAMA3_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private record AddedToken(int id, String content, boolean special, boolean lstrip, boolean rstrip) {}

    private final String source;
    private final Style style;
    private final Map<String, Integer> vocab;
    private final String[] pieces;           // token text (byte-level characters or '▁' pieces), by id
    private final Map<Long, Long> merges;    // (left id << 32 | right id) -> (rank << 32 | merged id)
    private final boolean ignoreMerges;
    private final AddedToken[] addedById;    // null for ordinary tokens
    private final List<AddedToken> addedLongestFirst;
    private final UnaryOperator<String> normalizer;
    private final List<PreTokenizerStep> preTokenizer;
    private final int[] prefix, suffix;      // special tokens around the text, from the post-processor
    private final Metaspace metaspace;       // METASPACE style only
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * SentencePiece conventions of the METASPACE style.
     *
     * @param byteTokens     the {@code <0xXX>} token of each byte, -1 where none (or all -1 without byte fallback)
     * @param unk            the unknown token, or -1
     * @param fuseUnk        consecutive unknown characters give one unknown token
     * @param stripFirstSpace decoding drops the space that the prefix put before the first word
     */
    private record Metaspace(int[] byteTokens, int unk, boolean fuseUnk, boolean stripFirstSpace) {}

    /** One step of pre-tokenization: pieces of text in, finer pieces out; {@code atStart}: the piece begins the input. */
    private interface PreTokenizerStep {
        List<String> split(String piece, boolean atStart);
    }

    private BpeTokenizer(String source, Style style, Map<String, Integer> vocab, String[] pieces, Map<Long, Long> merges,
                         boolean ignoreMerges, AddedToken[] addedById, UnaryOperator<String> normalizer,
                         List<PreTokenizerStep> preTokenizer, int[] prefix, int[] suffix, Metaspace metaspace) {
        this.source = source;
        this.style = style;
        this.metaspace = metaspace;
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
    public static BpeTokenizer load(Path file) throws IOException {
        String src = file.toString();
        JsonFields json = JsonFields.of(Json.parse(file), src);
        JsonFields model = json.object("model");
        String modelType = model.string("type", "BPE");
        if (!modelType.equals("BPE")) throw model.error("type", "is '" + modelType + "': only BPE tokenizers are supported");
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

        List<Object> mergeList = model.list("merges");
        List<String[]> pairs = new ArrayList<>();
        for (int rank = 0; rank < mergeList.size(); rank++) {
            Object m = mergeList.get(rank);
            String[] pair = m instanceof String s ? splitMerge(s)
                    : m instanceof List<?> l && l.size() == 2 ? new String[] {String.valueOf(l.get(0)), String.valueOf(l.get(1))} : null;
            if (pair == null) throw model.error("merges", "entry " + rank + " is not a pair: " + Json.write(m));
            pairs.add(pair);
        }
        Map<Long, Long> merges = mergeTable(vocab, pairs, (rank, why) -> model.error("merges", "entry " + rank + " (" + Json.write(mergeList.get(rank)) + ") " + why));

        JsonFields normalizerJson = json.objectOrNull("normalizer"), preJson = json.objectOrNull("pre_tokenizer"), decoder = json.objectOrNull("decoder");
        UnaryOperator<String> normalizer = normalizer(normalizerJson);
        List<PreTokenizerStep> pre = new ArrayList<>();
        if (preJson != null) preTokenizer(preJson, pre);
        Style style;
        Metaspace metaspace = null;
        if (mentions(preJson, "ByteLevel") || mentions(decoder, "ByteLevel")) style = Style.BYTE_LEVEL;
        else if (model.bool("byte_fallback", false) || mentions(preJson, "Metaspace") || mentions(normalizerJson, String.valueOf(METASPACE))) {
            style = Style.METASPACE;
            int[] byteTokens = new int[256];
            for (int b = 0; b < 256; b++) byteTokens[b] = model.bool("byte_fallback", false) ? vocab.getOrDefault(byteToken(b), -1) : -1;
            int unk = model.has("unk_token") ? vocab.getOrDefault(model.string("unk_token"), -1) : -1;
            boolean strip = mentions(decoder, "Strip") || (mentions(decoder, "Metaspace") && !mentions(decoder, "\"never\""));
            metaspace = new Metaspace(byteTokens, unk, model.bool("fuse_unk", false), strip);
        } else throw new FormatException(src + ": neither a byte-level nor a SentencePiece-style (Metaspace, byte fallback) BPE tokenizer; unsupported");

        List<Integer> prefix = new ArrayList<>(), suffix = new ArrayList<>();
        JsonFields post = json.objectOrNull("post_processor");
        if (post != null) postProcessor(post, prefix, suffix);
        else addBosFromTokenizerConfig(file.resolveSibling("tokenizer_config.json"), vocab, addedById, prefix);

        return new BpeTokenizer(src, style, vocab, pieces, merges, model.bool("ignore_merges", false), addedById,
                normalizer, pre, prefix.stream().mapToInt(Integer::intValue).toArray(),
                suffix.stream().mapToInt(Integer::intValue).toArray(), metaspace);
    }

    /** "left right" (a merge as written in tokenizer.json and GGUF); the left part is never empty. */
    private static String[] splitMerge(String s) {
        int space = s.indexOf(' ', 1);
        return space < 0 ? null : new String[] {s.substring(0, space), s.substring(space + 1)};
    }

    /** (left id << 32 | right id) -> (rank << 32 | merged id); both parts and their concatenation must be tokens. */
    private static Map<Long, Long> mergeTable(Map<String, Integer> vocab, List<String[]> pairs,
                                              java.util.function.BiFunction<Integer, String, FormatException> error) {
        Map<Long, Long> merges = new HashMap<>();
        for (int rank = 0; rank < pairs.size(); rank++) {
            String[] p = pairs.get(rank);
            Integer l = vocab.get(p[0]), r = vocab.get(p[1]), merged = vocab.get(p[0] + p[1]);
            if (l == null || r == null || merged == null) throw error.apply(rank, "uses tokens that are not in the vocabulary");
            merges.putIfAbsent(((long) l << 32) | r, ((long) rank << 32) | merged);
        }
        return merges;
    }

    /** llama.cpp's names ({@code tokenizer.ggml.pre}) for the pre-tokenizer regexes this class knows. */
    private static final Map<String, String> GGUF_PRE_TOKENIZERS = Map.of(
            "llama-bpe", LLAMA3_PATTERN, "llama3", LLAMA3_PATTERN, "gpt-2", GPT2_PATTERN, "gpt2", GPT2_PATTERN);

    /**
     * The tokenizer of a GGUF file with {@code tokenizer.ggml.model = "gpt2"} (Llama 3, GPT-2 style): byte-level tokens
     * and merges, control and user-defined tokens matched in the text, the regex that {@code tokenizer.ggml.pre} names.
     */
    public static BpeTokenizer fromGguf(polar.formats.Gguf g) {
        String src = g.file().toString();
        List<String> tokens = g.strings("tokenizer.ggml.tokens");
        long[] types = g.has("tokenizer.ggml.token_type") ? g.integers("tokenizer.ggml.token_type") : new long[tokens.size()];
        if (types.length != tokens.size())
            throw new FormatException(src + ": metadata 'tokenizer.ggml.token_type' has " + types.length + " entries for " + tokens.size() + " tokens");
        Map<String, Integer> vocab = new HashMap<>();
        AddedToken[] addedById = new AddedToken[tokens.size()];
        for (int id = 0; id < tokens.size(); id++) {
            vocab.putIfAbsent(tokens.get(id), id);
            SentencePieceTokenizer.TokenType type = SentencePieceTokenizer.TokenType.of(types[id]);
            if (type == SentencePieceTokenizer.TokenType.CONTROL || type == SentencePieceTokenizer.TokenType.USER_DEFINED)
                addedById[id] = new AddedToken(id, tokens.get(id), type == SentencePieceTokenizer.TokenType.CONTROL, false, false);
        }
        List<String> mergeStrings = g.strings("tokenizer.ggml.merges");
        List<String[]> pairs = new ArrayList<>();
        for (int i = 0; i < mergeStrings.size(); i++) {
            String[] pair = splitMerge(mergeStrings.get(i));
            if (pair == null) throw new FormatException(src + ": metadata 'tokenizer.ggml.merges' entry " + i + " is not a pair: \"" + mergeStrings.get(i) + "\"");
            pairs.add(pair);
        }
        Map<Long, Long> merges = mergeTable(vocab, pairs,
                (rank, why) -> new FormatException(src + ": metadata 'tokenizer.ggml.merges' entry " + rank + " (\"" + mergeStrings.get(rank) + "\") " + why));
        String preName = g.has("tokenizer.ggml.pre") ? g.string("tokenizer.ggml.pre") : "gpt-2";
        String regex = GGUF_PRE_TOKENIZERS.get(preName);
        if (regex == null)
            throw new FormatException(src + ": metadata 'tokenizer.ggml.pre' is '" + preName + "': unsupported pre-tokenizer (supported: "
                    + new java.util.TreeSet<>(GGUF_PRE_TOKENIZERS.keySet()) + ")");
        Pattern pattern = Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
        int[] prefix = g.bool("tokenizer.ggml.add_bos_token", false) ? new int[] {(int) g.integer("tokenizer.ggml.bos_token_id")} : new int[0];
        int[] suffix = g.bool("tokenizer.ggml.add_eos_token", false) ? new int[] {(int) g.integer("tokenizer.ggml.eos_token_id")} : new int[0];
        return new BpeTokenizer(src, Style.BYTE_LEVEL, vocab, tokens.toArray(String[]::new), merges, regex.equals(LLAMA3_PATTERN), addedById,
                t -> t, List.of((t, atStart) -> split(pattern, t, "Isolated")), prefix, suffix, null);
    }

    private static UnaryOperator<String> normalizer(JsonFields n) {
        if (n == null) return s -> s;
        String type = n.string("type");
        return switch (type) {
            case "NFC" -> s -> Normalizer.normalize(s, Normalizer.Form.NFC);
            case "NFKC" -> s -> Normalizer.normalize(s, Normalizer.Form.NFKC);
            case "Prepend" -> { String p = n.string("prepend"); yield s -> s.isEmpty() ? s : p + s; }
            case "Replace" -> {
                JsonFields pattern = n.object("pattern");
                String content = n.string("content");
                if (pattern.has("String")) { String from = pattern.string("String"); yield s -> s.replace(from, content); }
                Pattern regex = Pattern.compile(pattern.string("Regex"), Pattern.UNICODE_CHARACTER_CLASS);
                String replacement = Matcher.quoteReplacement(content);
                yield s -> regex.matcher(s).replaceAll(replacement);
            }
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

    /** Whether a tokenizer.json component (null: absent) names {@code what} (a type, usually) anywhere inside. */
    private static boolean mentions(JsonFields component, String what) {
        return component != null && Json.write(component.map()).contains(what.startsWith("\"") ? what : "\"" + what + "\"");
    }

    static String byteToken(int b) { return String.format("<0x%02X>", b); }

    private static void preTokenizer(JsonFields p, List<PreTokenizerStep> steps) {
        String type = p.string("type");
        switch (type) {
            case "Sequence" -> { for (JsonFields s : p.objects("pretokenizers")) preTokenizer(s, steps); }
            case "ByteLevel" -> {
                if (p.bool("add_prefix_space", false)) steps.add((s, atStart) -> List.of(s.startsWith(" ") ? s : " " + s));
                if (p.bool("use_regex", true)) {
                    Pattern gpt2 = Pattern.compile(GPT2_PATTERN, Pattern.UNICODE_CHARACTER_CLASS);
                    steps.add((s, atStart) -> split(gpt2, s, "Isolated"));
                }
            }
            case "Metaspace" -> {
                String replacement = p.string("replacement", String.valueOf(METASPACE));
                // older files: add_prefix_space; newer: prepend_scheme always | first | never
                String scheme = p.has("prepend_scheme") ? p.string("prepend_scheme") : p.bool("add_prefix_space", true) ? "always" : "never";
                if (!List.of("always", "first", "never").contains(scheme)) throw p.error("prepend_scheme", "is '" + scheme + "': not supported");
                boolean split = p.bool("split", true);
                Pattern delimiter = Pattern.compile(Pattern.quote(replacement));
                steps.add((s, atStart) -> {
                    String r = s.replace(" ", replacement);
                    boolean prepend = scheme.equals("always") || (scheme.equals("first") && atStart);
                    if (prepend && !r.startsWith(replacement)) r = replacement + r;
                    return split ? split(delimiter, r, "MergedWithNext") : List.of(r);
                });
            }
            case "Split" -> {
                JsonFields pattern = p.object("pattern");
                Pattern regex = pattern.has("Regex") ? Pattern.compile(pattern.string("Regex"), Pattern.UNICODE_CHARACTER_CLASS)
                        : Pattern.compile(Pattern.quote(pattern.string("String")));
                String behavior = p.string("behavior");
                if (p.bool("invert", false)) throw p.error("invert", "is true: inverted Split is not supported");
                if (!List.of("Isolated", "Removed", "MergedWithPrevious", "MergedWithNext").contains(behavior))
                    throw p.error("behavior", "is '" + behavior + "': not supported");
                steps.add((s, atStart) -> split(regex, s, behavior));
            }
            default -> throw p.error("type", "is '" + type + "': this pre-tokenizer is not supported (ByteLevel, Metaspace, Split, Sequence are)");
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
            encodeText(text.substring(start, textEnd), start == 0, out);
            out.add(match.id);
            if (match.rstrip) while (end < text.length() && Character.isWhitespace(text.charAt(end))) end++;
            start = pos = end;
        }
        encodeText(text.substring(start), start == 0, out);
        if (addBos) out.addAll(suffix);
        return out.toArray();
    }

    private AddedToken addedAt(String text, int pos) {
        for (AddedToken a : addedLongestFirst) if (text.startsWith(a.content, pos)) return a;
        return null;
    }

    /** Encodes text between added tokens; {@code atStart}: it begins the input (Metaspace's "first" prefix). */
    private void encodeText(String text, boolean atStart, IntList out) {
        if (text.isEmpty()) return;
        List<String> parts = List.of(normalizer.apply(text));
        for (int i = 0; i < preTokenizer.size(); i++) {
            List<String> next = new ArrayList<>();
            for (int j = 0; j < parts.size(); j++) next.addAll(preTokenizer.get(i).split(parts.get(j), atStart && j == 0));
            parts = next;
        }
        for (String part : parts) {
            int[] ids = cache.get(part);
            if (ids == null) {
                ids = bpe(style == Style.BYTE_LEVEL ? ByteLevel.encode(part.getBytes(StandardCharsets.UTF_8)) : part);
                if (cache.size() < 200_000) cache.put(part, ids);
            }
            out.addAll(ids);
        }
    }

    /** The symbols that merging starts from: one per character, or byte tokens / unknown for characters outside the vocabulary. */
    private IntList symbols(String word) {
        IntList symbols = new IntList();
        for (int i = 0; i < word.length(); ) {
            int cp = word.codePointAt(i);
            String ch = word.substring(i, i + Character.charCount(cp));
            i += ch.length();
            Integer id = vocab.get(ch);
            if (id != null) { symbols.add(id); continue; }
            if (style == Style.BYTE_LEVEL) throw new FormatException(source + ": byte-level character '" + ch + "' is not in the vocabulary");
            byte[] bytes = ch.getBytes(StandardCharsets.UTF_8);
            boolean allBytes = true;
            for (byte b : bytes) allBytes &= metaspace.byteTokens[b & 0xFF] >= 0;
            if (allBytes) for (byte b : bytes) symbols.add(metaspace.byteTokens[b & 0xFF]);
            else if (metaspace.unk < 0) throw new FormatException(source + ": character '" + ch + "' has no token, no byte fallback and no unk_token");
            else if (!(metaspace.fuseUnk && symbols.size() > 0 && symbols.get(symbols.size() - 1) == metaspace.unk)) symbols.add(metaspace.unk);
        }
        return symbols;
    }

    /** Merges the symbols of {@code word}, lowest rank first (leftmost on ties). */
    private int[] bpe(String word) {
        if (ignoreMerges) {
            Integer whole = vocab.get(word);
            if (whole != null) return new int[] {whole};
        }
        int[] symbols = symbols(word).toArray();
        int n = symbols.length;
        // Symbols form a linked list; candidate merges wait in a heap ordered by (rank, position), so a word
        // (a whole text, for SentencePiece-style files without a pre-tokenizer) costs O(n log n).
        int[] next = new int[n], prev = new int[n];
        for (int i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; }
        PriorityQueue<Long> heap = new PriorityQueue<>();
        for (int i = 0; i + 1 < n; i++) offer(heap, symbols, i, i + 1);
        while (!heap.isEmpty()) {
            long top = heap.poll();
            int rank = (int) (top >>> 32), at = (int) top, right = next[at];
            if (symbols[at] < 0 || right < 0) continue;
            Long m = merges.get(((long) symbols[at] << 32) | symbols[right]);
            if (m == null || (int) (m >>> 32) != rank) continue; // stale: a neighbour was merged meanwhile
            symbols[at] = (int) (long) m; // low 32 bits: the merged token
            symbols[right] = -1;
            next[at] = next[right];
            if (next[at] >= 0) prev[next[at]] = at;
            if (prev[at] >= 0) offer(heap, symbols, prev[at], at);
            if (next[at] >= 0) offer(heap, symbols, at, next[at]);
        }
        IntList out = new IntList();
        for (int i = n > 0 ? 0 : -1; i >= 0; i = next[i]) out.add(symbols[i]);
        return out.toArray();
    }

    /** Queues the merge of the symbols at {@code left} and {@code right}, if they have one, as (rank << 32 | left). */
    private void offer(PriorityQueue<Long> heap, int[] symbols, int left, int right) {
        Long m = merges.get(((long) symbols[left] << 32) | symbols[right]);
        if (m != null) heap.add((m >>> 32) << 32 | left);
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
        if (piece == null) return;
        if (style == Style.BYTE_LEVEL) { ByteLevel.decode(piece, out); return; }
        int b = byteValue(piece);
        if (b >= 0 && metaspace.byteTokens[b] == id) out.write(b);
        else out.writeBytes(piece.replace(METASPACE, ' ').getBytes(StandardCharsets.UTF_8));
    }

    /** The byte of a {@code <0xXX>} piece, or -1. */
    static int byteValue(String piece) {
        if (piece.length() != 6 || !piece.startsWith("<0x") || piece.charAt(5) != '>') return -1;
        int hi = Character.digit(piece.charAt(3), 16), lo = Character.digit(piece.charAt(4), 16);
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }

    @Override
    boolean removesPrefixSpace() { return metaspace != null && metaspace.stripFirstSpace; }

    @Override
    boolean isBos(int id) { return prefix.length > 0 && prefix[0] == id; }

    public Style style() { return style; }

    @Override
    public int vocabSize() { return pieces.length; }

    /** The token's text as stored in the vocabulary, for diagnostics. */
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
