package polar.serve;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import polar.model.Tokenizer;

/**
 * A word-level tokenizer for tests: token {@code t >= FIRST_WORD} is the word {@link #word(int)}, decoded with a
 * leading space; unknown words map to a token by hash. Three special tokens, recognised inside text and dropped
 * when decoding: BOS {@code <s>}, EOS {@code </s>}, end-of-turn {@code <|eot_id|>}.
 */
final class FakeTokenizer implements Tokenizer {
    static final int BOS = 0, EOS = 1, EOT = 2, FIRST_WORD = 3, VOCAB = 64;
    private static final Map<String, Integer> SPECIAL = Map.of("<s>", BOS, "</s>", EOS, "<|eot_id|>", EOT);
    private static final Pattern SPECIALS = Pattern.compile("<s>|</s>|<\\|eot_id\\|>");
    private static final String CONSONANTS = "bdfgklmnprstvz", VOWELS = "aeiou";

    /** The word of token {@code t}: distinct for every t in [FIRST_WORD, VOCAB). */
    static String word(int t) {
        return "" + CONSONANTS.charAt(t % CONSONANTS.length()) + VOWELS.charAt(t / CONSONANTS.length() % VOWELS.length());
    }

    @Override
    public int[] encode(String text, boolean addBos) {
        List<Integer> ids = new ArrayList<>();
        if (addBos) ids.add(BOS);
        Matcher m = SPECIALS.matcher(text);
        int at = 0;
        while (m.find()) {
            words(text.substring(at, m.start()), ids);
            ids.add(SPECIAL.get(m.group()));
            at = m.end();
        }
        words(text.substring(at), ids);
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    private static void words(String text, List<Integer> ids) {
        for (String w : text.trim().split("\\s+")) {
            if (w.isEmpty()) continue;
            int id = -1;
            for (int t = FIRST_WORD; t < VOCAB && id < 0; t++) if (word(t).equals(w)) id = t;
            ids.add(id >= 0 ? id : FIRST_WORD + Math.floorMod(w.hashCode(), VOCAB - FIRST_WORD));
        }
    }

    @Override
    public String decode(int[] ids) {
        StringBuilder out = new StringBuilder();
        for (int t : ids) out.append(text(t));
        return out.toString();
    }

    static String text(int t) { return t < FIRST_WORD ? "" : " " + word(t); }

    @Override
    public StreamDecoder streamDecoder() {
        return new StreamDecoder() {
            @Override
            public String next(int token) { return text(token); }

            @Override
            public String flush() { return ""; }
        };
    }

    @Override
    public int vocabSize() { return VOCAB; }
}
