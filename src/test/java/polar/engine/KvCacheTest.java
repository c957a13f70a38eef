package polar.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import polar.runtime.jvm.JvmBackend;
import polar.tornado.layers.KvBuffers;
import polar.tornado.layers.TransformerShape;
import polar.tornado.runtime.Backend;
import polar.tornado.types.ElementType;
import polar.tornado.types.IntArray;

/** Block and row bookkeeping of the paged KV cache, and its block table on the device. */
class KvCacheTest {
    static final TransformerShape SHAPE = new TransformerShape(100, 64, 2, 4, 2, 16, 128, TransformerShape.Norm.RMS, 1e-5f,
            TransformerShape.Mlp.SWIGLU, TransformerShape.Positions.ROTARY, 16, 0);

    private final Backend backend = new JvmBackend();

    @Test
    void reservesWholeBlocksAndWritesTheTable() {
        try (KvCache cache = new KvCache(backend, SHAPE, ElementType.F32, 16, 9, 2, 64)) {
            assertEquals(8, cache.capacityBlocks(), "block 0 is scratch");
            int a = cache.acquireRow(), b = cache.acquireRow();
            cache.reserve(a, 1);
            cache.reserve(a, 16);
            assertEquals(1, cache.blocksOf(a).length, "16 positions fit one block");
            cache.reserve(a, 40);
            cache.reserve(b, 17);
            int[] blocksA = cache.blocksOf(a), blocksB = cache.blocksOf(b);
            assertEquals(3, blocksA.length);
            assertEquals(2, blocksB.length);
            assertEquals(3, cache.freeBlocks());
            assertTrue(Arrays.stream(blocksA).noneMatch(x -> x == 0) && Arrays.stream(blocksB).noneMatch(x -> x == 0), "scratch block never handed out");
            assertEquals(5, Arrays.stream(blocksA).distinct().count() + Arrays.stream(blocksB).distinct().count());

            cache.sync();
            KvBuffers kv = cache.buffers();
            assertEquals(4, kv.maxBlocks());
            assertEquals(2, kv.keys().size());
            assertEquals(9L * 16 * SHAPE.kvDim(), kv.keys().getFirst().length());
            int[] table = backend.read(kv.blockTable()).toArray();
            assertArrayEquals(new int[] {blocksA[0], blocksA[1], blocksA[2], 0}, Arrays.copyOfRange(table, a * 4, a * 4 + 4));
            assertArrayEquals(new int[] {blocksB[0], blocksB[1], 0, 0}, Arrays.copyOfRange(table, b * 4, b * 4 + 4));
            assertArrayEquals(new int[4], Arrays.copyOfRange(table, cache.scratchRow() * 4, cache.scratchRow() * 4 + 4));

            cache.release(a);
            assertEquals(6, cache.freeBlocks());
            cache.sync();
            IntArray after = backend.read(kv.blockTable());
            assertArrayEquals(new int[4], Arrays.copyOfRange(after.toArray(), a * 4, a * 4 + 4), "a released row is cleared on the device");
            assertThrows(IllegalStateException.class, () -> cache.release(a));
        }
    }

    @Test
    void fullCacheSaysWhatIsMissingAndTakesNothing() {
        try (KvCache cache = new KvCache(backend, SHAPE, ElementType.F32, 16, 5, 3, 64)) {
            int a = cache.acquireRow(), b = cache.acquireRow();
            cache.reserve(a, 48);
            var e = assertThrows(KvCacheFullException.class, () -> cache.reserve(b, 40));
            assertTrue(e.getMessage().contains("3 more blocks") && e.getMessage().contains("1 of 4 free"), e.getMessage());
            assertEquals(1, cache.freeBlocks(), "a failed reservation takes nothing");
            assertEquals(0, cache.blocksOf(b).length);
            var tooLong = assertThrows(KvCacheFullException.class, () -> cache.reserve(b, 65));
            assertTrue(tooLong.getMessage().contains("exceed the 64"), tooLong.getMessage());
            cache.acquireRow();
            var rows = assertThrows(KvCacheFullException.class, cache::acquireRow);
            assertTrue(rows.getMessage().contains("all 3 sequence slots"), rows.getMessage());
            cache.release(a);
            cache.reserve(b, 40);
            assertEquals(3, cache.blocksOf(b).length, "released blocks are reused");
        }
    }
}
