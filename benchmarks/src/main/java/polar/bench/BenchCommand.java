package polar.bench;

import java.util.Arrays;
import polar.cli.Command;
import polar.cli.UsageException;

/** {@code polar bench decode ...}: the {@link DecodeBench} decode-step benchmark from the {@code polar} command. */
public final class BenchCommand implements Command {
    @Override
    public String name() { return "bench"; }

    @Override
    public String description() { return "benchmarks: bench decode (decode steps over synthetic weights; see docs/benchmarks.md)"; }

    @Override
    public int run(String[] args) throws Exception {
        if (args.length == 0 || !args[0].equals("decode")) throw new UsageException("polar bench decode [options]; options:\n" + DecodeBench.USAGE);
        return DecodeBench.run(Arrays.copyOfRange(args, 1, args.length), System.out);
    }
}
