package polar.bench;

import java.util.Arrays;
import polar.cli.Command;
import polar.cli.UsageException;
import polar.serve.ServeBench;

/**
 * {@code polar bench decode ...}: the {@link DecodeBench} decode-step benchmark; {@code polar bench serve ...}: the
 * {@link ServeBench} load generator against a running server.
 */
public final class BenchCommand implements Command {
    @Override
    public String name() { return "bench"; }

    @Override
    public String description() {
        return "benchmarks: bench decode (decode steps over synthetic weights; see docs/benchmarks.md), bench serve (load on a server)";
    }

    @Override
    public int run(String[] args) throws Exception {
        String[] rest = args.length == 0 ? args : Arrays.copyOfRange(args, 1, args.length);
        if (args.length > 0 && args[0].equals("serve")) return ServeBench.run(rest, System.out);
        if (args.length == 0 || !args[0].equals("decode"))
            throw new UsageException("polar bench decode [options] | polar bench serve [options]; decode options:\n" + DecodeBench.USAGE
                    + "serve options:\n" + ServeBench.USAGE);
        return DecodeBench.run(rest, System.out);
    }
}
