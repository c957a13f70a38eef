package polar.engine.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import polar.runtime.jvm.JvmBackend;
import polar.tornado.graph.Buffer;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;

/** Ranks as threads of one JVM: every rank gets the same, exactly rounded, rank-ordered sums; failures reach every rank. */
class LocalCommunicatorTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private final ExecutorService threads = Executors.newCachedThreadPool();

    @AfterEach
    void stop() {
        threads.shutdownNow();
    }

    /** Runs {@code work} as every rank at once; each rank's result. */
    private <T> List<T> onRanks(int n, IntFunction<T> work) throws Exception {
        List<Future<T>> futures = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            int rank = r;
            futures.add(threads.submit(() -> work.apply(rank)));
        }
        List<T> results = new ArrayList<>();
        for (Future<T> f : futures) results.add(f.get());
        return results;
    }

    @Test
    void float32SumsAreRankOrderedRoundedOnceAndIdenticalOnEveryRank() throws Exception {
        long seed = new Random().nextLong();
        Random random = new Random(seed);
        int ranks = 3;
        List<Communicator> group = LocalCommunicator.group(ranks);
        for (int count : new int[] {1, 7, 1000, 3}) { // several rounds reuse the group
            float[][] inputs = new float[ranks][count];
            for (float[] in : inputs) for (int i = 0; i < count; i++) in[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(7) - 3));
            List<float[]> out = onRanks(ranks, r -> {
                MemorySegment data = Arena.ofAuto().allocate(4L * count);
                MemorySegment.copy(inputs[r], 0, data, F32, 0, count);
                group.get(r).allReduceSum(data, ElementType.F32, count);
                return data.toArray(ValueLayout.JAVA_FLOAT);
            });
            float[] expected = new float[count];
            for (int i = 0; i < count; i++) expected[i] = (float) ((double) inputs[0][i] + inputs[1][i] + inputs[2][i]);
            for (int r = 0; r < ranks; r++) assertArrayEquals(expected, out.get(r), "rank " + r + ", " + count + " values, seed " + seed);
        }
    }

    @Test
    void float16Sums() throws Exception {
        long seed = new Random().nextLong();
        Random random = new Random(seed);
        int ranks = 4, count = 257;
        short[][] inputs = new short[ranks][count];
        for (short[] in : inputs) for (int i = 0; i < count; i++) in[i] = Float.floatToFloat16((float) random.nextGaussian());
        List<Communicator> group = LocalCommunicator.group(ranks);
        List<short[]> out = onRanks(ranks, r -> {
            MemorySegment data = Arena.ofAuto().allocate(2L * count);
            MemorySegment.copy(inputs[r], 0, data, F16, 0, count);
            group.get(r).allReduceSum(data, ElementType.F16, count);
            return data.toArray(ValueLayout.JAVA_SHORT);
        });
        short[] expected = new short[count];
        for (int i = 0; i < count; i++) {
            double sum = 0;
            for (short[] in : inputs) sum += Float.float16ToFloat(in[i]);
            expected[i] = Float.floatToFloat16((float) sum);
        }
        for (int r = 0; r < ranks; r++) assertArrayEquals(expected, out.get(r), "rank " + r + ", seed " + seed);
    }

    /** The default device path reads, sums and writes back exactly the requested range of a buffer. */
    @Test
    void deviceBufferRangeThroughTheBackend() throws Exception {
        int ranks = 2, length = 10, offset = 3, count = 4;
        List<Communicator> group = LocalCommunicator.group(ranks);
        List<float[]> out = onRanks(ranks, r -> {
            try (JvmBackend backend = new JvmBackend()) {
                float[] values = new float[length];
                for (int i = 0; i < length; i++) values[i] = (r + 1) * 100 + i;
                Buffer<FloatArray> buffer = backend.upload(FloatArray.of(values), "x");
                group.get(r).allReduceSum(backend, buffer, offset, count);
                return backend.read(buffer).toArray();
            }
        });
        for (int r = 0; r < ranks; r++) {
            for (int i = 0; i < length; i++) {
                float expected = i >= offset && i < offset + count ? 100 + i + 200 + i : (r + 1) * 100 + i;
                assertEquals(expected, out.get(r)[i], "rank " + r + " element " + i);
            }
        }
    }

    @Test
    void ranksThatDisagreeAllFail() throws Exception {
        List<Communicator> group = LocalCommunicator.group(2);
        List<String> messages = onRanks(2, r -> {
            int count = r == 0 ? 4 : 5;
            try {
                group.get(r).allReduceSum(Arena.ofAuto().allocate(4L * count), ElementType.F32, count);
                return "no error";
            } catch (CommunicatorException e) {
                return e.getMessage();
            }
        });
        for (String m : messages) assertTrue(m.contains("rank 0 sums 4 f32 values") && m.contains("rank 1 5 f32 values"), m);
    }

    @Test
    void abortReleasesAWaitingRankAndFailsLaterCalls() throws Exception {
        List<Communicator> group = LocalCommunicator.group(2);
        IllegalStateException cause = new IllegalStateException("rank 1 ran out of memory");
        CompletableFuture<Throwable> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                group.get(0).barrier(); // rank 1 never comes
                return null;
            } catch (CommunicatorException e) {
                return e;
            }
        }, threads);
        Thread.sleep(200);
        group.get(1).abort(cause);
        Throwable e = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> waiting.get());
        assertTrue(e instanceof CommunicatorException && e.getMessage().contains("aborted"), String.valueOf(e));
        assertSame(cause, e.getCause());
        CommunicatorException later = assertThrows(CommunicatorException.class, () -> group.get(0).allReduceSum(Arena.ofAuto().allocate(4), ElementType.F32, 1));
        assertSame(cause, later.getCause());
    }

    @Test
    void aRankThatNeverComesTimesOut() {
        List<Communicator> group = LocalCommunicator.group(2, Duration.ofMillis(200));
        CommunicatorException e = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> assertThrows(CommunicatorException.class, () -> group.get(0).barrier()));
        assertTrue(e.getMessage().contains("timed out"), e.getMessage());
        assertThrows(CommunicatorException.class, () -> group.get(1).barrier(), "the group stays failed");
    }

    @Test
    void onlyFloatSums() {
        Communicator one = LocalCommunicator.group(1).getFirst();
        assertThrows(IllegalArgumentException.class, () -> one.allReduceSum(Arena.ofAuto().allocate(16), ElementType.I32, 4));
        MemorySegment data = Arena.ofAuto().allocate(8);
        data.setAtIndex(F32, 0, 1.5f);
        data.setAtIndex(F32, 1, -2f);
        one.allReduceSum(data, ElementType.F32, 2);
        assertArrayEquals(new float[] {1.5f, -2f}, data.toArray(ValueLayout.JAVA_FLOAT), "one rank sums to itself");
        assertEquals(0, one.rank());
        assertEquals(1, one.size());
    }

}
