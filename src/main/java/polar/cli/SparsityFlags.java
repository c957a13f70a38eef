package polar.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import polar.engine.sparsity.PolarSparsity;
import polar.engine.sparsity.RouterWeights;
import polar.engine.sparsity.SparsityPlan;
import polar.model.ModelConfig;

/** The {@code --sparsity}, {@code --routers}, {@code --attn-density}, {@code --mlp} and {@code --oracle} flags shared by commands that run an engine. */
final class SparsityFlags {
    static final Options.Spec SPARSITY = new Options.Spec(List.of("--sparsity"), true,
            "dense or polar (polar: trained routers pick attention units per sequence in decode steps; default dense)");
    static final Options.Spec ROUTERS = new Options.Spec(List.of("--routers"), true,
            "folder with " + SparsityPlan.FILE_NAME + " and " + RouterWeights.FILE_NAME + " (default: the model folder)");
    static final Options.Spec DENSITY = new Options.Spec(List.of("--attn-density"), true,
            "attention units kept per sequence in layers 1.. with --sparsity polar, in (0, 1] (default: the plan's)");

    static final Options.Spec MLP = new Options.Spec(List.of("--mlp"), true,
            "with --sparsity polar: polar (the plan's MLP table, ReLU models) or dense (default polar)");

    static final Options.Spec ORACLE = new Options.Spec(List.of("--oracle"), false,
            "with --sparsity polar: each decode token keeps its true top-k attention units by output norm (dense attention, "
                    + "then the rest zeroed) instead of the routers' choice; measures sparsity apart from router error");

    private SparsityFlags() {}

    /** Null for dense; else the plan and routers, checked against the model. */
    static PolarSparsity resolve(Options o, Path model, ModelConfig config) {
        String mode = o.choice(SPARSITY.key(), "dense", List.of("dense", "polar"));
        if (mode.equals("dense")) {
            if (o.has(ROUTERS.key()) || o.has(DENSITY.key()) || o.has(MLP.key()) || o.has(ORACLE.key()))
                throw new UsageException("--routers, --attn-density, --mlp and --oracle need --sparsity polar");
            return null;
        }
        boolean oracle = o.has(ORACLE.key());
        Path dir = o.has(ROUTERS.key()) ? Path.of(o.string(ROUTERS.key(), "")) : Files.isDirectory(model) ? model : model.toAbsolutePath().getParent();
        PolarSparsity s;
        if (oracle && !o.has(ROUTERS.key()) && !Files.isRegularFile(dir.resolve(SparsityPlan.FILE_NAME))) {
            s = PolarSparsity.oracle(SparsityPlan.defaults(config)); // no trained files needed: the default plan, MLP dense
        } else {
            for (String name : List.of(SparsityPlan.FILE_NAME, RouterWeights.FILE_NAME)) {
                if (!Files.isRegularFile(dir.resolve(name))) {
                    throw new IllegalStateException("--sparsity polar needs " + name + ", missing in " + dir + " (train routers, or give their folder with --routers DIR)");
                }
            }
            s = PolarSparsity.load(dir);
            if (oracle) s = s.withOracleAttention();
        }
        if (o.has(DENSITY.key())) {
            float d = o.number(DENSITY.key(), 1f, Float.MIN_VALUE, 1f);
            s = s.withAttentionDensity(d);
        }
        if (o.choice(MLP.key(), "polar", List.of("polar", "dense")).equals("dense")) s = s.withoutMlp();
        s.checkFits(config, dir.toString());
        return s;
    }
}
