package polar.tools.routers;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import polar.engine.sparsity.LayerObserver;
import polar.tools.routers.RouterDataset.LayerFile;
import polar.tools.routers.RouterDataset.Manifest;

/**
 * Records router inputs and labels as the engine runs a model densely over a corpus (it is the
 * engine's {@link LayerObserver}), appending to the files of a {@link RouterDataset} folder.
 * Per layer and token it keeps the normed input, each attention unit's output norm (for GQA the norm
 * of the group's query heads' outputs together) and, for ReLU models, which neurons fire.
 * {@link #close} writes the manifest; a folder without one is not a data set.
 */
public final class RouterDataCollector implements LayerObserver, AutoCloseable {

    private final Path dir;
    private final RouterDataShape shape;
    private final String model, corpus;
    private final FileChannel[][] channels;
    private final long[] rowsPerLayer;
    /** Per layer the transposed output projection {@code [heads * headDim, hidden]}, or null: no out-norm files. */
    private final float[][] outputProjections;

    /** Starts a data set in {@code dir} (created if needed; an existing data set there is replaced). */
    public RouterDataCollector(Path dir, RouterDataShape shape, String model, String corpus) {
        this(dir, shape, model, corpus, null);
    }

    /**
     * Also records each unit's contribution norm after the output projection, given per layer the transposed
     * projection {@code [heads * headDim, hidden]} ({@code outputProjections} null: not recorded).
     */
    public RouterDataCollector(Path dir, RouterDataShape shape, String model, String corpus, float[][] outputProjections) {
        this.outputProjections = outputProjections;
        this.dir = dir;
        this.shape = shape;
        this.model = model;
        this.corpus = corpus;
        this.rowsPerLayer = new long[shape.layers()];
        this.channels = new FileChannel[shape.layers()][LayerFile.values().length];
        try {
            Files.createDirectories(dir);
            Files.deleteIfExists(dir.resolve(RouterDataset.MANIFEST));
            for (int l = 0; l < shape.layers(); l++) {
                for (LayerFile f : LayerFile.values()) {
                    if (f == LayerFile.MLP_ACTIVE && !shape.reluMlp()) continue;
                    if (f == LayerFile.UNIT_OUT_NORMS && outputProjections == null) continue;
                    channels[l][f.ordinal()] = FileChannel.open(f.in(dir, l), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                            StandardOpenOption.TRUNCATE_EXISTING);
                }
            }
        } catch (IOException e) {
            closeChannels();
            throw new UncheckedIOException("cannot create router data in " + dir + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void layer(int layer, int rows, float[] normedInput, float[] headOutput, float[] mlpActivity) {
        int hidden = shape.hidden(), units = shape.units(), headDim = shape.headDim(), heads = shape.heads();
        check(normedInput.length == rows * hidden, "normed input", normedInput.length, rows * hidden);
        check(headOutput.length == rows * heads * headDim, "head output", headOutput.length, rows * heads * headDim);
        if (shape.reluMlp()) {
            if (mlpActivity == null) throw new IllegalArgumentException("layer " + layer + ": a ReLU model must pass the MLP activity");
            check(mlpActivity.length == rows * shape.ffn(), "MLP activity", mlpActivity.length, rows * shape.ffn());
        }
        ByteBuffer input = floats(normedInput);
        ByteBuffer norms = ByteBuffer.allocate(4 * rows * units).order(ByteOrder.LITTLE_ENDIAN);
        int span = shape.headsPerUnit() * headDim; // a unit's heads are adjacent in the head output
        for (int i = 0; i < rows; i++) {
            for (int u = 0; u < units; u++) {
                double sum = 0;
                int base = i * heads * headDim + u * span;
                for (int j = 0; j < span; j++) sum += (double) headOutput[base + j] * headOutput[base + j];
                norms.putFloat((float) Math.sqrt(sum));
            }
        }
        write(layer, LayerFile.INPUT, input);
        write(layer, LayerFile.UNIT_NORMS, norms.flip());
        if (outputProjections != null) {
            float[] squares = HostPerplexity.projectedSquares(headOutput, rows, units, span, outputProjections[layer], hidden);
            ByteBuffer outNorms = ByteBuffer.allocate(4 * rows * units).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : squares) outNorms.putFloat((float) Math.sqrt(v));
            write(layer, LayerFile.UNIT_OUT_NORMS, outNorms.flip());
        }
        if (shape.reluMlp()) {
            BitRows active = new BitRows(rows, shape.ffn());
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < shape.ffn(); j++) if (mlpActivity[i * shape.ffn() + j] > 0) active.set(i, j);
            }
            write(layer, LayerFile.MLP_ACTIVE, ByteBuffer.wrap(active.bits()));
        }
        rowsPerLayer[layer] += rows;
    }

    private static void check(boolean ok, String what, int got, int want) {
        if (!ok) throw new IllegalArgumentException(what + " has " + got + " values, expected " + want);
    }

    private static ByteBuffer floats(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return b;
    }

    private void write(int layer, LayerFile file, ByteBuffer bytes) {
        try {
            FileChannel ch = channels[layer][file.ordinal()];
            while (bytes.hasRemaining()) ch.write(bytes);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file.in(dir, layer) + ": " + e.getMessage(), e);
        }
    }

    /** Rows recorded so far (by every layer once a pass is complete). */
    public long rows() { return rowsPerLayer[shape.layers() - 1]; }

    /** Closes the files and writes the manifest; every layer must have seen the same rows. */
    @Override
    public void close() {
        closeChannels();
        for (int l = 1; l < shape.layers(); l++) {
            if (rowsPerLayer[l] != rowsPerLayer[0])
                throw new IllegalStateException("layer " + l + " recorded " + rowsPerLayer[l] + " rows, layer 0 " + rowsPerLayer[0] + ": the data set is incomplete");
        }
        if (rowsPerLayer[0] > Integer.MAX_VALUE) throw new IllegalStateException("too many rows for one data set: " + rowsPerLayer[0]);
        Manifest m = new Manifest(shape, (int) rowsPerLayer[0], model, corpus, outputProjections != null);
        try {
            Files.writeString(dir.resolve(RouterDataset.MANIFEST), m.toJson());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir.resolve(RouterDataset.MANIFEST) + ": " + e.getMessage(), e);
        }
    }

    private void closeChannels() {
        for (FileChannel[] layer : channels) {
            for (FileChannel ch : layer) {
                try {
                    if (ch != null && ch.isOpen()) ch.close();
                } catch (IOException ignored) {
                    // closing after a failed create; the first error is the one reported
                }
            }
        }
    }

}
