package polar.model;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import polar.formats.Json;
import polar.formats.JsonFields;

/** The byte-level BPE tokenizers of the shared test models against the golden outputs of PyTorch/tokenizers. */
class TokenizerGoldenTest {

    static int[] ints(List<Object> values) {
        return values.stream().mapToInt(v -> ((Long) v).intValue()).toArray();
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama", "tiny-opt"})
    void reproducesGoldenPromptIdsAndGreedyText(String model) throws Exception {
        Path folder = SharedAssets.require("models/" + model);
        Path golden = SharedAssets.require("golden/" + model + ".golden.json");
        Tokenizer tok = BpeTokenizer.load(folder.resolve("tokenizer.json"));
        List<JsonFields> cases = JsonFields.of(Json.parse(golden), golden.toString()).objects("cases");
        assertEquals(5, cases.size());
        for (JsonFields c : cases) {
            String prompt = c.string("prompt");
            assertArrayEquals(ints(c.list("prompt_ids")), tok.encode(prompt, true), prompt);
            // greedy_text is the continuation alone (the prompt excluded), decoded with special tokens skipped
            int[] greedy = ints(c.list("greedy_ids"));
            assertEquals(c.string("greedy_text"), tok.decode(greedy), prompt);
            StringBuilder streamed = new StringBuilder();
            Tokenizer.StreamDecoder sd = tok.streamDecoder();
            for (int id : greedy) streamed.append(sd.next(id));
            streamed.append(sd.flush());
            assertEquals(c.string("greedy_text"), streamed.toString());
        }
    }

    @TempDir Path dir;

    /**
     * tiny-llama's vocabulary behind Llama 3's pipeline: Split(regex, Isolated) then ByteLevel without regex,
     * ignore_merges, a Sequence post-processor. Expected ids from Hugging Face tokenizers 0.23.2 on the same file.
     */
    @Test
    @SuppressWarnings("unchecked")
    void llama3StylePipelineMatchesHuggingFace() throws Exception {
        Path source = SharedAssets.require("models/tiny-llama/tokenizer.json");
        Map<String, Object> json = (Map<String, Object>) Json.parse(source);
        json.put("pre_tokenizer", Json.parse("""
                {"type": "Sequence", "pretokenizers": [
                  {"type": "Split", "pattern": {"Regex": %s}, "behavior": "Isolated", "invert": false},
                  {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}""".formatted(Json.quote(BpeTokenizer.LLAMA3_PATTERN))));
        json.put("post_processor", Map.of("type", "Sequence", "processors",
                List.of(Map.of("type", "ByteLevel", "add_prefix_space", true, "trim_offsets", false, "use_regex", true), json.get("post_processor"))));
        ((Map<String, Object>) json.get("model")).put("ignore_merges", true);
        Path file = Files.writeString(dir.resolve("tokenizer.json"), Json.write(json));
        assertMatchesHuggingFaceLlama3Style(BpeTokenizer.load(file));
    }

    /** Ids from Hugging Face tokenizers 0.23.2 for tiny-llama's vocabulary behind Llama 3's pipeline. */
    static void assertMatchesHuggingFaceLlama3Style(Tokenizer tok) {
        assertArrayEquals(new int[] {0, 557, 547, 260, 455, 13, 443, 298, 260, 482, 578, 15},
                tok.encode("Once upon a time, there was a little girl.", true));
        assertArrayEquals(new int[] {0, 42, 8, 45, 45, 562, 27, 321, 377, 222, 18, 19, 20, 21, 22, 23, 24, 290, 8, 786, 1284, 2, 2, 200, 200, 199,
                        53, 553, 84, 222, 222, 271, 222, 438, 1884, 203, 200, 356},
                tok.encode("I'LL say: it's 1234567 o'clock!!\n\n\tTabs   and  spaces\r\nend", true));
        assertArrayEquals(new int[] {0, 798, 382, 348, 2634, 533, 3, 222, 1016, 290, 76, 32, 222, 393, 222, 535, 2496, 501, 222, 20, 15, 18, 21,
                        18, 22, 26, 271, 222, 19, 13, 17, 21, 25, 271, 222, 89, 18, 90, 19, 19, 91, 20, 20, 20, 15},
                tok.encode("He said \"Don't\" -- ok?  \n  Numbers 3.14159 and 2,048 and x1y22z333.", true));
        int[] special = tok.encode("Zoë's café: 東京 ☃ 😀 — done.<|end_of_text|>after", true);
        assertArrayEquals(new int[] {0, 59, 80, 129, 106, 377, 278, 2656, 129, 104, 27, 222, 164, 253, 111, 162, 120, 107, 222, 160, 248, 227,
                222, 174, 255, 248, 224, 1924, 1213, 15, 1, 66, 681}, special);
        assertEquals("Zoë's café: 東京 ☃ 😀 — done.after", tok.decode(special), "special tokens are dropped");
    }

    /** The same vocabulary as a GGUF "gpt2" tokenizer with llama.cpp's "llama-bpe" pre-tokenizer gives the same ids. */
    @Test
    @SuppressWarnings("unchecked")
    void ggufGpt2TokenizerWithLlamaBpePreTokenizer() throws Exception {
        Path source = SharedAssets.require("models/tiny-llama/tokenizer.json");
        JsonFields model = JsonFields.of(Json.parse(source), source.toString()).object("model");
        Map<String, Object> vocab = model.object("vocab").map();
        String[] tokens = new String[vocab.size()];
        vocab.forEach((token, id) -> tokens[((Long) id).intValue()] = token);
        int[] types = new int[tokens.length];
        java.util.Arrays.fill(types, 1);
        types[0] = types[1] = 3; // <|begin_of_text|>, <|end_of_text|>: control
        List<String> merges = model.list("merges").stream().map(m -> String.join(" ", (List<String>) m)).toList();
        Path file = new polar.formats.GgufWriter().string("tokenizer.ggml.model", "gpt2").string("tokenizer.ggml.pre", "llama-bpe")
                .strings("tokenizer.ggml.tokens", List.of(tokens)).ints("tokenizer.ggml.token_type", types)
                .strings("tokenizer.ggml.merges", merges).u32("tokenizer.ggml.bos_token_id", 0).u32("tokenizer.ggml.eos_token_id", 1)
                .bool("tokenizer.ggml.add_bos_token", true).write(dir.resolve("tok.gguf"));
        Tokenizer tok = GgufModel.tokenizer(polar.formats.Gguf.open(file, java.lang.foreign.Arena.ofAuto()));
        assertInstanceOf(BpeTokenizer.class, tok);
        assertMatchesHuggingFaceLlama3Style(tok);
    }
}
