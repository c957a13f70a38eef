package polar.serve;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;
import polar.model.Sampler;
import polar.model.Tokenizer;

/**
 * A deterministic stand-in for the engine: a sequence's logits are a hash of all its tokens, so any correct
 * scheduling (batched, chunked, preempted and recomputed) gives exactly the tokens of {@link #referenceGreedy}.
 * It keeps a real block pool and checks the {@link BatchModel} contract, throwing where the scheduler breaks it.
 * It records every call for tests to inspect.
 */
final class FakeBatchModel implements BatchModel {
    static final String ID = "fake-model";
    static final int MAX_PREFILL_TOKENS = 256;

    /** One model call: decode (one token for each of {@code seqs}) or prefill ({@code tokens[i]} for {@code seqs[i]}). */
    record Call(boolean decode, int[] seqs, int[] tokens) {}

    private final int context, maxBatch, blockSize, totalBlocks;
    private final Tokenizer tokenizer = new FakeTokenizer();
    private final ArrayDeque<Integer> free = new ArrayDeque<>();
    private final Map<Integer, Sequence> open = new HashMap<>();
    private final List<Call> calls = new ArrayList<>();
    private volatile long stepDelayNanos;
    private volatile int usedBlocks;
    private volatile RuntimeException failNextDecode;
    private volatile int poisonToken = -1;
    private volatile boolean closed;
    private volatile String chatTemplate;
    private volatile int padding;
    private Thread owner;
    private int nextSeq;

    private static final class Sequence {
        final List<Integer> tokens = new ArrayList<>();
        final List<Integer> blocks = new ArrayList<>();
    }

    FakeBatchModel(int context, int maxBatch, int blockSize, int totalBlocks) {
        this.context = context;
        this.maxBatch = maxBatch;
        this.blockSize = blockSize;
        this.totalBlocks = totalBlocks;
        for (int b = 0; b < totalBlocks; b++) free.add(b);
    }

    /** Context 256, batch 32, 512 blocks of 4. */
    static FakeBatchModel roomy() { return new FakeBatchModel(256, 32, 4, 512); }

    /** Makes every model call take at least this long, like real compute. */
    FakeBatchModel stepDelay(long micros) {
        stepDelayNanos = micros * 1000;
        return this;
    }

    FakeBatchModel chatTemplate(String template) {
        chatTemplate = template;
        return this;
    }

    /**
     * Pads logits rows with {@code extra} entries beyond the tokenizer's vocabulary, larger than any real logit (like a
     * padded embedding whose padding rows a sampler over the whole row would pick).
     */
    FakeBatchModel padVocab(int extra) {
        padding = extra;
        return this;
    }

    void failNextDecode(RuntimeException e) { failNextDecode = e; }

    /** Sequences holding {@code token} get NaN logits (numbers that broke for one sequence only). */
    void poison(int token) { poisonToken = token; }

    int usedBlocks() { return usedBlocks; }

    boolean isClosed() { return closed; }

    synchronized List<Call> calls() { return List.copyOf(calls); }

    /** Sizes of the decode batches, in order. */
    synchronized int[] decodeBatchSizes() {
        return calls.stream().filter(Call::decode).mapToInt(c -> c.seqs().length).toArray();
    }

    // ---- the reference ----

    /** Logits after {@code tokens}: a pure function of all of them. EOS is made rarer than other tokens. */
    static float[] logits(List<Integer> tokens) {
        long h = 0xcbf29ce484222325L;
        for (int t : tokens) h = (h ^ t) * 0x100000001b3L;
        float[] row = new float[FakeTokenizer.VOCAB];
        for (int i = 0; i < row.length; i++) row[i] = (mix(h + i * 0x9E3779B97F4A7C15L) >>> 40) / 1_000_000f;
        row[FakeTokenizer.EOS] -= 4f;
        return row;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** Greedy generation without any scheduler: the tokens (ending with EOS if it came) a correct server must give. */
    static int[] referenceGreedy(int[] prompt, int maxTokens, boolean ignoreEos) {
        List<Integer> tokens = new ArrayList<>();
        for (int t : prompt) tokens.add(t);
        List<Integer> out = new ArrayList<>();
        while (out.size() < maxTokens) {
            float[] row = logits(tokens);
            int next = Sampler.argmax(row);
            out.add(next);
            tokens.add(next);
            if (next == FakeTokenizer.EOS && !ignoreEos) break;
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    // ---- BatchModel ----

    @Override public String id() { return ID; }
    @Override public Tokenizer tokenizer() { return tokenizer; }
    @Override public String chatTemplate() { return chatTemplate; }
    @Override public boolean isEos(int token) { return token == FakeTokenizer.EOS; }
    @Override public int vocabSize() { return FakeTokenizer.VOCAB + padding; }
    @Override public int contextLength() { return context; }
    @Override public int maxBatch() { return maxBatch; }
    @Override public int blockSize() { return blockSize; }
    @Override public int maxPrefillTokens() { return MAX_PREFILL_TOKENS; }
    @Override public int totalBlocks() { return totalBlocks; }

    @Override
    public int freeBlocks() {
        checkThread();
        return free.size();
    }

    @Override
    public int open() {
        checkThread();
        if (open.size() >= maxBatch) throw new IllegalStateException("more than maxBatch = " + maxBatch + " sequences open");
        int seq = nextSeq++;
        open.put(seq, new Sequence());
        return seq;
    }

    @Override
    public float[][] prefill(List<PrefillChunk> chunks) {
        checkThread();
        int[] seqs = new int[chunks.size()], lengths = new int[chunks.size()];
        if (chunks.stream().mapToInt(c -> c.tokens().length).sum() > MAX_PREFILL_TOKENS) throw new IllegalStateException("prefill over maxPrefillTokens");
        checkDistinct(chunks.stream().mapToInt(PrefillChunk::seq).toArray());
        List<float[]> rows = new ArrayList<>();
        for (int i = 0; i < chunks.size(); i++) {
            PrefillChunk c = chunks.get(i);
            seqs[i] = c.seq();
            lengths[i] = c.tokens().length;
            if (c.tokens().length == 0) throw new IllegalArgumentException("empty prefill chunk");
            Sequence s = sequence(c.seq());
            for (int t : c.tokens()) append(s, t);
            if (c.wantLogits()) rows.add(rowFor(s));
        }
        record(new Call(false, seqs, lengths));
        return padded(rows);
    }

    @Override
    public float[][] decode(int[] seqs, int[] tokens) {
        checkThread();
        checkDistinct(seqs);
        if (seqs.length > maxBatch) throw new IllegalStateException("decode batch " + seqs.length + " > maxBatch");
        RuntimeException failure = failNextDecode;
        if (failure != null) {
            failNextDecode = null;
            throw failure;
        }
        List<float[]> rows = new ArrayList<>();
        for (int i = 0; i < seqs.length; i++) {
            Sequence s = sequence(seqs[i]);
            append(s, tokens[i]);
            rows.add(rowFor(s));
        }
        record(new Call(true, seqs.clone(), tokens.clone()));
        return padded(rows);
    }

    @Override
    public void close(int seq) {
        checkThread();
        Sequence s = open.remove(seq);
        if (s == null) throw new IllegalStateException("close of sequence " + seq + ", which is not open");
        free.addAll(s.blocks);
        usedBlocks = totalBlocks - free.size();
    }

    @Override
    public void close() {
        if (!open.isEmpty()) throw new IllegalStateException("model closed with sequences open: " + open.keySet());
        closed = true;
    }

    private float[] rowFor(Sequence s) {
        float[] row = logits(s.tokens);
        if (s.tokens.contains(poisonToken)) Arrays.fill(row, Float.NaN);
        return row;
    }

    private void append(Sequence s, int token) {
        if (token < 0 || token >= FakeTokenizer.VOCAB) throw new IllegalArgumentException("token " + token + " out of range");
        if (s.tokens.size() >= context) throw new IllegalStateException("sequence beyond the context of " + context);
        if (s.tokens.size() % blockSize == 0) {
            Integer block = free.poll();
            if (block == null) throw new IllegalStateException("out of KV blocks: the scheduler over-committed");
            s.blocks.add(block);
            usedBlocks = totalBlocks - free.size();
        }
        s.tokens.add(token);
    }

    private Sequence sequence(int seq) {
        Sequence s = open.get(seq);
        if (s == null) throw new IllegalStateException("sequence " + seq + " is not open");
        return s;
    }

    private void record(Call call) {
        synchronized (this) {
            calls.add(call);
        }
        if (stepDelayNanos > 0) LockSupport.parkNanos(stepDelayNanos);
    }

    private static void checkDistinct(int[] seqs) {
        Set<Integer> seen = new HashSet<>();
        for (int s : seqs) if (!seen.add(s)) throw new IllegalStateException("sequence " + s + " twice in one call: " + Arrays.toString(seqs));
    }

    private void checkThread() {
        if (closed) throw new IllegalStateException("model used after close");
        if (owner == null) owner = Thread.currentThread();
        else if (owner != Thread.currentThread()) throw new IllegalStateException("called from " + Thread.currentThread() + ", not " + owner);
    }

    /** The rows, each padded to {@link #vocabSize()} with the padding logits. */
    private float[][] padded(List<float[]> rows) {
        float[][] out = new float[rows.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = Arrays.copyOf(rows.get(i), vocabSize());
            Arrays.fill(out[i], FakeTokenizer.VOCAB, out[i].length, 100f);
        }
        return out;
    }
}
