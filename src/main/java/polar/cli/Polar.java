package polar.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.ServiceLoader;

/** The {@code polar} command: {@code polar <command> [options]}. */
public final class Polar {
    /** Exit codes. */
    public static final int OK = 0, FAILED = 1, USAGE = 2;

    private Polar() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs {@code polar args}; returns the exit code. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        List<Command> commands = commands(out, err);
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
            PrintStream to = args.length == 0 ? err : out;
            to.println("usage: polar <command> [options]   (polar <command> --help for its options)");
            to.println();
            to.println("commands:");
            for (Command c : commands) to.printf("  %-10s %s%n", c.name(), c.description());
            return args.length == 0 ? USAGE : OK;
        }
        Command command = commands.stream().filter(c -> c.name().equals(args[0])).findFirst().orElse(null);
        if (command == null) {
            err.println("polar: unknown command '" + args[0] + "'; commands: " + commands.stream().map(Command::name).toList());
            return USAGE;
        }
        try {
            return command.run(Arrays.copyOfRange(args, 1, args.length));
        } catch (UsageException e) {
            err.println("polar " + command.name() + ": " + e.getMessage() + " (see polar " + command.name() + " --help)");
            return USAGE;
        } catch (Exception | OutOfMemoryError | StackOverflowError e) {
            err.println("polar " + command.name() + ": " + oneLine(e));
            if (Boolean.getBoolean("polar.stacktrace")) e.printStackTrace(err);
            return FAILED;
        }
    }

    /** The built-in commands, then those other modules provide. */
    static List<Command> commands(PrintStream out, PrintStream err) {
        List<Command> commands = new ArrayList<>();
        commands.add(new GenerateCommand(out, err));
        commands.add(new EvalCommand(out, err));
        for (Command c : ServiceLoader.load(Command.class)) {
            if (commands.stream().noneMatch(k -> k.name().equals(c.name()))) commands.add(c);
        }
        return commands;
    }

    /** The error's message (or its type when it has none), on one line. */
    static String oneLine(Throwable e) {
        String m = e.getMessage();
        if (m == null || m.isBlank()) m = e.getClass().getSimpleName();
        return m.strip().replace('\n', ' ');
    }
}
