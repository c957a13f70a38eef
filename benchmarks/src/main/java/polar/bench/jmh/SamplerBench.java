package polar.bench.jmh;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import polar.model.Sampler;

/**
 * One token drawn from a vocabulary's logits, as each sequence does after each decode step:
 * top-p 0.9 at temperature 0.8, and greedy. Logits are Gaussian with a spread like a real model's
 * (standard deviation 3), so top-p keeps a realistic few dozen candidates.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(1)
public class SamplerBench {
    /** Llama 2 and Llama 3 vocabularies. */
    @Param({"32000", "128256"})
    int vocab;

    float[] logits;
    Sampler topP, greedy;

    @Setup
    public void setup() {
        SplittableRandom random = new SplittableRandom(42);
        logits = new float[vocab];
        for (int i = 0; i < vocab; i++) logits[i] = (float) (3 * gaussian(random));
        topP = new Sampler(0.8f, 0, 0.9f, 7);
        greedy = Sampler.greedy();
    }

    private static double gaussian(SplittableRandom r) {
        return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
    }

    @Benchmark
    public int topP() { return topP.sample(logits); }

    @Benchmark
    public int greedy() { return greedy.sample(logits); }
}
