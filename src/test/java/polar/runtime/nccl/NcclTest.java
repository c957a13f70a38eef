package polar.runtime.nccl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import polar.runtime.cuda.CudaBackend;
import polar.runtime.cuda.CudaBuffer;
import polar.runtime.cuda.CudaDriver;
import polar.tornado.graph.Buffer;
import polar.tornado.types.ElementType;
import polar.tornado.types.FloatArray;
import polar.tornado.types.HalfArray;

/**
 * NCCL through FFM. Finding the library and the NVLink-multicast guard are checked everywhere; the
 * calls themselves where {@code libnccl.so.2} loads, and all-reduce where there are CUDA GPUs and
 * the process runs with {@code NCCL_NVLS_ENABLE=0} (one GPU is enough for the calls: a one-rank sum).
 */
class NcclTest {

    @Test
    void libraryIsLookedForWhereTheEnvironmentSaysThenByItsSonameThenInPythonEnvironments(@TempDir Path dir) throws Exception {
        Path venv = dir.resolve("venv");
        Path wheel = venv.resolve("lib/python3.12/site-packages/nvidia/nccl/lib");
        Files.createDirectories(wheel);
        Files.createFile(wheel.resolve(Nccl.LIBRARY));
        List<String> fromFolder = Nccl.candidates(Map.of(Nccl.LIBRARY_VARIABLE, dir.toString(), "VIRTUAL_ENV", venv.toString()));
        assertEquals(dir.resolve(Nccl.LIBRARY).toString(), fromFolder.get(0));
        assertEquals(Nccl.LIBRARY, fromFolder.get(1));
        assertEquals(wheel.resolve(Nccl.LIBRARY).toString(), fromFolder.get(2));
        List<String> fromFile = Nccl.candidates(Map.of(Nccl.LIBRARY_VARIABLE, "/opt/nccl/libnccl.so.2.21.5"));
        assertEquals("/opt/nccl/libnccl.so.2.21.5", fromFile.getFirst());
        assertEquals(Nccl.LIBRARY, Nccl.candidates(Map.of()).getFirst());
    }

    @Test
    void ncclStartsOnlyWithNvlinkMulticastOff() {
        String unset = assertThrows(NcclException.class, () -> Nccl.requireNvlsOff(Map.of())).getMessage();
        assertTrue(unset.contains("NCCL_NVLS_ENABLE is not set") && unset.contains("export NCCL_NVLS_ENABLE=0"), unset);
        String on = assertThrows(NcclException.class, () -> Nccl.requireNvlsOff(Map.of(Nccl.NVLS_VARIABLE, "1"))).getMessage();
        assertTrue(on.contains("\"1\""), on);
        assertDoesNotThrow(() -> Nccl.requireNvlsOff(Map.of(Nccl.NVLS_VARIABLE, "0")));
    }

    @Test
    void versionErrorsAndUniqueIds() {
        assumeTrue(Nccl.available(), Nccl::unavailableReason);
        Nccl nccl = Nccl.get();
        int version = nccl.version();
        System.out.println(nccl);
        assertTrue(version >= 20000, "NCCL version code " + version);
        assertTrue(Nccl.versionString(version).startsWith("2."), Nccl.versionString(version));
        assertTrue(nccl.errorString(4).toLowerCase().contains("invalid"), nccl.errorString(4)); // ncclInvalidArgument
        byte[] a = nccl.uniqueId(), b = nccl.uniqueId();
        assertEquals(128, a.length);
        assertFalse(java.util.Arrays.equals(a, b), "each unique id is new");
    }

    /**
     * One communicator per GPU from one thread (so the ranks' calls go in a group), a float32 and a
     * float16 all-reduce out of place into poisoned memory, checked against float64 sums on the host.
     */
    @Test
    void allReduceOverEveryGpu() {
        assumeTrue(CudaBackend.isAvailable(), "no CUDA device");
        assumeTrue(Nccl.available(), Nccl::unavailableReason);
        assumeTrue("0".equals(System.getenv(Nccl.NVLS_VARIABLE)), "run with NCCL_NVLS_ENABLE=0 to test NCCL on the GPUs");
        Nccl nccl = Nccl.get();
        CudaDriver driver = CudaDriver.get();
        int n = Math.min(CudaBackend.deviceCount(), 8);
        int[] devices = new int[n];
        for (int i = 0; i < n; i++) devices[i] = i;
        List<CudaBackend> backends = new ArrayList<>();
        List<MemorySegment> contexts = new ArrayList<>(), streams = new ArrayList<>();
        MemorySegment[] comms = null;
        try {
            for (int d : devices) {
                backends.add(new CudaBackend(d));
                MemorySegment context = driver.primaryContextRetain(driver.device(d));
                contexts.add(context);
                driver.setCurrent(context);
                streams.add(driver.streamCreate(CudaDriver.STREAM_NON_BLOCKING));
            }
            comms = nccl.commInitAll(devices);
            for (int r = 0; r < n; r++) {
                assertEquals(n, nccl.commCount(comms[r]));
                assertEquals(devices[r], nccl.commCuDevice(comms[r]));
                assertEquals(r, nccl.commUserRank(comms[r]));
            }
            long seed = new Random().nextLong();
            Random random = new Random(seed);
            int count = 100_003;
            for (ElementType<?> type : List.of(ElementType.F32, ElementType.F16)) {
                double[] expected = new double[count];
                List<Buffer<?>> sends = new ArrayList<>(), receives = new ArrayList<>();
                for (int r = 0; r < n; r++) {
                    float[] values = new float[count];
                    for (int i = 0; i < count; i++) {
                        values[i] = (float) random.nextGaussian();
                        if (type == ElementType.F16) values[i] = Float.float16ToFloat(Float.floatToFloat16(values[i]));
                        expected[i] += values[i];
                    }
                    float[] poison = new float[count];
                    java.util.Arrays.fill(poison, Float.NaN);
                    CudaBackend b = backends.get(r);
                    sends.add(type == ElementType.F32 ? b.upload(FloatArray.of(values), "send") : b.upload(half(values), "send"));
                    receives.add(type == ElementType.F32 ? b.upload(FloatArray.of(poison), "receive") : b.upload(half(poison), "receive"));
                    b.synchronize();
                }
                nccl.groupStart();
                for (int r = 0; r < n; r++) {
                    nccl.allReduce(((CudaBuffer<?>) sends.get(r)).address(), ((CudaBuffer<?>) receives.get(r)).address(), count,
                            Nccl.DataType.of(type), comms[r], streams.get(r));
                }
                nccl.groupEnd();
                float[] first = null;
                for (int r = 0; r < n; r++) {
                    driver.setCurrent(contexts.get(r));
                    driver.streamSynchronize(streams.get(r));
                    float[] got = floats(backends.get(r), receives.get(r));
                    double diff = 0, norm = 0;
                    for (int i = 0; i < count; i++) {
                        diff += (got[i] - expected[i]) * (got[i] - expected[i]);
                        norm += expected[i] * expected[i];
                    }
                    double err = Math.sqrt(diff / norm);
                    double tolerance = type == ElementType.F32 ? 1e-6 : 2e-3;
                    assertTrue(err <= tolerance, type + " all-reduce over " + n + " GPUs, rank " + r + ": relative error " + err + " (seed " + seed + ")");
                    if (first == null) first = got;
                    else assertArrayEquals(first, got, "every rank holds the same sums");
                    backends.get(r).free(sends.get(r));
                    backends.get(r).free(receives.get(r));
                }
                System.out.printf("NCCL %s all-reduce over %d GPUs of %d values: ok%n", type, n, count);
            }
        } finally {
            if (comms != null) for (MemorySegment c : comms) nccl.commDestroy(c);
            for (int r = 0; r < streams.size(); r++) {
                driver.setCurrent(contexts.get(r));
                driver.streamDestroy(streams.get(r));
            }
            for (int d = 0; d < contexts.size(); d++) driver.primaryContextRelease(driver.device(devices[d]));
            backends.forEach(CudaBackend::close);
        }
    }

    private static HalfArray half(float[] values) {
        HalfArray h = new HalfArray(values.length);
        for (int i = 0; i < values.length; i++) h.set(i, values[i]);
        return h;
    }

    private static float[] floats(CudaBackend backend, Buffer<?> buffer) {
        return switch (backend.read(buffer)) {
            case FloatArray f -> f.toArray();
            case HalfArray h -> {
                float[] r = new float[h.getSize()];
                for (int i = 0; i < r.length; i++) r[i] = h.get(i);
                yield r;
            }
            default -> throw new IllegalArgumentException(buffer.toString());
        };
    }
}
