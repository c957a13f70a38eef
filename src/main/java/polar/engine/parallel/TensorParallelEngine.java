package polar.engine.parallel;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;
import polar.engine.BatchEngine;
import polar.engine.Engine;
import polar.engine.EngineOptions;
import polar.engine.KvCache;
import polar.engine.Sequence;
import polar.engine.sparsity.PolarSparsity;
import polar.model.Model;
import polar.model.ModelConfig;
import polar.tornado.layers.LayerGraphBuilder;
import polar.tornado.runtime.Backend;

/**
 * A model split over {@code N} devices, Megatron-style ({@link Sharding}): one {@link Engine} per
 * rank over the rank's model, on the rank's device, each driven by its own thread. Every layer's
 * attention and MLP blocks end in an all-reduce of the residual stream ({@link
 * TensorParallelLayerBuilder}, {@link RankBackend}), so every rank holds the whole hidden state
 * between blocks and computes the same logits; rank 0's are returned. The KV cache is split by
 * heads, since each rank caches only its own KV heads.
 *
 * <p>A step that fails on any rank aborts the group (the others would wait in their next
 * all-reduce forever) and leaves this engine failed: later calls throw.
 */
public final class TensorParallelEngine implements BatchEngine {
    private final ModelConfig config;
    private final List<Engine> engines;
    private final List<Communicator> communicators;
    private final ExecutorService threads;
    /** Each live sequence (rank 0's) with its twins on every rank, in rank order. */
    private final Map<Sequence, List<Sequence>> twins = new IdentityHashMap<>();
    /** Each rank's Polar Sparsity buffers (none when dense), freed after the engines. */
    private final List<RankSparsity> rankSparsity = new ArrayList<>();
    private volatile Throwable failure;
    private boolean closed;

    /** Over {@code backends.size()} devices (rank {@code r} on {@code backends.get(r)}), ranks in this JVM. */
    public static TensorParallelEngine local(List<Backend> backends, Model model, EngineOptions options) {
        return new TensorParallelEngine(backends, LocalCommunicator.group(backends.size()), model, options);
    }

    /**
     * Dense, or with Polar Sparsity where {@code options} has it: each decode token's attention units
     * are chosen over the whole model on every rank (the same choice everywhere), each rank attends
     * over the chosen units that are its own, and each rank's MLP keeps its share of k over its own
     * neurons ({@link RankSparsity}).
     *
     * @param backends       rank {@code r}'s device; stays open when this engine closes
     * @param communicators  rank {@code r}'s end of the group ({@code communicators.get(r).rank() == r})
     */
    public TensorParallelEngine(List<Backend> backends, List<Communicator> communicators, Model model, EngineOptions options) {
        this(backends, communicators, model, options, null, true);
    }

    /**
     * With the layer builder each rank's graphs are made from (dense options only: with Polar
     * Sparsity the ranks use builders of their own).
     */
    public TensorParallelEngine(List<Backend> backends, List<Communicator> communicators, Model model, EngineOptions options,
                                Engine.BuilderFactory builders) {
        this(backends, communicators, model, options, builders, false);
    }

    private TensorParallelEngine(List<Backend> backends, List<Communicator> communicators, Model model, EngineOptions options,
                                 Engine.BuilderFactory builders, boolean ownBuilders) {
        int n = backends.size();
        if (communicators.size() != n) throw new IllegalArgumentException(n + " backends but " + communicators.size() + " communicators");
        for (int r = 0; r < n; r++) {
            Communicator c = communicators.get(r);
            if (c.rank() != r || c.size() != n) throw new IllegalArgumentException("communicator " + r + " is rank " + c.rank() + " of " + c.size() + ", expected rank " + r + " of " + n);
        }
        if (!ownBuilders && options.sparsity() != null) throw new IllegalArgumentException("Polar Sparsity over ranks uses the ranks' own layer builders; give no builder factory");
        PolarSparsity sparsity = options.sparsity();
        if (sparsity != null) sparsity.checkFits(model.config(), "sparsity");
        this.config = model.config();
        this.communicators = List.copyOf(communicators);
        List<Model> shards = Sharding.split(model, n);
        List<Engine> made = new ArrayList<>(n);
        try {
            for (int r = 0; r < n; r++) {
                RankBackend rank = new RankBackend(backends.get(r), communicators.get(r));
                Model shard = shards.get(r);
                int index = r;
                // The ranks' engines run dense as far as they know; the sparse buffers are the rank builders'.
                made.add(new Engine(rank, shard, options.withSparsity(null), (shape, precision, weights, kv, step, partitionSize) -> {
                    LayerGraphBuilder inner;
                    if (sparsity != null) {
                        RankSparsity buffers = new RankSparsity(rank, precision, weights, sparsity, shard, shape, index, n, step.maxTokens(), options.maxSequences());
                        rankSparsity.add(buffers);
                        inner = new RankSparseBuilder(shape, precision, weights, kv, step, partitionSize, buffers);
                    } else {
                        Engine.BuilderFactory factory = builders != null ? builders : LayerGraphBuilder::new;
                        inner = factory.create(shape, precision, weights, kv, step, partitionSize);
                    }
                    return new TensorParallelLayerBuilder(inner, rank, shape, precision, weights, kv, step, partitionSize);
                }));
            }
        } catch (RuntimeException | Error e) {
            made.forEach(Engine::close);
            rankSparsity.forEach(RankSparsity::close);
            throw e;
        }
        this.engines = List.copyOf(made);
        this.threads = Executors.newFixedThreadPool(n, Thread.ofPlatform().daemon().name("polar-tp-rank-", 0).factory());
    }

    /** The whole model's config. */
    @Override
    public ModelConfig config() { return config; }

    public int ranks() { return engines.size(); }

    /** Rank {@code r}'s Polar Sparsity buffers, or null when dense (tests look at the selections). */
    RankSparsity sparsity(int rank) {
        return rankSparsity.isEmpty() ? null : rankSparsity.get(rank);
    }

    /** Rank {@code r}'s engine (its config is the rank's share of the model). */
    public Engine engine(int rank) { return engines.get(rank); }

    @Override
    public int maxContext() { return engines.getFirst().maxContext(); }

    @Override
    public int maxSequences() { return engines.getFirst().maxSequences(); }

    /** Rank 0's KV cache; every rank's holds the same blocks and rows (of its own KV heads). */
    @Override
    public KvCache cache() { return engines.getFirst().cache(); }

    /**
     * A new empty sequence, holding a KV cache row on every rank until {@link #release}d. The
     * handle is rank 0's sequence; the other ranks' twins are kept here.
     */
    @Override
    public Sequence newSequence() {
        checkUsable();
        List<Sequence> parts = new ArrayList<>(engines.size());
        try {
            for (Engine e : engines) parts.add(e.newSequence());
        } catch (RuntimeException ex) {
            for (int r = 0; r < parts.size(); r++) engines.get(r).release(parts.get(r));
            throw ex;
        }
        twins.put(parts.getFirst(), parts);
        return parts.getFirst();
    }

    /** Frees the sequence's KV cache blocks and row on every rank. */
    @Override
    public void release(Sequence s) {
        List<Sequence> parts = twins.remove(s);
        if (parts == null) {
            if (s.released()) return;
            throw new IllegalArgumentException(s + " is not a sequence of this tensor-parallel engine");
        }
        for (int r = 0; r < engines.size(); r++) engines.get(r).release(parts.get(r));
    }

    /** {@link Engine#prefill} on every rank; the logits after each prompt. */
    @Override
    public float[][] prefill(List<Sequence> sequences, List<int[]> prompts) {
        List<List<Sequence>> perRank = twinsOf(sequences);
        return onEveryRank(r -> engines.get(r).prefill(perRank.get(r), prompts));
    }

    /** {@link Engine#decode} on every rank; the logits after each token. */
    @Override
    public float[][] decode(List<Sequence> sequences, int[] tokens) {
        List<List<Sequence>> perRank = twinsOf(sequences);
        return onEveryRank(r -> engines.get(r).decode(perRank.get(r), tokens));
    }

    /** {@link Engine#step} on every rank. */
    @Override
    public float[][] step(List<Sequence> sequences, List<int[]> tokens) {
        List<List<Sequence>> perRank = twinsOf(sequences);
        return onEveryRank(r -> engines.get(r).step(perRank.get(r), tokens));
    }

    /** Per rank, the twins of {@code sequences} (rank 0's are the handles themselves); checked here, before any rank starts. */
    private List<List<Sequence>> twinsOf(List<Sequence> sequences) {
        checkUsable();
        List<List<Sequence>> result = new ArrayList<>();
        for (int r = 0; r < engines.size(); r++) result.add(new ArrayList<>(sequences.size()));
        for (Sequence s : sequences) {
            List<Sequence> parts = twins.get(s);
            if (parts == null) throw new IllegalArgumentException(s + " is not a live sequence of this tensor-parallel engine");
            for (int r = 0; r < parts.size(); r++) result.get(r).add(parts.get(r));
        }
        return result;
    }

    /** The longest time any rank has spent building and compiling graphs (the ranks compile at once). */
    @Override
    public long compileNanos() {
        return engines.stream().mapToLong(Engine::compileNanos).max().orElse(0);
    }

    /** Runs {@code work} for every rank on the rank's thread; rank 0's result. */
    private float[][] onEveryRank(IntFunction<float[][]> work) {
        checkUsable();
        List<Future<float[][]>> futures = new ArrayList<>();
        for (int r = 0; r < engines.size(); r++) {
            int rank = r;
            futures.add(threads.submit(() -> {
                try {
                    return work.apply(rank);
                } catch (RuntimeException | Error e) {
                    for (Communicator c : communicators) c.abort(e);
                    throw e;
                }
            }));
        }
        Throwable first = null;
        float[][] result = null;
        for (int r = 0; r < futures.size(); r++) {
            try {
                float[][] out = futures.get(r).get();
                if (r == 0) result = out;
            } catch (ExecutionException e) {
                // The rank that failed first is the cause; the others report the aborted group.
                if (first == null || first instanceof CommunicatorException) first = e.getCause();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (first == null) first = e;
            }
        }
        if (first != null) {
            failure = first;
            if (first instanceof RuntimeException re) throw re;
            if (first instanceof Error er) throw er;
            throw new IllegalStateException(first);
        }
        return result;
    }

    private void checkUsable() {
        if (closed) throw new IllegalStateException("tensor-parallel engine was closed");
        Throwable f = failure;
        if (f != null) throw new IllegalStateException("tensor-parallel engine failed in an earlier step: " + f, f);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        threads.shutdownNow();
        RuntimeException problem = null;
        List<AutoCloseable> parts = new ArrayList<>(engines);
        parts.addAll(rankSparsity);
        for (AutoCloseable part : parts) {
            try {
                part.close();
            } catch (Exception ex) {
                RuntimeException re = ex instanceof RuntimeException r ? r : new IllegalStateException(ex);
                if (problem == null) problem = re;
                else problem.addSuppressed(re);
            }
        }
        if (problem != null) throw problem;
    }
}
