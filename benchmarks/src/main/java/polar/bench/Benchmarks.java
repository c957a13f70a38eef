package polar.bench;

/** Marker for the benchmarks module; see the README for the benchmark commands. */
final class Benchmarks {
    private Benchmarks() {}
}
