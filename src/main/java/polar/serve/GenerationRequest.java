package polar.serve;

import java.util.List;

/**
 * One generation job for the {@link Scheduler}.
 *
 * @param prompt     prompt token ids (at least one)
 * @param maxTokens  most tokens to generate (at least one)
 * @param stop       stop strings: output ends before the first one that appears (it is not returned)
 * @param stopTokens token ids that end the output like EOS does (e.g. a chat template's end-of-turn token)
 * @param ignoreEos  keep going past EOS (benchmarks want fixed lengths)
 * @param stream     deliver text as it is produced through {@link Generation#nextEvent()}
 */
public record GenerationRequest(int[] prompt, int maxTokens, SamplingParams sampling, List<String> stop,
                                int[] stopTokens, boolean ignoreEos, boolean stream) {

    public GenerationRequest {
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt has no tokens");
        if (maxTokens < 1) throw new IllegalArgumentException("max_tokens must be >= 1, got " + maxTokens);
        stop = List.copyOf(stop);
        for (String s : stop) if (s.isEmpty()) throw new IllegalArgumentException("a stop sequence is empty");
    }

    public static GenerationRequest greedy(int[] prompt, int maxTokens) {
        return new GenerationRequest(prompt, maxTokens, SamplingParams.greedy(), List.of(), new int[0], false, false);
    }
}
