package polar.serve;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import polar.serve.ApiError.ServeException;

/**
 * A submitted request as its caller sees it: the final {@link #result()}, and for streaming requests the text
 * as it is produced ({@link #nextEvent()}). {@link #cancel()} frees its sequence at the scheduler's next step.
 */
public final class Generation {

    /** What a streaming consumer receives, in order: any number of {@link Text}, then one {@link Done} or {@link Failed}. */
    public sealed interface Event permits Text, Done, Failed {}

    /** New output text (never empty). */
    public record Text(String text) implements Event {}

    public record Done(Completion completion) implements Event {}

    public record Failed(ServeException error) implements Event {}

    private final long id;
    private final GenerationRequest request;
    private final long submittedNanos = System.nanoTime();
    private final CompletableFuture<Completion> result = new CompletableFuture<>();
    private final BlockingQueue<Event> events;
    private final Runnable wakeScheduler;
    private volatile boolean cancelled;

    Generation(long id, GenerationRequest request, Runnable wakeScheduler) {
        this.id = id;
        this.request = request;
        this.events = request.stream() ? new LinkedBlockingQueue<>() : null;
        this.wakeScheduler = wakeScheduler;
    }

    /** Order of submission: smaller ids came first. */
    public long id() { return id; }

    public GenerationRequest request() { return request; }

    long submittedNanos() { return submittedNanos; }

    /** Completes with the result, exceptionally with a {@link ServeException}, or is cancelled. */
    public CompletableFuture<Completion> result() { return result; }

    /** The next event of a streaming request, waiting for it. */
    public Event nextEvent() throws InterruptedException {
        requireStream();
        return events.take();
    }

    /** The next event, or null after {@code timeout}. */
    public Event nextEvent(long timeout, TimeUnit unit) throws InterruptedException {
        requireStream();
        return events.poll(timeout, unit);
    }

    /** Stops the generation; the scheduler closes its sequence (freeing its KV blocks) at its next step. */
    public void cancel() {
        if (result.isDone()) return;
        cancelled = true;
        wakeScheduler.run();
    }

    public boolean isCancelled() { return cancelled; }

    void emit(String text) {
        if (events != null && !text.isEmpty()) events.add(new Text(text));
    }

    void complete(Completion completion) {
        if (events != null) events.add(new Done(completion));
        result.complete(completion);
    }

    void fail(ServeException error) {
        if (events != null) events.add(new Failed(error));
        result.completeExceptionally(error);
    }

    void acknowledgeCancel() {
        result.completeExceptionally(new CancellationException("generation " + id + " cancelled"));
    }

    private void requireStream() {
        if (events == null) throw new IllegalStateException("generation " + id + " was not submitted with stream = true");
    }
}
