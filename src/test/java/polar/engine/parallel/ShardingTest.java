package polar.engine.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import polar.formats.DType;
import polar.formats.Tensor;
import polar.model.LayerWeights;
import polar.model.Model;
import polar.model.ModelConfig;
import polar.model.ModelLoader;
import polar.model.SharedAssets;

/** How {@link Sharding} cuts a model: which rows and columns each rank gets, what is shared, what is refused. */
class ShardingTest {

    @Test
    void rankConfigsHoldTheirShareOfHeadsAndNeurons() throws Exception {
        ModelConfig c = load("tiny-llama").config(); // 8 query heads, 4 KV heads, ffn 704
        ModelConfig two = Sharding.rankConfig(c, 2), four = Sharding.rankConfig(c, 4);
        assertEquals(List.of(4, 2, 352), List.of(two.heads(), two.kvHeads(), two.ffn()));
        assertEquals(List.of(2, 1, 176), List.of(four.heads(), four.kvHeads(), four.ffn()));
        assertEquals(c.groupSize(), four.groupSize(), "query heads per KV head are unchanged: GQA groups stay whole");
        assertEquals(c.hidden(), four.hidden());
        assertEquals(c.headDim(), four.headDim());
        assertEquals(c.vocabSize(), four.vocabSize());
    }

    @Test
    void countsThatDoNotDivideAreRefusedByName() throws Exception {
        ModelConfig c = load("tiny-llama").config();
        String eight = assertThrows(IllegalArgumentException.class, () -> Sharding.split(load("tiny-llama"), 8)).getMessage();
        assertTrue(eight.contains("4 KV heads") && !eight.contains("8 query heads") && !eight.contains("704"), eight);
        String three = assertThrows(IllegalArgumentException.class, () -> Sharding.check(c, 3)).getMessage();
        assertTrue(three.contains("8 query heads") && three.contains("4 KV heads") && three.contains("704 MLP neurons"), three);
        assertThrows(IllegalArgumentException.class, () -> Sharding.check(c, 0));
        assertFalse(Sharding.divides(c, 8));
        assertTrue(Sharding.divides(c, 4));
    }

    /**
     * Rank r's Q rows are its query heads, its K and V rows the KV heads those heads read (so
     * concatenating the ranks' slices in rank order gives back every tensor), O and down/fc2 are
     * split by input columns, and the biases of O and fc2 live on rank 0 only.
     */
    @ParameterizedTest(name = "{0} over {1} ranks")
    @CsvSource({"tiny-llama, 2", "tiny-llama, 4", "tiny-opt, 2", "tiny-opt, 4", "tiny-opt, 8"})
    void slicesReassembleIntoTheModel(String name, int ranks) throws Exception {
        Model model = load(name);
        List<Model> shards = Sharding.split(model, ranks);
        assertEquals(ranks, shards.size());
        for (int l = 0; l < model.config().layers(); l++) {
            LayerWeights whole = model.weights().layers().get(l);
            int layer = l;
            Function<Function<LayerWeights, Tensor>, List<Tensor>> parts = f -> shards.stream().map(m -> f.apply(m.weights().layers().get(layer))).toList();
            assertRows(whole.wq(), parts.apply(LayerWeights::wq));
            assertRows(whole.wk(), parts.apply(LayerWeights::wk));
            assertRows(whole.wv(), parts.apply(LayerWeights::wv));
            assertColumns(whole.wo(), parts.apply(LayerWeights::wo));
            assertRows(whole.up(), parts.apply(LayerWeights::up));
            assertColumns(whole.down(), parts.apply(LayerWeights::down));
            if (whole.gate() != null) assertRows(whole.gate(), parts.apply(LayerWeights::gate));
            if (whole.bq() != null) {
                assertElements(whole.bq(), parts.apply(LayerWeights::bq));
                assertElements(whole.bk(), parts.apply(LayerWeights::bk));
                assertElements(whole.bv(), parts.apply(LayerWeights::bv));
                assertElements(whole.upBias(), parts.apply(LayerWeights::upBias));
            }
            for (int r = 0; r < ranks; r++) {
                LayerWeights part = shards.get(r).weights().layers().get(l);
                if (r == 0) {
                    assertSame(whole.bo(), part.bo());
                    assertSame(whole.downBias(), part.downBias());
                } else {
                    assertZerosOrNull(whole.bo(), part.bo(), "O-projection bias only on rank 0");
                    assertZerosOrNull(whole.downBias(), part.downBias(), "fc2 bias only on rank 0");
                }
                assertSame(whole.attnNorm(), part.attnNorm(), "norms are shared");
                assertSame(whole.mlpNormBias(), part.mlpNormBias());
                assertFalse(overlaps(part.wq(), whole.wq()) || overlaps(part.wo(), whole.wo()), "slices are copies");
            }
        }
        for (Model shard : shards) {
            assertSame(model.weights().tokenEmbedding(), shard.weights().tokenEmbedding());
            assertSame(model.weights().lmHead(), shard.weights().lmHead(), "the LM head is replicated (tied stays tied)");
            assertSame(model.weights().positionEmbedding(), shard.weights().positionEmbedding());
            assertSame(model.weights().finalNorm(), shard.weights().finalNorm());
        }
    }

    @Test
    void oneRankIsTheModelItself() throws Exception {
        Model model = load("tiny-opt");
        assertSame(model, Sharding.split(model, 1).getFirst());
    }

    /** Block-quantised rows split anywhere; columns only on whole blocks, else the error names the tensor. */
    @Test
    void quantisedColumnsSplitOnWholeBlocks() {
        Random random = new Random();
        int rows = 3, blocks = 4; // Q8_0: 32 values in 34 bytes
        byte[] bytes = new byte[rows * blocks * DType.Q8_0.blockBytes];
        random.nextBytes(bytes);
        MemorySegment data = Arena.ofAuto().allocate(bytes.length);
        MemorySegment.copy(bytes, 0, data, ValueLayout.JAVA_BYTE, 0, bytes.length);
        Tensor t = new Tensor("blk.0.ffn_down.weight", DType.Q8_0, new long[] {rows, blocks * 32L}, data, "model.gguf");

        Tensor second = new Sharding.Part(1, 2, blocks * 32L).columns(t);
        assertArrayEquals(new long[] {rows, 64}, second.shape());
        int half = 2 * DType.Q8_0.blockBytes;
        for (int r = 0; r < rows; r++) {
            byte[] expected = java.util.Arrays.copyOfRange(bytes, r * 2 * half + half, r * 2 * half + 2 * half);
            assertArrayEquals(expected, second.data().asSlice((long) r * half, half).toArray(ValueLayout.JAVA_BYTE), "row " + r);
        }
        String error = assertThrows(IllegalArgumentException.class, () -> new Sharding.Part(1, 8, blocks * 32L).columns(t)).getMessage();
        assertTrue(error.contains("blk.0.ffn_down.weight") && error.contains("Q8_0"), error);
        assertNotNull(new Sharding.Part(2, 3, rows).rows(t), "whole rows split anywhere");
    }

    private static void assertRows(Tensor whole, List<Tensor> parts) {
        float[] expected = whole.toFloatArray();
        int at = 0;
        for (Tensor p : parts) {
            assertEquals(whole.dim(1), p.dim(1));
            float[] values = p.toFloatArray();
            assertArrayEquals(java.util.Arrays.copyOfRange(expected, at, at + values.length), values, p.name());
            at += values.length;
        }
        assertEquals(expected.length, at, whole.name() + ": the ranks' rows cover it");
    }

    /** Null where the model has no such bias; else zeros of its shape and type. */
    private static void assertZerosOrNull(Tensor whole, Tensor part, String message) {
        if (whole == null) {
            assertNull(part, message);
            return;
        }
        assertArrayEquals(whole.shape(), part.shape(), message);
        assertEquals(whole.dtype(), part.dtype(), message);
        for (float v : part.toFloatArray()) assertEquals(0f, v, message);
    }

    private static void assertElements(Tensor whole, List<Tensor> parts) {
        assertRows(new Tensor(whole.name(), whole.dtype(), new long[] {whole.dim(0), 1}, whole.data(), whole.file()),
                parts.stream().map(p -> new Tensor(p.name(), p.dtype(), new long[] {p.dim(0), 1}, p.data(), p.file())).toList());
    }

    private static void assertColumns(Tensor whole, List<Tensor> parts) {
        float[] expected = whole.toFloatArray();
        int rows = (int) whole.dim(0), cols = (int) whole.dim(1), from = 0;
        for (Tensor p : parts) {
            assertEquals(rows, p.dim(0));
            int width = (int) p.dim(1);
            float[] values = p.toFloatArray();
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < width; c++) assertEquals(expected[r * cols + from + c], values[r * width + c], p.name() + " [" + r + "," + c + "]");
            }
            from += width;
        }
        assertEquals(cols, from, whole.name() + ": the ranks' columns cover it");
    }

    private static boolean overlaps(Tensor a, Tensor b) {
        return a.data().asOverlappingSlice(b.data()).isPresent();
    }

    static Model load(String name) throws Exception {
        return ModelLoader.load(SharedAssets.require("models/" + name));
    }
}
