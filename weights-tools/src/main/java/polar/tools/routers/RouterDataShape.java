package polar.tools.routers;

import polar.engine.sparsity.AttentionUnit;
import polar.model.Architecture;
import polar.model.ModelConfig;

/**
 * The model dimensions a router data set was recorded for.
 *
 * @param reluMlp whether the MLP is ReLU (OPT): only then are MLP labels recorded and MLP routers trained
 */
public record RouterDataShape(int layers, int hidden, int heads, int kvHeads, int headDim, int ffn, boolean reluMlp) {

    public RouterDataShape {
        if (layers < 1 || hidden < 1 || heads < 1 || kvHeads < 1 || headDim < 1 || ffn < 1 || heads % kvHeads != 0)
            throw new IllegalArgumentException("bad model shape: " + layers + " layers, hidden " + hidden + ", " + heads + " heads, "
                    + kvHeads + " KV heads, head dim " + headDim + ", ffn " + ffn);
    }

    public static RouterDataShape of(ModelConfig c) {
        return new RouterDataShape(c.layers(), c.hidden(), c.heads(), c.kvHeads(), c.headDim(), c.ffn(), c.architecture() == Architecture.OPT);
    }

    public AttentionUnit attentionUnit() { return kvHeads < heads ? AttentionUnit.KV_GROUPS : AttentionUnit.HEADS; }

    /** Attention router outputs: heads (MHA) or KV groups (GQA). */
    public int units() { return attentionUnit() == AttentionUnit.HEADS ? heads : kvHeads; }

    /** Query heads per unit. */
    public int headsPerUnit() { return heads / units(); }
}
