package polar.serve;

import java.util.EnumMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/** Counters and gauges of the scheduler and the server, rendered in the Prometheus text format. */
public final class Metrics {

    /** How a submitted generation ended. */
    public enum Outcome { STOP, LENGTH, CANCELLED, ERROR }

    private final Map<Outcome, LongAdder> outcomes = new EnumMap<>(Outcome.class);
    private final Map<ApiError, LongAdder> rejections = new EnumMap<>(ApiError.class);
    private final Map<Integer, LongAdder> httpResponses = new ConcurrentHashMap<>();
    final LongAdder promptTokens = new LongAdder();
    final LongAdder generatedTokens = new LongAdder();
    final LongAdder preemptions = new LongAdder();
    final LongAdder steps = new LongAdder();
    final LongAdder decodeRows = new LongAdder();
    final LongAdder prefillTokens = new LongAdder();
    private final Rate generatedRate = new Rate(10);

    // Gauges, written by the scheduler thread after every step.
    volatile int queueLength, running, kvBlocksUsed, kvBlocksTotal;

    Metrics() {
        for (Outcome o : Outcome.values()) outcomes.put(o, new LongAdder());
        for (ApiError e : ApiError.values()) rejections.put(e, new LongAdder());
    }

    void finished(Outcome outcome) { outcomes.get(outcome).increment(); }

    void rejected(ApiError reason) { rejections.get(reason).increment(); }

    void generated(int tokens) {
        generatedTokens.add(tokens);
        generatedRate.add(tokens);
    }

    /** Counts an HTTP response by status code. */
    public void response(int status) { httpResponses.computeIfAbsent(status, s -> new LongAdder()).increment(); }

    public long finishedCount(Outcome outcome) { return outcomes.get(outcome).sum(); }

    public int queueLength() { return queueLength; }

    public int running() { return running; }

    public int kvBlocksUsed() { return kvBlocksUsed; }

    public int kvBlocksTotal() { return kvBlocksTotal; }

    public long preemptions() { return preemptions.sum(); }

    /** Generated tokens per second over the last 10 seconds. */
    public double tokensPerSecond() { return generatedRate.perSecond(); }

    public String prometheus() {
        StringBuilder out = new StringBuilder();
        gauge(out, "polar_queue_length", "Requests waiting to be admitted.", queueLength);
        gauge(out, "polar_running_sequences", "Sequences admitted (prefilling or decoding).", running);
        gauge(out, "polar_kv_blocks_used", "KV cache blocks held by sequences.", kvBlocksUsed);
        gauge(out, "polar_kv_blocks_total", "KV cache blocks in all.", kvBlocksTotal);
        gauge(out, "polar_tokens_per_second", "Generated tokens per second over the last 10 seconds.", tokensPerSecond());
        counter(out, "polar_prompt_tokens_total", "Prompt tokens of admitted requests.", promptTokens.sum());
        counter(out, "polar_generated_tokens_total", "Generated tokens.", generatedTokens.sum());
        counter(out, "polar_prefill_tokens_total", "Tokens prefilled (prompts, and recomputation after preemption).", prefillTokens.sum());
        counter(out, "polar_steps_total", "Scheduler steps that ran the model.", steps.sum());
        counter(out, "polar_decode_rows_total", "Sequences decoded, summed over steps (divide by steps for the mean batch).", decodeRows.sum());
        counter(out, "polar_preemptions_total", "Sequences preempted for lack of KV blocks (recomputed later).", preemptions.sum());
        header(out, "polar_requests_total", "Generations by how they ended.", "counter");
        for (var e : outcomes.entrySet())
            out.append("polar_requests_total{outcome=\"").append(e.getKey().name().toLowerCase()).append("\"} ").append(e.getValue().sum()).append('\n');
        header(out, "polar_rejected_total", "Requests refused before admission, by error code.", "counter");
        for (var e : rejections.entrySet())
            if (e.getValue().sum() > 0) out.append("polar_rejected_total{code=\"").append(e.getKey().code).append("\"} ").append(e.getValue().sum()).append('\n');
        header(out, "polar_http_responses_total", "HTTP responses by status code.", "counter");
        for (var e : new TreeMap<>(httpResponses).entrySet())
            out.append("polar_http_responses_total{status=\"").append(e.getKey()).append("\"} ").append(e.getValue().sum()).append('\n');
        return out.toString();
    }

    private static void header(StringBuilder out, String name, String help, String type) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static void gauge(StringBuilder out, String name, String help, double value) {
        header(out, name, help, "gauge");
        out.append(name).append(' ').append(value == Math.rint(value) ? String.valueOf((long) value) : String.valueOf(value)).append('\n');
    }

    private static void counter(StringBuilder out, String name, String help, long value) {
        header(out, name, help, "counter");
        out.append(name).append(' ').append(value).append('\n');
    }

    /** Events per second over a sliding window of whole seconds. */
    private static final class Rate {
        private final long[] counts, seconds;
        private final long startSecond = nowSecond();

        Rate(int windowSeconds) {
            counts = new long[windowSeconds];
            seconds = new long[windowSeconds];
            java.util.Arrays.fill(seconds, Long.MIN_VALUE / 2); // no bucket is current yet
        }

        synchronized void add(long n) {
            long now = nowSecond();
            int i = (int) Math.floorMod(now, (long) counts.length);
            if (seconds[i] != now) {
                seconds[i] = now;
                counts[i] = 0;
            }
            counts[i] += n;
        }

        synchronized double perSecond() {
            long now = nowSecond();
            long sum = 0;
            for (int i = 0; i < counts.length; i++) if (now - seconds[i] < counts.length) sum += counts[i];
            long span = Math.min(counts.length, now - startSecond + 1);
            return (double) sum / span;
        }

        private static long nowSecond() { return System.nanoTime() / 1_000_000_000L; }
    }
}
