package polar.engine.sparsity;

import java.nio.file.Files;
import java.nio.file.Path;
import polar.model.ModelConfig;

/**
 * What {@code --sparsity polar} gives an engine: the plan (units kept per layer) and the trained
 * routers. Decode steps of layers >= 1 with an attention router run selective attention over the
 * plan's {@code attnK(layer)} units per sequence; layer 0 and prefill stay dense.
 *
 * <p>With {@code oracle}, the attention routers are not used: each decode token keeps its true top
 * {@code attnK(layer)} units by attention-output norm (the routers' training label), computed in the
 * same step (dense attention, norms, top-k, the rest zeroed). This measures what sparsity itself costs,
 * apart from router error. The MLP part, if any, still uses its routers.
 */
public record PolarSparsity(SparsityPlan plan, RouterWeights routers, boolean oracle) {

    public PolarSparsity {
        if (plan == null || routers == null) throw new IllegalArgumentException("a plan and routers are needed");
    }

    /** Attention chosen by the trained routers. */
    public PolarSparsity(SparsityPlan plan, RouterWeights routers) {
        this(plan, routers, false);
    }

    /** The oracle over {@code plan} with no routers at all (attention only; the plan's MLP table is dropped). */
    public static PolarSparsity oracle(SparsityPlan plan) {
        return new PolarSparsity(plan.withMlp(null), RouterWeights.none(plan.layers()), true);
    }

    /** Whether decode steps of {@code layer} select attention units (by router, or by the oracle in every layer >= 1). */
    public boolean routesAttention(int layer) {
        return layer >= 1 && layer < plan.layers() && (oracle || routers.attention(layer) != null);
    }

    /** The same routers with every layer (but 0) at attention density {@code density}. */
    public PolarSparsity withAttentionDensity(double density) {
        return new PolarSparsity(plan.withAttentionDensity(density), routers, oracle);
    }

    /** The same with the MLP dense (attention sparsity only). */
    public PolarSparsity withoutMlp() {
        return new PolarSparsity(plan.withMlp(null), routers, oracle);
    }

    /** The same plan and MLP routers, with the oracle choosing attention units. */
    public PolarSparsity withOracleAttention() {
        return new PolarSparsity(plan, routers, true);
    }

    /** Checks plan and routers against the model (the oracle needs no attention routers). */
    public void checkFits(ModelConfig config, String source) {
        plan.checkFits(config, source);
        routers.checkCovers(oracle ? plan.withAttentionDensity(1.0) : plan, config.hidden(), source);
    }

    /**
     * Loads {@value SparsityPlan#FILE_NAME} and {@value RouterWeights#FILE_NAME} from {@code dir}.
     * Throws IllegalArgumentException naming a missing file.
     */
    public static PolarSparsity load(Path dir) {
        Path planFile = dir.resolve(SparsityPlan.FILE_NAME);
        Path routerFile = dir.resolve(RouterWeights.FILE_NAME);
        if (!Files.isRegularFile(planFile)) throw new IllegalArgumentException("missing " + planFile + " (--sparsity polar needs " + SparsityPlan.FILE_NAME + "; see --routers)");
        if (!Files.isRegularFile(routerFile)) throw new IllegalArgumentException("missing " + routerFile + " (--sparsity polar needs " + RouterWeights.FILE_NAME + "; see --routers)");
        return new PolarSparsity(SparsityPlan.load(planFile), RouterWeights.load(routerFile));
    }
}
