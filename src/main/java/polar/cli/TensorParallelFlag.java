package polar.cli;

import java.util.List;
import polar.engine.parallel.TensorParallel;

/** The {@code --tensor-parallel N} flag of the commands that run a model ({@link TensorParallel#open}). */
final class TensorParallelFlag {
    static final Options.Spec SPEC = new Options.Spec(List.of("--tensor-parallel"), true,
            "split the model over N ranks: 1, 2, 4 or 8 (cuda: N devices from --device, summed over NCCL; jvm, opencl: N simulated ranks; default 1)");

    private TensorParallelFlag() {}

    /** One of {@link TensorParallel#DEGREES}; 1 when the flag is absent. */
    static int ranks(Options o) {
        List<String> degrees = TensorParallel.DEGREES.stream().map(String::valueOf).toList();
        return Integer.parseInt(o.choice(SPEC.key(), "1", degrees));
    }
}
