package polar.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import polar.engine.sparsity.PolarSparsity;
import polar.engine.sparsity.RouterWeights;
import polar.engine.sparsity.SparsityPlan;
import polar.model.ModelConfig;

/** The {@code --sparsity}, {@code --routers} and {@code --attn-density} flags shared by commands that run an engine. */
final class SparsityFlags {
    static final Options.Spec SPARSITY = new Options.Spec(List.of("--sparsity"), true,
            "dense or polar (polar: trained routers pick attention units per sequence in decode steps; default dense)");
    static final Options.Spec ROUTERS = new Options.Spec(List.of("--routers"), true,
            "folder with " + SparsityPlan.FILE_NAME + " and " + RouterWeights.FILE_NAME + " (default: the model folder)");
    static final Options.Spec DENSITY = new Options.Spec(List.of("--attn-density"), true,
            "attention units kept per sequence in layers 1.. with --sparsity polar, in (0, 1] (default: the plan's)");

    static final Options.Spec MLP = new Options.Spec(List.of("--mlp"), true,
            "with --sparsity polar: polar (the plan's MLP table, ReLU models) or dense (default polar)");

    private SparsityFlags() {}

    /** Null for dense; else the plan and routers, checked against the model. */
    static PolarSparsity resolve(Options o, Path model, ModelConfig config) {
        String mode = o.choice(SPARSITY.key(), "dense", List.of("dense", "polar"));
        if (mode.equals("dense")) {
            if (o.has(ROUTERS.key()) || o.has(DENSITY.key()) || o.has(MLP.key())) throw new UsageException("--routers, --attn-density and --mlp need --sparsity polar");
            return null;
        }
        Path dir = o.has(ROUTERS.key()) ? Path.of(o.string(ROUTERS.key(), "")) : Files.isDirectory(model) ? model : model.toAbsolutePath().getParent();
        for (String name : List.of(SparsityPlan.FILE_NAME, RouterWeights.FILE_NAME)) {
            if (!Files.isRegularFile(dir.resolve(name))) {
                throw new IllegalStateException("--sparsity polar needs " + name + ", missing in " + dir + " (train routers, or give their folder with --routers DIR)");
            }
        }
        PolarSparsity s = PolarSparsity.load(dir);
        if (o.has(DENSITY.key())) {
            float d = o.number(DENSITY.key(), 1f, Float.MIN_VALUE, 1f);
            s = s.withAttentionDensity(d);
        }
        if (o.choice(MLP.key(), "polar", List.of("polar", "dense")).equals("dense")) s = s.withoutMlp();
        s.checkFits(config, dir.toString());
        return s;
    }
}
