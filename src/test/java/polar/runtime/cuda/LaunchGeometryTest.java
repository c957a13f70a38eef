package polar.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import polar.tornado.graph.Grid;

/** Launch geometry needs no GPU: it is arithmetic over the grid and the SM count. */
class LaunchGeometryTest {
    private static final int H100_SMS = 132;

    @Test
    void largeParallelRangeIsOneFullWaveOfGridStrideBlocks() {
        LaunchGeometry g = LaunchGeometry.of(Grid.of(1 << 24), false, H100_SMS);
        assertEquals(new LaunchGeometry(H100_SMS * 8, 1, 1, 256, 1, 1), g);
    }

    @Test
    void smallParallelRangeGetsOneBlockRoundedUpToAPowerOfTwo() {
        assertEquals(new LaunchGeometry(1, 1, 1, 128, 1, 1), LaunchGeometry.of(Grid.of(100), false, H100_SMS));
        assertEquals(new LaunchGeometry(1, 1, 1, 1, 1, 1), LaunchGeometry.of(Grid.of(1), false, H100_SMS));
    }

    @Test
    void dimensionXGetsTheThreadsFirst() {
        // contiguous columns in x, rows in y: a warp walks along a row.
        assertEquals(new LaunchGeometry(4, 37, 1, 256, 1, 1), LaunchGeometry.of(Grid.of(1000, 37), false, H100_SMS));
        // few columns: the rest of the block goes to rows.
        assertEquals(new LaunchGeometry(1, 128, 1, 8, 32, 1), LaunchGeometry.of(Grid.of(8, 4096), false, H100_SMS));
    }

    @Test
    void parallelGridIsCappedInEveryDimension() {
        LaunchGeometry g = LaunchGeometry.of(Grid.of(100_000, 100_000), false, H100_SMS);
        assertEquals(256, g.blockX());
        assertEquals(1, g.blockY());
        assertEquals(391, g.gridX(), "x keeps its blocks; y is walked by the grid-stride loop");
        long blocks = (long) g.gridX() * g.gridY() * g.gridZ();
        assertTrue(blocks <= H100_SMS * 8 && blocks > H100_SMS * 4, g.toString());
    }

    @Test
    void kernelContextGridIsExactlyTheWorkGroupsAsked() {
        assertEquals(new LaunchGeometry(513, 1, 1, 256, 1, 1), LaunchGeometry.of(Grid.groups(513, 256), true, H100_SMS));
        assertEquals(new LaunchGeometry(40, 7, 1, 128, 1, 1), LaunchGeometry.of(Grid.groups(40, 7, 128), true, H100_SMS));
        assertEquals(new LaunchGeometry(100_000, 1, 1, 32, 1, 1), LaunchGeometry.of(Grid.groups(100_000, 32), true, H100_SMS));
    }

    @Test
    void blocksOverTheHardwareLimitAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LaunchGeometry.of(Grid.groups(2, 2048), true, H100_SMS));
        assertTrue(e.getMessage().contains("2048 threads per block"), e.getMessage());
    }
}
