package polar.tools.routers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import polar.engine.sparsity.AttentionUnit;
import polar.engine.sparsity.MlpScore;
import polar.engine.sparsity.MlpTable;
import polar.engine.sparsity.RouterTensor;
import polar.engine.sparsity.RouterWeights;
import polar.engine.sparsity.RouterWeights.AttentionRouter;
import polar.engine.sparsity.RouterWeights.MlpRouter;
import polar.engine.sparsity.SparsityPlan;
import polar.formats.Safetensors;
import polar.formats.Tensor;

class RouterFilesTest {
    static final int LAYERS = 4, HIDDEN = 16, UNITS = 4, RANK = 8, FFN = 64;

    static RouterWeights routers(long seed) {
        Random rnd = new Random(seed);
        AttentionRouter[] a = new AttentionRouter[LAYERS];
        MlpRouter[] m = new MlpRouter[LAYERS];
        for (int l = 0; l < LAYERS; l++) {
            if (l > 0) a[l] = new AttentionRouter(UNITS, HIDDEN, Synthetic.gaussian(rnd, UNITS * HIDDEN), Synthetic.gaussian(rnd, UNITS));
            m[l] = new MlpRouter(HIDDEN, RANK, FFN, Synthetic.gaussian(rnd, RANK * HIDDEN), Synthetic.gaussian(rnd, FFN * RANK));
        }
        a[1].weight()[0] = -0f;            // exact bits survive, not just values
        a[1].weight()[1] = Float.MIN_VALUE;
        return new RouterWeights(a, m);
    }

    /** Two-layer attention routers ({@code attn_router.inner.*}) round-trip too and compute the same logits; a lone inner tensor is an error naming it. */
    @Test
    void twoLayerAttentionRoutersRoundTrip(@TempDir Path dir) throws Exception {
        Random rnd = new Random(4);
        int inner = 12;
        AttentionRouter two = new AttentionRouter(UNITS, HIDDEN, Synthetic.gaussian(rnd, UNITS * inner), Synthetic.gaussian(rnd, UNITS), inner,
                Synthetic.gaussian(rnd, inner * HIDDEN), Synthetic.gaussian(rnd, inner));
        RouterWeights original = new RouterWeights(new AttentionRouter[] {null, two}, new MlpRouter[2]);
        Path file = dir.resolve(RouterWeights.FILE_NAME);
        RouterFiles.save(original, file);
        AttentionRouter back = RouterWeights.load(file).attention(1);
        assertEquals(inner, back.inner());
        assertEquals(HIDDEN, back.hidden());
        float[] x = Synthetic.gaussian(rnd, 3 * HIDDEN);
        assertArrayEquals(two.logits(x, 3), back.logits(x, 3));

        Path lone = dir.resolve("lone.safetensors");
        Safetensors.write(lone, List.of(Tensor.f32(RouterTensor.ATTN_INNER_WEIGHT.name(1), new float[inner * HIDDEN], inner, HIDDEN)), Map.of());
        Exception e = assertThrows(RuntimeException.class, () -> RouterWeights.load(lone));
        assertTrue(e.getMessage().contains(RouterTensor.ATTN_WEIGHT.name(1)) && e.getMessage().contains("lone.safetensors"), e.getMessage());
    }

    @Test
    void routersRoundTripBitForBit(@TempDir Path dir) {
        RouterWeights original = routers(1);
        Path file = dir.resolve(RouterWeights.FILE_NAME);
        RouterFiles.save(original, file);
        RouterWeights back = RouterWeights.load(file);
        assertEquals(LAYERS, back.layers());
        assertNull(back.attention(0));
        for (int l = 0; l < LAYERS; l++) {
            if (l > 0) {
                assertArrayEquals(bits(original.attention(l).weight()), bits(back.attention(l).weight()));
                assertArrayEquals(bits(original.attention(l).bias()), bits(back.attention(l).bias()));
            }
            assertArrayEquals(bits(original.mlp(l).down()), bits(back.mlp(l).down()));
            assertArrayEquals(bits(original.mlp(l).up()), bits(back.mlp(l).up()));
            assertEquals(RANK, back.mlp(l).rank());
        }
    }

    static int[] bits(float[] a) {
        int[] b = new int[a.length];
        for (int i = 0; i < a.length; i++) b[i] = Float.floatToRawIntBits(a[i]);
        return b;
    }

    @Test
    void theFileIsValidSafetensorsWithAlignedData(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("r.safetensors");
        RouterFiles.save(routers(2), file);
        byte[] bytes = Files.readAllBytes(file);
        long headerLength = java.nio.ByteBuffer.wrap(bytes, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, headerLength % 8, "data starts 8-byte aligned");
        String header = new String(bytes, 8, (int) headerLength, java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(header.contains("\"layers.1.attn_router.weight\"") && header.contains("\"dtype\":\"F32\""), header);
        assertTrue(header.contains("\"shape\":[4,16]"), header);
        assertTrue(header.contains("\"layers.2.mlp_router.up.weight\"") && header.contains("\"shape\":[64,8]"), header);
    }

    @Test
    void missingOrMisnamedTensorsGiveErrorsNamingFileAndTensor(@TempDir Path dir) throws Exception {
        List<Tensor> tensors = new ArrayList<>(routers(3).tensors());
        tensors.removeIf(t -> t.name().equals(RouterTensor.ATTN_BIAS.name(2)));
        assertLoadError(dir, tensors, "missing tensor layers.2.attn_router.bias (layers.2.attn_router.weight is present)");

        tensors = new ArrayList<>(routers(3).tensors());
        tensors.removeIf(t -> t.name().equals(RouterTensor.MLP_DOWN.name(3)));
        assertLoadError(dir, tensors, "missing tensor layers.3.mlp_router.down.weight (layers.3.mlp_router.up.weight is present)");

        tensors = new ArrayList<>(routers(3).tensors());
        tensors.add(Tensor.f32("layers.1.attn_router.wieght", new float[1], 1));
        assertLoadError(dir, tensors, "unexpected tensor layers.1.attn_router.wieght");

        tensors = new ArrayList<>(routers(3).tensors());
        tensors.replaceAll(t -> t.name().equals(RouterTensor.ATTN_BIAS.name(1)) ? Tensor.f32(t.name(), new float[2], 2) : t);
        assertLoadError(dir, tensors, "tensor layers.1.attn_router.bias has shape [2], expected [4]");

        RuntimeException notFound = assertThrows(RuntimeException.class, () -> RouterWeights.load(dir.resolve("absent.safetensors")));
        assertTrue(notFound.getMessage().contains("absent.safetensors"));
    }

    static void assertLoadError(Path dir, List<Tensor> tensors, String expected) throws Exception {
        Path file = dir.resolve("bad.safetensors");
        Safetensors.write(file, tensors, Map.of());
        RuntimeException e = assertThrows(RuntimeException.class, () -> RouterWeights.load(file));
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }

    @Test
    void aPlanNeedsARouterForEverySparseLayer() {
        AttentionRouter[] a = new AttentionRouter[LAYERS];
        MlpRouter[] m = new MlpRouter[LAYERS];
        RouterWeights full = routers(4);
        for (int l = 0; l < LAYERS; l++) {
            a[l] = l == 2 ? null : full.attention(l);
            m[l] = full.mlp(l);
        }
        RouterWeights holed = new RouterWeights(a, m);
        SparsityPlan plan = SparsityPlan.defaults(LAYERS, AttentionUnit.HEADS, UNITS);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> holed.checkCovers(plan, HIDDEN, "dir/polar-routers.safetensors"));
        assertTrue(e.getMessage().contains("dir/polar-routers.safetensors: missing tensor layers.2.attn_router.weight (the plan keeps 2 of 4 heads in layer 2)"),
                e.getMessage());
        holed.checkCovers(plan.withAttentionDensity(2, 1.0), HIDDEN, "ok: layer 2 dense");
        IllegalArgumentException wrongWidth = assertThrows(IllegalArgumentException.class, () -> full.checkCovers(plan, 32, "r"));
        assertTrue(wrongWidth.getMessage().contains("is [4, 16], the model needs [4, 32]"), wrongWidth.getMessage());
        int[][] k = new int[LAYERS][];
        for (int l = 0; l < LAYERS; l++) k[l] = new int[] {16};
        SparsityPlan withMlp = plan.withMlp(new MlpTable(FFN, 16, 0.8, MlpScore.RELU_SUM, 0.99, new int[] {1}, k));
        full.checkCovers(withMlp, HIDDEN, "ok");
        m[3] = null;
        IllegalArgumentException noMlp = assertThrows(IllegalArgumentException.class,
                () -> new RouterWeights(routersWithAttention(full), m).checkCovers(withMlp, HIDDEN, "r"));
        assertTrue(noMlp.getMessage().contains("missing tensor layers.3.mlp_router.down.weight"), noMlp.getMessage());
    }

    static AttentionRouter[] routersWithAttention(RouterWeights w) {
        AttentionRouter[] a = new AttentionRouter[w.layers()];
        for (int l = 0; l < a.length; l++) a[l] = w.attention(l);
        return a;
    }
}
