package polar.cli;

/**
 * A subcommand of {@code polar}. Besides the built-in ones, modules contribute commands through
 * {@link java.util.ServiceLoader} ({@code META-INF/services/polar.cli.Command}).
 */
public interface Command {

    /** The word after {@code polar}, e.g. {@code generate}. */
    String name();

    /** One line for {@code polar --help}. */
    String description();

    /**
     * Runs with the arguments after the name; returns the exit code. Throw {@link UsageException}
     * for bad usage (exit code 2); any other exception is reported as one line (exit code 1).
     */
    int run(String[] args) throws Exception;
}
