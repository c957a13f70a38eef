package polar.engine.sparsity;

import java.nio.file.Files;
import java.nio.file.Path;
import polar.model.ModelConfig;

/**
 * What {@code --sparsity polar} gives an engine: the plan (units kept per layer) and the trained
 * routers. Decode steps of layers >= 1 with an attention router run selective attention over the
 * plan's {@code attnK(layer)} units per sequence; layer 0 and prefill stay dense.
 */
public record PolarSparsity(SparsityPlan plan, RouterWeights routers) {

    public PolarSparsity {
        if (plan == null || routers == null) throw new IllegalArgumentException("a plan and routers are needed");
    }

    /** Whether decode steps of {@code layer} route their attention. */
    public boolean routesAttention(int layer) {
        return layer >= 1 && layer < plan.layers() && routers.attention(layer) != null;
    }

    /** The same routers with every layer (but 0) at attention density {@code density}. */
    public PolarSparsity withAttentionDensity(double density) {
        return new PolarSparsity(plan.withAttentionDensity(density), routers);
    }

    /** The same with the MLP dense (attention sparsity only). */
    public PolarSparsity withoutMlp() {
        return new PolarSparsity(plan.withMlp(null), routers);
    }

    /** Checks plan and routers against the model. */
    public void checkFits(ModelConfig config, String source) {
        plan.checkFits(config, source);
        routers.checkCovers(plan, config.hidden(), source);
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
