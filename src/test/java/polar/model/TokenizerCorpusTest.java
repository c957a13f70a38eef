package polar.model;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import polar.formats.Json;
import polar.formats.JsonFields;

/**
 * Tokenizers on real text from ../shared/corpus: the byte-level BPE tokenizers give exactly the ids of
 * Hugging Face {@code tokenizers} (recorded as digests in {@code hf-token-digests.json}, see its "generator"),
 * and every tokenizer's decode(encode(text)) is the text, in one piece and streamed token by token.
 */
class TokenizerCorpusTest {

    static final List<String> CORPORA = List.of("tinystories/train-sample.txt", "tinystories/valid-sample.txt",
            "wikitext-2/wiki.test.raw", "wikitext-2/wiki.valid.raw", "tinyshakespeare/input.txt");

    /** The first {@code lines} lines of a corpus file, each ending in '\n'. */
    static String firstLines(String corpus, int lines) throws IOException {
        String text = Files.readString(SharedAssets.require("corpus/" + corpus));
        int end = -1;
        for (int i = 0; i < lines; i++) {
            end = text.indexOf('\n', end + 1);
            if (end < 0) return text;
        }
        return text.substring(0, end + 1);
    }

    static String sha256(int[] ids) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(ids.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int id : ids) b.putInt(id);
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b.array()));
    }

    /** Text encoded as a prompt (BOS first) decodes, whole or streamed, to itself: BOS is dropped, as is SentencePiece's prefix space. */
    static void assertRoundTrip(Tokenizer tok, String text, String what) {
        int[] ids = tok.encode(text, true);
        assertEquals(text, tok.decode(ids), what);
        Tokenizer.StreamDecoder sd = tok.streamDecoder();
        StringBuilder streamed = new StringBuilder();
        for (int id : ids) streamed.append(sd.next(id));
        assertEquals(text, streamed.append(sd.flush()).toString(), what + " (streamed)");
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama", "tiny-opt"})
    void byteLevelBpeMatchesHuggingFaceOnTheCorpora(String model) throws Exception {
        Tokenizer tok = BpeTokenizer.load(SharedAssets.require("models/" + model).resolve("tokenizer.json"));
        JsonFields digests;
        try (InputStream in = getClass().getResourceAsStream("hf-token-digests.json")) {
            digests = JsonFields.of(Json.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8)), "hf-token-digests.json").object("models");
        }
        List<JsonFields> entries = digests.objects(model);
        assertEquals(CORPORA.size(), entries.size());
        for (JsonFields e : entries) {
            String corpus = e.string("corpus");
            String text = firstLines(corpus, (int) e.integer("lines"));
            assertEquals(e.integer("chars"), text.codePointCount(0, text.length()), corpus);
            int[] ids = tok.encode(text, false);
            assertEquals(e.integer("tokens"), ids.length, corpus + ": token count");
            assertEquals(e.string("sha256"), sha256(ids), corpus + ": ids differ from Hugging Face tokenizers");
            assertRoundTrip(tok, text, model + " " + corpus);
        }
    }

    @Test
    void sentencePieceRoundTripsTheCorpora() throws Exception {
        Model m = ModelLoader.load(SharedAssets.require("models/stories260K.gguf"));
        for (String corpus : CORPORA) assertRoundTrip(m.tokenizer(), firstLines(corpus, 120), "stories260K " + corpus);
        // byte fallback: characters outside the 512-token vocabulary come back whole
        assertRoundTrip(m.tokenizer(), "Zoë's café: 東京 ☃ 😀 — done.", "stories260K non-ASCII");
    }

    @Test
    void streamingHoldsBackIncompleteCharacters() throws Exception {
        Tokenizer tok = BpeTokenizer.load(SharedAssets.require("models/tiny-llama").resolve("tokenizer.json"));
        String text = "😀東";
        int[] ids = tok.encode(text, false);
        assertTrue(ids.length > 2, "rare characters split into byte tokens");
        Tokenizer.StreamDecoder sd = tok.streamDecoder();
        StringBuilder out = new StringBuilder();
        for (int id : ids) {
            String piece = sd.next(id);
            for (char c : piece.toCharArray()) assertNotEquals('\uFFFD', c, "no replacement character mid-stream");
            out.append(piece);
        }
        assertEquals(text, out.append(sd.flush()).toString());
        // a dangling lead byte is flushed as a replacement character
        Tokenizer.StreamDecoder partial = tok.streamDecoder();
        assertEquals("", partial.next(ids[0]));
        assertEquals("\uFFFD", partial.flush());
    }
}
