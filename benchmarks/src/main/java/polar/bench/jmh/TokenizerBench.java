package polar.bench.jmh;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import polar.model.BpeTokenizer;

/**
 * Encoding one paragraph (a few hundred characters of TinyStories validation text) with the
 * tiny-llama byte-level BPE tokenizer, as a prompt is encoded before prefill. Reads both from the
 * shared test assets: {@code -Dpolar.shared=DIR} (default {@code ../shared}).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(1)
public class TokenizerBench {
    BpeTokenizer tokenizer;
    String paragraph;

    @Setup
    public void setup() throws IOException {
        Path shared = Path.of(System.getProperty("polar.shared", "../shared"));
        tokenizer = BpeTokenizer.load(shared.resolve("models/tiny-llama/tokenizer.json"));
        String text = Files.readString(shared.resolve("corpus/tinystories/valid-sample.txt"));
        // The first whole paragraph of at least 400 characters.
        paragraph = Arrays.stream(text.split("\n\\s*\n")).skip(1).filter(p -> p.length() >= 400).findFirst()
                .orElseThrow(() -> new IllegalStateException("no paragraph of 400 characters in " + shared));
    }

    @Benchmark
    public int[] encodeParagraph() { return tokenizer.encode(paragraph, true); }
}
