package polar.model;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.List;
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
        Tokenizer tok = ByteLevelBpeTokenizer.load(folder.resolve("tokenizer.json"));
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
}
