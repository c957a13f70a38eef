package polar.engine;

import java.util.ArrayList;
import java.util.List;
import polar.model.ModelConfig;
import polar.model.Sampler;

/**
 * Generates continuations of several prompts at once: one batched prefill, then one batched
 * decode step per token over the sequences still running. Each sequence samples with its own
 * {@link Sampler} (seed + its index) and stops at an end-of-sequence token, at
 * {@code maxNewTokens}, or at the end of the context.
 */
public final class Generator {
    private final BatchEngine engine;

    public Generator(BatchEngine engine) {
        this.engine = engine;
    }

    /** How to sample; {@code temperature} 0 is greedy. */
    public record Settings(int maxNewTokens, float temperature, int topK, float topP, long seed) {
        public Settings {
            if (maxNewTokens < 0) throw new IllegalArgumentException("the number of tokens to generate must be >= 0, got " + maxNewTokens);
            new Sampler(temperature, topK, topP, seed); // validates the sampling parameters
        }

        public static Settings greedy(int maxNewTokens) { return new Settings(maxNewTokens, 0f, 0, 1f, 0); }

        Sampler sampler(int sequence) { return new Sampler(temperature, topK, topP, seed + sequence); }
    }

    /** Why a sequence stopped. */
    public enum Stop { END_OF_SEQUENCE, MAX_TOKENS, CONTEXT_FULL }

    /** Receives each token as soon as it is chosen (end-of-sequence tokens are not passed). */
    @FunctionalInterface
    public interface TokenListener {
        void onToken(int sequence, int token);
    }

    /** One prompt's outcome; {@code generated} excludes the end-of-sequence token. */
    public record Result(int[] prompt, int[] generated, Stop stop) {}

    /**
     * Timings of the last {@link #generate} call; prefill and decode exclude {@code compileNanos},
     * the time spent compiling graphs for buckets first seen during the call.
     */
    public record Stats(int promptTokens, int generatedTokens, long prefillNanos, long decodeNanos, int decodeSteps, long compileNanos) {
        public double prefillTokensPerSecond() { return promptTokens / Math.max(1e-9, prefillNanos / 1e9); }

        /** Tokens decoded per second (all sequences together; the first token comes from the prefill). */
        public double decodeTokensPerSecond() { return Math.max(0, generatedTokens - 1) / Math.max(1e-9, decodeNanos / 1e9); }
    }

    private Stats lastStats;

    public Stats lastStats() { return lastStats; }

    public List<Result> generate(List<int[]> prompts, Settings settings, TokenListener listener) {
        if (prompts.isEmpty()) throw new IllegalArgumentException("no prompts");
        if (prompts.size() > engine.maxSequences()) {
            throw new IllegalArgumentException(prompts.size() + " prompts exceed the engine's " + engine.maxSequences() + " sequences");
        }
        int promptTokens = 0;
        for (int[] p : prompts) {
            if (p.length == 0) throw new IllegalArgumentException("a prompt has no tokens");
            if (p.length > engine.maxContext()) {
                throw new ContextOverflowException("prompt of " + p.length + " tokens is longer than the context of " + engine.maxContext() + " positions");
            }
            promptTokens += p.length;
        }
        ModelConfig config = engine.config();
        int n = prompts.size();
        List<Sequence> sequences = new ArrayList<>();
        List<List<Integer>> generated = new ArrayList<>();
        Sampler[] samplers = new Sampler[n];
        Stop[] stops = new Stop[n];
        try {
            for (int i = 0; i < n; i++) {
                sequences.add(engine.newSequence());
                generated.add(new ArrayList<>());
                samplers[i] = settings.sampler(i);
            }
            long compile0 = engine.compileNanos();
            long t0 = System.nanoTime();
            float[][] logits = settings.maxNewTokens() == 0 ? null : engine.prefill(sequences, prompts);
            long compile1 = engine.compileNanos();
            long prefill = System.nanoTime() - t0 - (compile1 - compile0);
            int[] active = new int[n];
            for (int i = 0; i < n; i++) active[i] = i;
            int activeCount = settings.maxNewTokens() == 0 ? 0 : n;
            for (int i = 0; i < n && settings.maxNewTokens() == 0; i++) stops[i] = Stop.MAX_TOKENS;
            long t1 = System.nanoTime();
            int steps = 0;
            while (activeCount > 0) {
                List<Sequence> batch = new ArrayList<>();
                List<Integer> batchIds = new ArrayList<>();
                for (int a = 0; a < activeCount; a++) {
                    int i = active[a];
                    int token = samplers[i].sample(logits[a]);
                    if (config.isEos(token)) {
                        stops[i] = Stop.END_OF_SEQUENCE;
                        continue;
                    }
                    generated.get(i).add(token);
                    listener.onToken(i, token);
                    if (generated.get(i).size() >= settings.maxNewTokens()) stops[i] = Stop.MAX_TOKENS;
                    else if (sequences.get(i).length() >= engine.maxContext()) stops[i] = Stop.CONTEXT_FULL;
                    else {
                        batch.add(sequences.get(i));
                        batchIds.add(i);
                    }
                }
                for (int i = 0; i < n; i++) if (stops[i] != null) engine.release(sequences.get(i));
                activeCount = batch.size();
                if (activeCount == 0) break;
                int[] tokens = new int[activeCount];
                for (int a = 0; a < activeCount; a++) {
                    active[a] = batchIds.get(a);
                    tokens[a] = generated.get(active[a]).getLast();
                }
                logits = engine.decode(batch, tokens);
                steps++;
            }
            long decode = System.nanoTime() - t1 - (engine.compileNanos() - compile1);
            int total = generated.stream().mapToInt(List::size).sum();
            lastStats = new Stats(promptTokens, total, prefill, decode, steps, engine.compileNanos() - compile0);
            List<Result> results = new ArrayList<>();
            for (int i = 0; i < n; i++) results.add(new Result(prompts.get(i).clone(), generated.get(i).stream().mapToInt(Integer::intValue).toArray(), stops[i]));
            return results;
        } finally {
            for (Sequence s : sequences) engine.release(s);
        }
    }
}
