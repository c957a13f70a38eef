package polar.bench.jmh;

import static polar.tornado.graph.Arg.f32;
import static polar.tornado.graph.Arg.i32;

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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import polar.runtime.jvm.JvmBackend;
import polar.tornado.graph.Buffer;
import polar.tornado.graph.Grid;
import polar.tornado.graph.TaskGraph;
import polar.tornado.kernels.Activations;
import polar.tornado.kernels.Norms;
import polar.tornado.runtime.Executable;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/**
 * The JVM backend at decode shapes of a 7B model (hidden 4096): the GEMM of a 4096 x 4096
 * float16 projection (JvmGemm) for 1 and 16 tokens, one KernelContext kernel launch (RMSNorm of
 * the rows: work-groups with barriers) and one {@code @Parallel} launch (SwiGLU over ffn 11008).
 * Each is a compiled one-task graph, run as the engine runs its steps.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(1)
public class JvmBackendBench {
    static final int HIDDEN = 4096, FFN = 11008;

    /** Tokens of the step (rows of A). */
    @Param({"1", "16"})
    int tokens;

    JvmBackend jvm;
    Executable gemm, rmsnorm, swiglu;

    @Setup
    public void setup() {
        jvm = new JvmBackend();
        SplittableRandom random = new SplittableRandom(1);
        Buffer<FloatArray> x = jvm.upload(floats(random, tokens * HIDDEN), "x");
        Buffer<HalfArray> w = jvm.upload(halves(random, HIDDEN * HIDDEN), "w");
        Buffer<FloatArray> y = jvm.allocate(polar.tornado.types.ElementType.F32, (long) tokens * HIDDEN, "y");
        TaskGraph g = new TaskGraph("gemm");
        g.gemm(x, 0, w, 0, y, 0, tokens, HIDDEN, HIDDEN, 1f, 0f);
        gemm = jvm.compile(g);

        Buffer<FloatArray> weight = jvm.upload(floats(random, HIDDEN), "norm weight");
        TaskGraph n = new TaskGraph("rmsnorm");
        n.kernel(Norms::rmsnorm, Grid.groups(tokens, Norms.THREADS), x, weight, y, i32(HIDDEN), f32(1e-5f));
        rmsnorm = jvm.compile(n);

        Buffer<FloatArray> gateUp = jvm.upload(floats(random, tokens * 2 * FFN), "gate up");
        Buffer<FloatArray> act = jvm.allocate(polar.tornado.types.ElementType.F32, (long) tokens * FFN, "act");
        TaskGraph s = new TaskGraph("swiglu");
        s.parallel(Activations::swiglu, Grid.rows(tokens, FFN), gateUp, act, i32(tokens), i32(FFN));
        swiglu = jvm.compile(s);
    }

    private static FloatArray floats(SplittableRandom r, int n) {
        FloatArray a = new FloatArray(n);
        for (int i = 0; i < n; i++) a.set(i, (float) (r.nextDouble() * 2 - 1));
        return a;
    }

    private static HalfArray halves(SplittableRandom r, int n) {
        HalfArray a = new HalfArray(n);
        for (int i = 0; i < n; i++) a.set(i, (float) ((r.nextDouble() * 2 - 1) / 64));
        return a;
    }

    @TearDown
    public void close() { jvm.close(); }

    @Benchmark
    public void gemm4096() { gemm.run(); }

    @Benchmark
    public void rmsnormLaunch() { rmsnorm.run(); }

    @Benchmark
    public void swigluLaunch() { swiglu.run(); }
}
