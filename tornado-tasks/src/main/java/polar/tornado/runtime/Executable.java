package polar.tornado.runtime;

/** Compiled task graphs, ready to enqueue. {@link #run()} is asynchronous on GPU backends. */
@FunctionalInterface
public interface Executable {
    void run();
}
