package polar.engine;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import polar.tornado.graph.Buffer;
import polar.tornado.layers.KvBuffers;
import polar.tornado.layers.TransformerShape;
import polar.tornado.runtime.Backend;
import polar.tornado.types.ElementType;
import polar.tornado.types.IntArray;

/**
 * The paged KV cache: per layer a K and a V buffer of {@code blocks} blocks of {@code blockSize}
 * positions, a block table on the device with one row per sequence slot, and free lists of blocks
 * and rows. Block 0 is a scratch block that no sequence owns: padding tokens of a step write and
 * read it through the extra last row of the table ({@link #scratchRow()}), which is all zeros.
 */
public final class KvCache implements AutoCloseable {
    private final Backend backend;
    private final int blockSize;
    private final int blocks;
    private final int rows;
    private final int maxBlocks;
    private final List<Buffer<?>> keys = new ArrayList<>();
    private final List<Buffer<?>> values = new ArrayList<>();
    private final Buffer<IntArray> blockTable;
    private final int[] table;
    private final int[] owned;
    private final ArrayDeque<Integer> freeBlocks = new ArrayDeque<>();
    private final ArrayDeque<Integer> freeRows = new ArrayDeque<>();
    private final BitSet dirtyRows = new BitSet();
    /** Host copy the device table is written from (one region per row, so queued writes never share memory). */
    private final IntArray staging;

    /**
     * @param rows      sequences that can hold cache at once
     * @param maxLength positions one sequence may reach
     * @param blocks    blocks per layer, the scratch block included
     */
    public KvCache(Backend backend, TransformerShape shape, ElementType<?> type, int blockSize, int blocks, int rows, int maxLength) {
        if (blockSize < 1 || Integer.bitCount(blockSize) != 1) throw new IllegalArgumentException("block size " + blockSize + " is not a power of two");
        if (blocks < 2) throw new IllegalArgumentException("a KV cache needs at least 2 blocks (one is scratch), not " + blocks);
        if (rows < 1 || maxLength < 1) throw new IllegalArgumentException("KV cache of " + rows + " rows and " + maxLength + " positions");
        this.backend = backend;
        this.blockSize = blockSize;
        this.blocks = blocks;
        this.rows = rows;
        this.maxBlocks = (maxLength + blockSize - 1) / blockSize;
        long elements = (long) blocks * blockSize * shape.kvDim();
        for (int l = 0; l < shape.layers(); l++) {
            keys.add(backend.allocate(type, elements, "kv.layer" + l + ".k"));
            values.add(backend.allocate(type, elements, "kv.layer" + l + ".v"));
        }
        this.blockTable = backend.allocate(ElementType.I32, (long) (rows + 1) * maxBlocks, "kv.blockTable");
        this.table = new int[(rows + 1) * maxBlocks];
        this.owned = new int[rows + 1];
        this.staging = new IntArray(table.length);
        for (int b = 1; b < blocks; b++) freeBlocks.add(b);
        for (int r = 0; r < rows; r++) freeRows.add(r);
    }

    /** The device buffers, for the layer builder. */
    public KvBuffers buffers() { return new KvBuffers(keys, values, blockTable, blockSize, maxBlocks); }

    public int blockSize() { return blockSize; }

    /** Positions one sequence may hold. */
    public int maxLength() { return maxBlocks * blockSize; }

    /** The all-zero block-table row that padding tokens use. */
    public int scratchRow() { return rows; }

    public int freeBlocks() { return freeBlocks.size(); }

    /** Blocks per layer that sequences can own (all but the scratch block). */
    public int capacityBlocks() { return blocks - 1; }

    public int freeRows() { return freeRows.size(); }

    /** Takes a free sequence row. */
    public int acquireRow() {
        Integer row = freeRows.poll();
        if (row == null) throw new KvCacheFullException("KV cache: all " + rows + " sequence slots are in use");
        return row;
    }

    /**
     * Makes sure {@code row} has blocks for positions {@code 0..length-1}, taking free blocks.
     * When there are not enough, nothing is taken and the error says how many were missing.
     */
    public void reserve(int row, int length) {
        checkRow(row);
        if (length > maxLength()) throw new KvCacheFullException("KV cache: " + length + " positions exceed the " + maxLength() + " a sequence may hold");
        int need = (length + blockSize - 1) / blockSize - owned[row];
        if (need <= 0) return;
        if (need > freeBlocks.size()) {
            throw new KvCacheFullException("KV cache full: " + need + " more blocks of " + blockSize + " positions needed, "
                    + freeBlocks.size() + " of " + capacityBlocks() + " free");
        }
        for (int i = 0; i < need; i++) table[row * maxBlocks + owned[row]++] = freeBlocks.poll();
        dirtyRows.set(row);
    }

    /** Returns {@code row} and its blocks to the free lists. */
    public void release(int row) {
        checkRow(row);
        if (freeRows.contains(row)) throw new IllegalStateException("KV cache row " + row + " is already free");
        for (int i = 0; i < owned[row]; i++) freeBlocks.add(table[row * maxBlocks + i]);
        owned[row] = 0;
        Arrays.fill(table, row * maxBlocks, (row + 1) * maxBlocks, 0);
        dirtyRows.set(row);
        freeRows.add(row);
    }

    /** Blocks owned by {@code row}, in position order. */
    public int[] blocksOf(int row) {
        checkRow(row);
        return Arrays.copyOfRange(table, row * maxBlocks, row * maxBlocks + owned[row]);
    }

    /** Copies the rows changed since the last call to the device block table. */
    public void sync() {
        for (int row = dirtyRows.nextSetBit(0); row >= 0; row = dirtyRows.nextSetBit(row + 1)) {
            long at = (long) row * maxBlocks;
            for (int i = 0; i < maxBlocks; i++) staging.set((int) at + i, table[(int) at + i]);
            backend.write(blockTable, at, staging.segment().asSlice(at * 4), maxBlocks);
        }
        dirtyRows.clear();
    }

    private void checkRow(int row) {
        if (row < 0 || row >= rows) throw new IllegalArgumentException("KV cache row " + row + " is not in 0.." + (rows - 1));
    }

    @Override
    public void close() {
        for (Buffer<?> b : keys) backend.free(b);
        for (Buffer<?> b : values) backend.free(b);
        backend.free(blockTable);
        keys.clear();
        values.clear();
    }
}
