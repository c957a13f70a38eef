package polar.serve;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;
import polar.model.Sampler;
import polar.model.Tokenizer;
import polar.serve.ApiError.ServeException;

/**
 * Continuous batching over a {@link BatchModel}: one thread drives the model in steps; requests join and leave
 * between steps.
 *
 * <p>Each step:
 * <ol>
 *   <li>Cancelled requests leave, closing their sequences (their KV blocks are free for this very step).</li>
 *   <li>Every decoding sequence gets one decode position. KV blocks grow on demand: when the free blocks (less
 *       those promised to prompts being prefilled) cannot cover this step's new blocks, the newest running
 *       request is preempted: its sequence is closed and it goes back to the front of the queue, to be
 *       recomputed (prompt plus the tokens it already generated, prefilled again) when blocks allow. Its output
 *       and random stream carry on unchanged, so preemption is invisible to the client except as delay.</li>
 *   <li>Prefill gets a token budget per step ({@link Config#prefillTokensPerStep}), so a long prompt is split
 *       into chunks over several steps while the running sequences keep decoding. Prompts in progress come
 *       first, then waiting requests are admitted in arrival order while the budget lasts, fewer than
 *       {@link BatchModel#maxBatch()} sequences run, and the KV blocks of the whole prompt (plus the first
 *       generated token) are free beyond what running prompts are promised. A request never skips the queue.</li>
 *   <li>The model decodes the batch and prefills the chunks; each sequence whose prompt is complete samples a
 *       token with its own parameters. Finished requests leave at once and free their blocks.</li>
 * </ol>
 * Nothing waits forever or fails silently: a request that could never fit (prompt plus {@code max_tokens}
 * beyond the context, or more blocks than the whole cache) is refused at {@link #submit}, a full queue refuses
 * with {@link ApiError#QUEUE_FULL}, and a model failure fails the requests of that step with an error.
 */
public final class Scheduler implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Scheduler.class.getName());

    /**
     * @param queueCapacity        most requests waiting for admission; beyond it {@link #submit} refuses
     * @param prefillTokensPerStep prompt tokens prefilled per step (over all sequences)
     */
    public record Config(int queueCapacity, int prefillTokensPerStep) {
        public Config {
            if (queueCapacity < 1) throw new IllegalArgumentException("queue capacity must be >= 1, got " + queueCapacity);
            if (prefillTokensPerStep < 1) throw new IllegalArgumentException("prefill tokens per step must be >= 1, got " + prefillTokensPerStep);
        }

        public static Config defaults() { return new Config(1024, 512); }
    }

    private final BatchModel model;
    private final Config config;
    private final int blockSize, sampledVocab, prefillTokensPerStep;
    private final Metrics metrics = new Metrics();
    private final Thread thread;
    private final CountDownLatch terminated = new CountDownLatch(1);

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    // Guarded by lock:
    private final ArrayDeque<Active> waiting = new ArrayDeque<>();
    private boolean signalled, draining;
    private long deadlineNanos;
    private long nextId;

    // Scheduler thread only, in admission order:
    private final List<Active> running = new ArrayList<>();

    public Scheduler(BatchModel model, Config config) {
        this.model = model;
        this.config = config;
        this.blockSize = model.blockSize();
        // Logits rows may be longer than the tokenizer's vocabulary (a padded embedding): ids past it are never sampled.
        this.sampledVocab = Math.min(model.vocabSize(), model.tokenizer().vocabSize());
        this.prefillTokensPerStep = Math.min(config.prefillTokensPerStep(), model.maxPrefillTokens());
        metrics.kvBlocksTotal = model.totalBlocks();
        this.thread = Thread.ofPlatform().name("polar-scheduler").start(this::loop);
    }

    public BatchModel model() { return model; }

    public Metrics metrics() { return metrics; }

    /**
     * Queues a request. Throws {@link ServeException} with {@link ApiError#CONTEXT_LENGTH_EXCEEDED},
     * {@link ApiError#EXCEEDS_KV_CACHE}, {@link ApiError#QUEUE_FULL} or {@link ApiError#SHUTTING_DOWN}.
     */
    public Generation submit(GenerationRequest request) {
        int total = request.prompt().length + request.maxTokens();
        if (total > model.contextLength())
            throw reject(ApiError.CONTEXT_LENGTH_EXCEEDED, "the prompt (" + request.prompt().length + " tokens) plus max_tokens ("
                    + request.maxTokens() + ") is " + total + " tokens, beyond the model's context of " + model.contextLength() + " tokens");
        if (blocksFor(total) > model.totalBlocks())
            throw reject(ApiError.EXCEEDS_KV_CACHE, "the prompt plus max_tokens needs " + blocksFor(total) + " KV blocks of "
                    + blockSize + " positions; the cache holds " + model.totalBlocks());
        lock.lock();
        try {
            if (draining) throw reject(ApiError.SHUTTING_DOWN, "the server is shutting down");
            if (waiting.size() >= config.queueCapacity())
                throw reject(ApiError.QUEUE_FULL, "the queue is full (" + config.queueCapacity() + " requests waiting); retry later");
            Generation generation = new Generation(nextId++, request, this::signal);
            waiting.addLast(new Active(generation, model.tokenizer()));
            signalLocked();
            return generation;
        } finally {
            lock.unlock();
        }
    }

    private ServeException reject(ApiError error, String message) {
        metrics.rejected(error);
        return error.with(message);
    }

    /** Stops admitting new requests; those already queued or running get {@code grace} to finish, then fail. */
    public void shutdown(Duration grace) {
        lock.lock();
        try {
            long deadline = System.nanoTime() + grace.toNanos();
            deadlineNanos = draining ? Math.min(deadlineNanos, deadline) : deadline;
            draining = true;
            signalLocked();
        } finally {
            lock.unlock();
        }
    }

    public boolean isShuttingDown() {
        lock.lock();
        try {
            return draining;
        } finally {
            lock.unlock();
        }
    }

    /** Waits until the scheduler thread has ended and the model is closed. */
    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        return terminated.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Shuts down at once: whatever is queued or running fails; the model is closed. */
    @Override
    public void close() {
        shutdown(Duration.ZERO);
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void signal() {
        lock.lock();
        try {
            signalLocked();
        } finally {
            lock.unlock();
        }
    }

    private void signalLocked() {
        signalled = true;
        wake.signal();
    }

    // ---- the scheduler thread ----

    private void loop() {
        try {
            while (true) {
                boolean worked;
                try {
                    worked = step();
                } catch (RuntimeException | Error e) {
                    // Never let the thread die and strand requests: fail what is in flight and carry on.
                    LOG.log(Level.SEVERE, "scheduler step failed", e);
                    failAll(List.copyOf(running), ApiError.INTERNAL.with("internal error: " + e));
                    worked = false;
                }
                updateGauges();
                if (!worked && !idle()) break;
            }
        } finally {
            try {
                model.close();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "closing the model failed", e);
            }
            terminated.countDown();
        }
    }

    /** Waits for work; returns false when the scheduler should end (draining and nothing left). */
    private boolean idle() {
        lock.lock();
        try {
            while (!signalled) {
                if (draining && running.isEmpty() && waiting.isEmpty()) return false;
                wake.await(100, TimeUnit.MILLISECONDS);
            }
            signalled = false;
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            lock.unlock();
        }
    }

    /** One step; returns false when there was nothing to run. */
    private boolean step() {
        reapCancelled();
        if (deadlinePassed()) {
            ServeException error = ApiError.SHUTTING_DOWN.with("the server shut down before this request finished");
            failAll(List.copyOf(running), error);
            for (Active a : drainWaiting()) fail(a, error);
            return false;
        }

        // Decode: one position for every sequence whose prompt is complete; preempt the newest while blocks lack.
        List<Active> decoding = new ArrayList<>();
        int owed = 0;
        for (Active a : running) {
            if (a.decoding()) decoding.add(a);
            else owed += a.owedBlocks();
        }
        int need = 0;
        for (Active a : decoding) if (a.cached % blockSize == 0) need++;
        while (need > model.freeBlocks() - owed) {
            Active victim = newestRunning();
            if (victim.decoding()) {
                decoding.remove(victim);
                if (victim.cached % blockSize == 0) need--;
            } else {
                owed -= victim.owedBlocks();
            }
            preempt(victim);
        }

        // Prefill: prompts in progress first, then admissions, within the token budget.
        int budget = prefillTokensPerStep;
        int free = model.freeBlocks() - need;
        List<BatchModel.PrefillChunk> chunks = new ArrayList<>();
        List<Active> chunkOwners = new ArrayList<>();
        for (Active a : running) {
            if (budget == 0) break;
            if (!a.decoding()) budget -= addChunk(a, budget, chunks, chunkOwners);
        }
        for (Active a = nextAdmissible(budget, free - owed); a != null; a = nextAdmissible(budget, free - owed)) {
            a.seq = model.open();
            if (!a.admittedBefore) metrics.promptTokens.add(a.toPrefill.length);
            a.admittedBefore = true;
            running.add(a);
            owed += a.owedBlocks();
            budget -= addChunk(a, budget, chunks, chunkOwners);
        }

        if (decoding.isEmpty() && chunks.isEmpty()) return false;
        metrics.steps.increment();
        if (!decoding.isEmpty()) decode(decoding);
        if (!chunks.isEmpty()) prefill(chunks, chunkOwners);
        return true;
    }

    /** Takes the head of the queue if it may be admitted now; fails it if it can never fit. */
    private Active nextAdmissible(int budget, int unpromisedBlocks) {
        if (budget == 0 || running.size() >= model.maxBatch()) return null;
        lock.lock();
        try {
            while (!waiting.isEmpty()) {
                Active head = waiting.peekFirst();
                int blocks = blocksFor(head.toPrefill.length + 1);
                if (blocks <= unpromisedBlocks) return waiting.pollFirst();
                if (!running.isEmpty() || blocks <= model.freeBlocks()) return null; // wait for blocks to free up
                // Nothing runs and it still does not fit: the cache is smaller than the model claims. Say so.
                waiting.pollFirst();
                fail(head, ApiError.EXCEEDS_KV_CACHE.with("the request needs " + blocks + " KV blocks but only "
                        + model.freeBlocks() + " are free with nothing running"));
            }
            return null;
        } finally {
            lock.unlock();
        }
    }

    private int addChunk(Active a, int budget, List<BatchModel.PrefillChunk> chunks, List<Active> owners) {
        int n = Math.min(a.toPrefill.length - a.cached, budget);
        boolean last = a.cached + n == a.toPrefill.length;
        chunks.add(new BatchModel.PrefillChunk(a.seq, Arrays.copyOfRange(a.toPrefill, a.cached, a.cached + n), last));
        owners.add(a);
        return n;
    }

    private void decode(List<Active> batch) {
        int[] seqs = new int[batch.size()], tokens = new int[batch.size()];
        for (int i = 0; i < seqs.length; i++) {
            seqs[i] = batch.get(i).seq;
            tokens[i] = batch.get(i).pending;
        }
        float[][] logits;
        try {
            logits = model.decode(seqs, tokens);
        } catch (RuntimeException e) {
            modelFailed("decode", batch, e);
            return;
        }
        metrics.decodeRows.add(seqs.length);
        for (int i = 0; i < seqs.length; i++) {
            Active a = batch.get(i);
            a.cached++;
            a.pending = -1;
            sampleAndAccept(a, logits[i]);
        }
    }

    private void prefill(List<BatchModel.PrefillChunk> chunks, List<Active> owners) {
        float[][] logits;
        try {
            logits = model.prefill(chunks);
        } catch (RuntimeException e) {
            modelFailed("prefill", owners, e);
            return;
        }
        int row = 0;
        for (int i = 0; i < chunks.size(); i++) {
            Active a = owners.get(i);
            a.cached += chunks.get(i).tokens().length;
            metrics.prefillTokens.add(chunks.get(i).tokens().length);
            if (chunks.get(i).wantLogits()) sampleAndAccept(a, logits[row++]);
        }
    }

    private void modelFailed(String call, List<Active> batch, RuntimeException e) {
        LOG.log(Level.SEVERE, "model " + call + " failed for " + batch.size() + " sequences", e);
        failAll(batch, ApiError.INTERNAL.with("the model failed during " + call + ": " + e.getMessage()));
    }

    private void sampleAndAccept(Active a, float[] logits) {
        int token;
        try {
            token = a.sampler.sample(logits, 0, sampledVocab);
        } catch (IllegalArgumentException badLogits) { // NaN: this sequence's numbers broke, not the batch
            fail(a, ApiError.INTERNAL.with("sampling failed: " + badLogits.getMessage()));
            return;
        }
        accept(a, token);
    }

    /** A sampled token: emit its text, or end the generation. */
    private void accept(Active a, int token) {
        if (a.firstTokenNanos == 0) a.firstTokenNanos = System.nanoTime();
        a.generated.add(token);
        metrics.generated(1);
        GenerationRequest req = a.generation.request();
        if ((!req.ignoreEos() && model.isEos(token)) || contains(req.stopTokens(), token)) {
            finish(a, FinishReason.STOP);
            return;
        }
        a.emit(a.stops.push(a.decoder.next(token)));
        if (a.stops.stopped()) finish(a, FinishReason.STOP);
        else if (a.generated.size >= req.maxTokens()) finish(a, FinishReason.LENGTH);
        else a.pending = token;
    }

    private void finish(Active a, FinishReason reason) {
        if (!a.stops.stopped()) {
            a.emit(a.stops.push(a.decoder.flush()));
            if (a.stops.stopped()) reason = FinishReason.STOP;
            else a.emit(a.stops.flush());
        }
        release(a);
        long end = System.nanoTime();
        a.generation.complete(new Completion(a.text.toString(), a.generated.toArray(), reason,
                a.generation.request().prompt().length, a.firstTokenNanos - a.generation.submittedNanos(), end - a.generation.submittedNanos()));
        metrics.finished(reason == FinishReason.STOP ? Metrics.Outcome.STOP : Metrics.Outcome.LENGTH);
    }

    /** Closes the sequence of a running request and takes it out of the batch. */
    private void release(Active a) {
        running.remove(a);
        if (a.seq >= 0) {
            int seq = a.seq;
            a.seq = -1;
            model.close(seq);
        }
    }

    private void preempt(Active a) {
        release(a);
        a.toPrefill = concat(a.generation.request().prompt(), a.generated.toArray());
        a.cached = 0;
        a.pending = -1;
        metrics.preemptions.increment();
        lock.lock();
        try {
            waiting.addFirst(a);
        } finally {
            lock.unlock();
        }
    }

    private void fail(Active a, ServeException error) {
        try {
            release(a);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "closing sequence of failed request " + a.generation.id() + " failed", e);
        }
        a.generation.fail(error);
        metrics.finished(Metrics.Outcome.ERROR);
    }

    private void failAll(List<Active> batch, ServeException error) {
        for (Active a : batch) fail(a, error);
    }

    private void reapCancelled() {
        for (Active a : List.copyOf(running)) {
            if (a.generation.isCancelled()) {
                release(a);
                cancelled(a);
            }
        }
        List<Active> gone = new ArrayList<>();
        lock.lock();
        try {
            waiting.removeIf(a -> a.generation.isCancelled() && gone.add(a));
        } finally {
            lock.unlock();
        }
        gone.forEach(this::cancelled);
    }

    private void cancelled(Active a) {
        a.generation.acknowledgeCancel();
        metrics.finished(Metrics.Outcome.CANCELLED);
    }

    private boolean deadlinePassed() {
        lock.lock();
        try {
            return draining && System.nanoTime() - deadlineNanos >= 0;
        } finally {
            lock.unlock();
        }
    }

    private List<Active> drainWaiting() {
        lock.lock();
        try {
            List<Active> all = new ArrayList<>(waiting);
            waiting.clear();
            return all;
        } finally {
            lock.unlock();
        }
    }

    private Active newestRunning() {
        Active newest = running.getFirst();
        for (Active a : running) if (a.generation.id() > newest.generation.id()) newest = a;
        return newest;
    }

    private void updateGauges() {
        lock.lock();
        try {
            metrics.queueLength = waiting.size();
        } finally {
            lock.unlock();
        }
        metrics.running = running.size();
        metrics.kvBlocksUsed = model.totalBlocks() - model.freeBlocks();
    }

    private int blocksFor(int positions) { return (positions + blockSize - 1) / blockSize; }

    private static boolean contains(int[] values, int value) {
        for (int v : values) if (v == value) return true;
        return false;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** A request's state on the scheduler thread. */
    private final class Active {
        final Generation generation;
        final Sampler sampler;
        final Tokenizer.StreamDecoder decoder;
        final StopMatcher stops;
        final IntList generated = new IntList();
        final StringBuilder text = new StringBuilder();
        /** Tokens to prefill: the prompt, or after a preemption the prompt and the tokens generated so far. */
        int[] toPrefill;
        /** The open sequence, or -1 while waiting. */
        int seq = -1;
        /** Positions in the KV cache. */
        int cached;
        /** The last sampled token, not yet in the cache (decoding), or -1 (prefilling or waiting). */
        int pending = -1;
        long firstTokenNanos;
        /** Admitted once already (and preempted since). */
        boolean admittedBefore;

        Active(Generation generation, Tokenizer tokenizer) {
            this.generation = generation;
            GenerationRequest req = generation.request();
            this.sampler = req.sampling().sampler();
            this.decoder = tokenizer.streamDecoder();
            this.stops = new StopMatcher(req.stop());
            this.toPrefill = req.prompt();
        }

        boolean decoding() { return pending >= 0; }

        /** Blocks its prompt still needs (it holds blocks for {@code cached} positions). */
        int owedBlocks() { return blocksFor(toPrefill.length) - blocksFor(cached); }

        void emit(String piece) {
            if (piece.isEmpty()) return;
            text.append(piece);
            generation.emit(piece);
        }
    }

    /** A growable int array. */
    private static final class IntList {
        int[] values = new int[16];
        int size;

        void add(int v) {
            if (size == values.length) values = Arrays.copyOf(values, size * 2);
            values[size++] = v;
        }

        int[] toArray() { return Arrays.copyOf(values, size); }
    }
}
