package polar.model;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import polar.formats.Gguf;
import polar.formats.Json;

/**
 * SentencePiece-style tokenizer.json files (Llama 2, Mistral, TinyLlama): stories260K's vocabulary converted as
 * Hugging Face's SentencePiece converter does (merges from scores), behind the Llama 2 normalizer (Prepend + Replace)
 * and behind the newer Metaspace pre-tokenizer. Expected ids from Hugging Face tokenizers 0.23.2 on the same files.
 */
class MetaspaceTokenizerTest {

    @TempDir Path dir;

    static final String ONCE = "Once upon a time, there was a little girl named Lily.";
    static final String MIXED = "Zoë's café: 東京 ☃ 😀 — done.</s>after <s> x";
    static final String SPACES = "  two  spaces\n\tand\ttabs \n";
    static final String PUNCT = "He said \"Don't\" -- ok?  Numbers 3.14159 and 2,048.";

    /** tokenizer.json of stories260K's vocabulary, with merges built as transformers' SentencePieceExtractor builds them. */
    private Path tokenizerJson(String normalizer, String preTokenizer, String decoder) throws Exception {
        Gguf g = Gguf.open(SharedAssets.require("models/stories260K.gguf"), Arena.ofAuto());
        List<String> tokens = g.strings("tokenizer.ggml.tokens");
        float[] scores = g.floats("tokenizer.ggml.scores");
        Map<String, Object> vocab = new LinkedHashMap<>();
        for (int i = 0; i < tokens.size(); i++) vocab.put(tokens.get(i), (long) i);
        record Merge(String left, String right, float score) {}
        List<Merge> merges = new ArrayList<>();
        for (int t = 0; t < tokens.size(); t++) {
            String piece = tokens.get(t);
            List<Merge> local = new ArrayList<>();
            for (int k = 1; k < piece.length(); k++) {
                String l = piece.substring(0, k), r = piece.substring(k);
                if (vocab.containsKey(l) && vocab.containsKey(r)) local.add(new Merge(l, r, scores[t]));
            }
            local.sort((a, b) -> a.left.equals(b.left) ? Long.compare((Long) vocab.get(a.right), (Long) vocab.get(b.right))
                    : Long.compare((Long) vocab.get(a.left), (Long) vocab.get(b.left)));
            merges.addAll(local);
        }
        merges.sort((a, b) -> Float.compare(b.score, a.score)); // stable, like Python's sort
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("added_tokens", Json.parse("""
                [{"id": 0, "content": "<unk>", "special": true}, {"id": 1, "content": "<s>", "special": true},
                 {"id": 2, "content": "</s>", "special": true}]"""));
        json.put("normalizer", Json.parse(normalizer));
        json.put("pre_tokenizer", Json.parse(preTokenizer));
        json.put("post_processor", Json.parse("""
                {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                 "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}"""));
        json.put("decoder", Json.parse(decoder));
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("unk_token", "<unk>");
        model.put("fuse_unk", true);
        model.put("byte_fallback", true);
        model.put("vocab", vocab);
        model.put("merges", merges.stream().map(m -> List.of(m.left, m.right)).toList());
        json.put("model", model);
        return Files.writeString(dir.resolve("tokenizer.json"), Json.write(json));
    }

    @Test
    void llama2StyleNormalizerMatchesHuggingFace() throws Exception {
        BpeTokenizer tok = BpeTokenizer.load(tokenizerJson(
                "{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Prepend\", \"prepend\": \"▁\"}, {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"▁\"}]}",
                "null",
                "{\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Replace\", \"pattern\": {\"String\": \"▁\"}, \"content\": \" \"}, {\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}, {\"type\": \"Strip\", \"content\": \" \", \"start\": 1, \"stop\": 0}]}"));
        assertEquals(BpeTokenizer.Style.METASPACE, tok.style());
        int[] once = tok.encode(ONCE, true);
        assertArrayEquals(new int[] {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426}, once);
        assertEquals(ONCE, tok.decode(once));
        int[] mixed = tok.encode(MIXED, true);
        assertArrayEquals(new int[] {1, 410, 469, 414, 198, 174, 439, 419, 280, 412, 431, 485, 467, 410, 233, 160, 180, 231, 189, 175, 410,
                229, 155, 134, 410, 243, 162, 155, 131, 410, 481, 279, 289, 411, 426, 2, 261, 431, 413, 285, 410, 1, 410, 410, 444}, mixed);
        assertEquals("Zoë's café: 東京 ☃ 😀 — done. after   x", tok.decode(mixed), "as Hugging Face decodes it, special tokens skipped");
        int[] spaces = tok.encode(SPACES, true);
        assertArrayEquals(new int[] {1, 410, 410, 259, 424, 414, 410, 262, 427, 412, 331, 419, 13, 12, 412, 264, 12, 413, 412, 430, 419, 410, 13}, spaces);
        assertEquals(SPACES, tok.decode(spaces));
        assertArrayEquals(new int[] {1, 346, 336, 313, 455, 289, 439, 413, 436, 410, 464, 464, 334, 433, 450, 410, 410, 458, 425, 423, 430, 285,
                419, 410, 472, 426, 475, 484, 475, 480, 483, 269, 410, 479, 432, 477, 484, 487, 426}, tok.encode(PUNCT, true));
        // the same ids as llama.cpp's score-based SentencePiece merging on this vocabulary
        Tokenizer spm = ModelLoader.load(SharedAssets.require("models/stories260K.gguf")).tokenizer();
        assertArrayEquals(spm.encode(PUNCT, true), tok.encode(PUNCT, true));
        assertArrayEquals(spm.encode(ONCE, true), once);
    }

    @Test
    void metaspacePreTokenizerMatchesHuggingFace() throws Exception {
        BpeTokenizer tok = BpeTokenizer.load(tokenizerJson("null",
                "{\"type\": \"Metaspace\", \"replacement\": \"▁\", \"prepend_scheme\": \"first\", \"split\": false}",
                "{\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Metaspace\", \"replacement\": \"▁\", \"prepend_scheme\": \"first\", \"split\": false}, {\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}]}"));
        assertArrayEquals(new int[] {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426}, tok.encode(ONCE, true));
        int[] mixed = tok.encode(MIXED, true);
        assertArrayEquals(new int[] {1, 410, 469, 414, 198, 174, 439, 419, 280, 412, 431, 485, 467, 410, 233, 160, 180, 231, 189, 175, 410,
                229, 155, 134, 410, 243, 162, 155, 131, 410, 481, 279, 289, 411, 426, 2, 412, 431, 413, 285, 410, 1, 410, 444}, mixed,
                "prepend_scheme first: no '▁' after a special token");
        int[] spaces = tok.encode(SPACES, true);
        assertArrayEquals(new int[] {1, 410, 259, 424, 414, 410, 262, 427, 412, 331, 419, 13, 12, 412, 264, 12, 413, 412, 430, 419, 410, 13}, spaces);
        // text that starts with a space gets no second '▁', so decoding loses one space, as in Hugging Face
        assertEquals(SPACES.substring(1), tok.decode(spaces));
        Tokenizer.StreamDecoder sd = tok.streamDecoder();
        StringBuilder streamed = new StringBuilder();
        for (int id : spaces) streamed.append(sd.next(id));
        assertEquals(SPACES.substring(1), streamed.append(sd.flush()).toString());
        for (String corpus : TokenizerCorpusTest.CORPORA)
            TokenizerCorpusTest.assertRoundTrip(tok, TokenizerCorpusTest.firstLines(corpus, 60).stripLeading(), corpus);
    }
}
