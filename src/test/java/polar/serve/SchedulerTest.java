package polar.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import polar.serve.ApiError.ServeException;

@Timeout(value = 20, unit = TimeUnit.SECONDS)
class SchedulerTest {
    private static final FakeTokenizer TOKENIZER = new FakeTokenizer();
    private static final Scheduler.Config CONFIG = new Scheduler.Config(64, 64);

    static int[] prompt(String text) { return TOKENIZER.encode(text, true); }

    static GenerationRequest greedy(String text, int maxTokens, boolean ignoreEos) {
        return new GenerationRequest(prompt(text), maxTokens, SamplingParams.greedy(), List.of(), new int[0], ignoreEos, false);
    }

    static GenerationRequest sampled(String text, int maxTokens, long seed) {
        return new GenerationRequest(prompt(text), maxTokens, new SamplingParams(1f, 0.9f, 20, seed), List.of(), new int[0], true, false);
    }

    static Completion await(Generation g) throws Exception {
        return g.result().get(10, TimeUnit.SECONDS);
    }

    static void waitUntil(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
            Thread.sleep(2);
        }
    }

    /** Text the tokens decode to: what the client must see when no stop sequence cut it. */
    static String textOf(int[] tokens) { return TOKENIZER.decode(tokens); }

    @Test
    void logitsBeyondTheTokenizersVocabularyAreNeverSampled() throws Exception {
        FakeBatchModel model = FakeBatchModel.roomy().padVocab(8); // padding logits beat every real one
        try (Scheduler scheduler = new Scheduler(model, CONFIG)) {
            GenerationRequest greedy = greedy("once upon a time", 20, true);
            assertArrayEquals(FakeBatchModel.referenceGreedy(greedy.prompt(), 20, true), await(scheduler.submit(greedy)).tokens());
            for (int t : await(scheduler.submit(sampled("the cat sat", 20, 3))).tokens()) assertTrue(t < FakeTokenizer.VOCAB, "sampled " + t);
        }
    }

    @Test
    void greedyGenerationEqualsTheReference() throws Exception {
        FakeBatchModel model = FakeBatchModel.roomy();
        try (Scheduler scheduler = new Scheduler(model, CONFIG)) {
            for (String text : List.of("once upon a time", "the cat sat", "hello")) {
                GenerationRequest request = greedy(text, 40, false);
                Completion c = await(scheduler.submit(request));
                int[] expected = FakeBatchModel.referenceGreedy(request.prompt(), 40, false);
                assertArrayEquals(expected, c.tokens(), text);
                assertEquals(textOf(expected), c.text());
                boolean eos = expected[expected.length - 1] == FakeTokenizer.EOS;
                assertEquals(eos ? FinishReason.STOP : FinishReason.LENGTH, c.finishReason());
                assertEquals(request.prompt().length, c.promptTokens());
            }
            waitUntil("blocks freed", () -> model.usedBlocks() == 0);
        }
        assertTrue(model.isClosed(), "closing the scheduler releases the model");
    }

    @Test
    void sixteenConcurrentRequestsShareDecodeSteps() throws Exception {
        FakeBatchModel model = FakeBatchModel.roomy().stepDelay(200);
        try (Scheduler scheduler = new Scheduler(model, CONFIG)) {
            List<Generation> generations = new ArrayList<>();
            for (int i = 0; i < 16; i++) generations.add(scheduler.submit(greedy("request number " + i, 24, true)));
            for (int i = 0; i < 16; i++) {
                Completion c = await(generations.get(i));
                assertArrayEquals(FakeBatchModel.referenceGreedy(prompt("request number " + i), 24, true), c.tokens());
            }
        }
        int[] sizes = model.decodeBatchSizes();
        long batched = Arrays.stream(sizes).filter(s -> s > 1).count();
        System.out.printf("16 requests: %d decode steps, %d with more than one sequence, largest %d%n",
                sizes.length, batched, Arrays.stream(sizes).max().orElse(0));
        assertTrue(batched > sizes.length * 0.8, "most decode steps batch several sequences: " + Arrays.toString(sizes));
        assertEquals(16, Arrays.stream(sizes).max().orElse(0));
    }

    @Test
    void aNewRequestJoinsRunningOnes() throws Exception {
        FakeBatchModel model = FakeBatchModel.roomy().stepDelay(300);
        try (Scheduler scheduler = new Scheduler(model, CONFIG)) {
            List<Generation> first = new ArrayList<>();
            for (int i = 0; i < 4; i++) first.add(scheduler.submit(greedy("long request " + i, 150, true)));
            waitUntil("the first four decode together", () -> Arrays.stream(model.decodeBatchSizes()).anyMatch(s -> s == 4));
            GenerationRequest late = greedy("a late request", 10, true);
            Completion c = await(scheduler.submit(late));
            assertArrayEquals(FakeBatchModel.referenceGreedy(late.prompt(), 10, true), c.tokens());
            assertTrue(first.stream().noneMatch(g -> g.result().isDone()), "the first four are still running");
            assertTrue(Arrays.stream(model.decodeBatchSizes()).anyMatch(s -> s == 5), "the late request decoded in the same steps as the others");
            for (Generation g : first) await(g);
        }
    }

    @Test
    void longPromptsArePrefilledInChunksWhileOthersDecode() throws Exception {
        FakeBatchModel model = FakeBatchModel.roomy().stepDelay(200);
        try (Scheduler scheduler = new Scheduler(model, new Scheduler.Config(8, 16))) {
            Generation running = scheduler.submit(greedy("short", 100, true));
            waitUntil("decoding", () -> model.decodeBatchSizes().length > 2);
            StringBuilder longText = new StringBuilder();
            for (int i = 0; i < 99; i++) longText.append(" word").append(i);
            GenerationRequest longRequest = greedy(longText.toString(), 5, true);
            Completion c = await(scheduler.submit(longRequest));
            assertArrayEquals(FakeBatchModel.referenceGreedy(longRequest.prompt(), 5, true), c.tokens());
            await(running);
        }
        // The 100-token prompt went in chunks of at most 16, and every chunk's step also decoded the other sequence.
        List<FakeBatchModel.Call> calls = model.calls();
        int chunks = 0;
        for (int i = 0; i < calls.size(); i++) {
            FakeBatchModel.Call call = calls.get(i);
            if (call.decode() || call.seqs()[0] != 1) continue; // the long prompt is the second sequence opened
            assertTrue(call.tokens()[0] <= 16, "chunk of " + call.tokens()[0]);
            assertTrue(calls.get(i - 1).decode(), "a decode step precedes prefill chunk " + chunks);
            chunks++;
        }
        assertEquals(7, chunks, "100 prompt tokens in chunks of 16");
    }

    @Test
    void preemptionUnderMemoryPressureChangesNoOutput() throws Exception {
        // 24 blocks of 4 = 96 positions for 8 requests that each grow to ~50: they cannot all run at once.
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < 8; i++) requests.add(i % 2 == 0 ? greedy("pressure " + i, 40, true) : sampled("pressure " + i, 40, 1000 + i));
        List<Completion> tight = runAll(new FakeBatchModel(256, 8, 4, 24), requests);
        List<Completion> roomy = runAll(FakeBatchModel.roomy(), requests);
        for (int i = 0; i < requests.size(); i++) {
            assertArrayEquals(roomy.get(i).tokens(), tight.get(i).tokens(), "request " + i);
            assertEquals(roomy.get(i).text(), tight.get(i).text());
            if (i % 2 == 0) assertArrayEquals(FakeBatchModel.referenceGreedy(requests.get(i).prompt(), 40, true), tight.get(i).tokens());
        }
    }

    private static List<Completion> runAll(FakeBatchModel model, List<GenerationRequest> requests) throws Exception {
        List<Completion> out = new ArrayList<>();
        try (Scheduler scheduler = new Scheduler(model, CONFIG)) {
            List<Generation> gens = new ArrayList<>();
            for (GenerationRequest r : requests) gens.add(scheduler.submit(r));
            for (Generation g : gens) out.add(await(g));
            waitUntil("blocks freed", () -> model.usedBlocks() == 0);
            if (model.totalBlocks() < 100) assertTrue(scheduler.metrics().preemptions() > 0, "the tight cache preempted");
            else assertEquals(0, scheduler.metrics().preemptions());
        }
        return out;
    }

    @Test
    void seedsRepeatAndDiffer() throws Exception {
        try (Scheduler scheduler = new Scheduler(FakeBatchModel.roomy(), CONFIG)) {
            Completion a = await(scheduler.submit(sampled("seeded", 32, 7)));
            Completion b = await(scheduler.submit(sampled("seeded", 32, 7)));
            Completion c = await(scheduler.submit(sampled("seeded", 32, 8)));
            assertArrayEquals(a.tokens(), b.tokens(), "same seed, same tokens");
            assertNotEquals(Arrays.toString(a.tokens()), Arrays.toString(c.tokens()), "another seed, other tokens");
            GenerationRequest topK1 = new GenerationRequest(prompt("seeded"), 32, new SamplingParams(1f, 1f, 1, 3), List.of(), new int[0], true, false);
            assertArrayEquals(FakeBatchModel.referenceGreedy(prompt("seeded"), 32, true), await(scheduler.submit(topK1)).tokens(), "top_k 1 is greedy");
        }
    }

    @Test
    void stopSequencesEndTheOutputBeforeThem() throws Exception {
        try (Scheduler scheduler = new Scheduler(FakeBatchModel.roomy(), CONFIG)) {
            Completion full = await(scheduler.submit(greedy("stop here", 30, true)));
            String[] words = full.text().trim().split(" ");
            String stop = " " + words[5] + " " + words[6].charAt(0); // spans tokens and ends inside one
            String expected = full.text().substring(0, full.text().indexOf(stop));
            GenerationRequest withStop = new GenerationRequest(prompt("stop here"), 30, SamplingParams.greedy(), List.of("zzz", stop), new int[0], true, true);
            Generation g = scheduler.submit(withStop);
            StringBuilder streamed = new StringBuilder();
            for (Generation.Event e = g.nextEvent(); ; e = g.nextEvent()) {
                if (e instanceof Generation.Text t) streamed.append(t.text());
                else {
                    Completion c = assertInstanceOf(Generation.Done.class, e).completion();
                    assertEquals(expected, c.text());
                    assertEquals(FinishReason.STOP, c.finishReason());
                    assertTrue(c.tokens().length < 30);
                    break;
                }
            }
            assertEquals(expected, streamed.toString(), "the stream shows no part of the stop sequence");
            // A stop token (a chat template's end of turn) ends the output like EOS.
            int[] tokens = full.tokens();
            int first = 0;
            while (tokens[first] != tokens[3]) first++;
            GenerationRequest stopToken = new GenerationRequest(prompt("stop here"), 30, SamplingParams.greedy(), List.of(), new int[] {tokens[3]}, true, false);
            Completion c = await(scheduler.submit(stopToken));
            assertArrayEquals(Arrays.copyOf(tokens, first + 1), c.tokens());
            assertEquals(textOf(Arrays.copyOf(tokens, first)), c.text());
            assertEquals(FinishReason.STOP, c.finishReason());
        }
    }

    @Test
    void cancellingFreesTheSequenceAtOnce() throws Exception {
        FakeBatchModel model = FakeBatchModel.roomy().stepDelay(1000);
        try (Scheduler scheduler = new Scheduler(model, CONFIG)) {
            GenerationRequest request = new GenerationRequest(prompt("cancel me"), 200, SamplingParams.greedy(), List.of(), new int[0], true, true);
            Generation g = scheduler.submit(request);
            for (int i = 0; i < 10; i++) assertInstanceOf(Generation.Text.class, g.nextEvent());
            assertTrue(model.usedBlocks() > 0);
            long start = System.nanoTime();
            g.cancel();
            waitUntil("blocks freed", () -> model.usedBlocks() == 0);
            assertTrue(System.nanoTime() - start < TimeUnit.MILLISECONDS.toNanos(500), "freed within a step or two");
            assertThrows(CancellationException.class, () -> g.result().get(5, TimeUnit.SECONDS));
            waitUntil("counted", () -> scheduler.metrics().finishedCount(Metrics.Outcome.CANCELLED) == 1);
        }
    }

    @Test
    void requestsThatCanNeverFitAreRefused() {
        try (Scheduler scheduler = new Scheduler(new FakeBatchModel(256, 4, 4, 20), CONFIG)) {
            ServeException tooLong = assertThrows(ServeException.class, () -> scheduler.submit(greedy("x", 256, false)));
            assertEquals(ApiError.CONTEXT_LENGTH_EXCEEDED, tooLong.error);
            ServeException tooBig = assertThrows(ServeException.class, () -> scheduler.submit(greedy("x", 100, false)));
            assertEquals(ApiError.EXCEEDS_KV_CACHE, tooBig.error, tooBig.getMessage());
        }
    }

    @Test
    void aFullQueueRefusesAndShutdownStopsAdmitting() throws Exception {
        FakeBatchModel model = new FakeBatchModel(256, 1, 4, 64).stepDelay(1000);
        try (Scheduler scheduler = new Scheduler(model, new Scheduler.Config(2, 64))) {
            Generation running = scheduler.submit(greedy("first", 60, true));
            waitUntil("the first runs", () -> scheduler.metrics().running() == 1 && scheduler.metrics().queueLength() == 0);
            Generation queued1 = scheduler.submit(greedy("second", 5, true));
            Generation queued2 = scheduler.submit(greedy("third", 5, true));
            ServeException full = assertThrows(ServeException.class, () -> scheduler.submit(greedy("fourth", 5, true)));
            assertEquals(ApiError.QUEUE_FULL, full.error);

            scheduler.shutdown(Duration.ofSeconds(10));
            ServeException closed = assertThrows(ServeException.class, () -> scheduler.submit(greedy("fifth", 5, true)));
            assertEquals(ApiError.SHUTTING_DOWN, closed.error);
            // Accepted requests still finish within the grace period.
            assertEquals(60, await(running).tokens().length);
            assertEquals(5, await(queued1).tokens().length);
            assertEquals(5, await(queued2).tokens().length);
            assertTrue(scheduler.awaitTermination(Duration.ofSeconds(5)));
            assertTrue(model.isClosed());
        }
    }

    @Test
    void shutdownFailsWhatOutlastsTheGracePeriod() throws Exception {
        FakeBatchModel model = FakeBatchModel.roomy().stepDelay(1000);
        Scheduler scheduler = new Scheduler(model, CONFIG);
        Generation g = scheduler.submit(greedy("endless", 250, true));
        waitUntil("running", () -> model.usedBlocks() > 0);
        scheduler.shutdown(Duration.ofMillis(50));
        ExecutionException e = assertThrows(ExecutionException.class, () -> g.result().get(5, TimeUnit.SECONDS));
        assertEquals(ApiError.SHUTTING_DOWN, assertInstanceOf(ServeException.class, e.getCause()).error);
        assertTrue(scheduler.awaitTermination(Duration.ofSeconds(5)));
        assertEquals(0, model.usedBlocks());
        assertTrue(model.isClosed());
    }

    @Test
    void nanLogitsFailOnlyTheirOwnRequest() throws Exception {
        FakeBatchModel model = FakeBatchModel.roomy().stepDelay(200);
        model.poison(FakeTokenizer.FIRST_WORD + 60);
        try (Scheduler scheduler = new Scheduler(model, CONFIG)) {
            GenerationRequest healthy = greedy("healthy", 20, true);
            Generation good = scheduler.submit(healthy);
            Generation bad = scheduler.submit(new GenerationRequest(new int[] {FakeTokenizer.BOS, FakeTokenizer.FIRST_WORD + 60}, 20,
                    SamplingParams.greedy(), List.of(), new int[0], true, false));
            ExecutionException e = assertThrows(ExecutionException.class, () -> bad.result().get(5, TimeUnit.SECONDS));
            assertTrue(e.getCause().getMessage().contains("NaN"), e.getCause().getMessage());
            assertArrayEquals(FakeBatchModel.referenceGreedy(healthy.prompt(), 20, true), await(good).tokens());
            waitUntil("blocks freed", () -> model.usedBlocks() == 0);
        }
    }

    @Test
    void aModelFailureFailsThatStepsRequestsAndServingGoesOn() throws Exception {
        FakeBatchModel model = FakeBatchModel.roomy().stepDelay(500);
        try (Scheduler scheduler = new Scheduler(model, CONFIG)) {
            Generation g = scheduler.submit(greedy("doomed", 100, true));
            waitUntil("decoding", () -> model.decodeBatchSizes().length > 0);
            model.failNextDecode(new IllegalStateException("device lost"));
            ExecutionException e = assertThrows(ExecutionException.class, () -> g.result().get(5, TimeUnit.SECONDS));
            ServeException error = assertInstanceOf(ServeException.class, e.getCause());
            assertEquals(ApiError.INTERNAL, error.error);
            assertTrue(error.getMessage().contains("device lost"), error.getMessage());
            waitUntil("blocks freed", () -> model.usedBlocks() == 0);
            GenerationRequest next = greedy("after the failure", 8, true);
            assertArrayEquals(FakeBatchModel.referenceGreedy(next.prompt(), 8, true), await(scheduler.submit(next)).tokens());
        }
    }
}
