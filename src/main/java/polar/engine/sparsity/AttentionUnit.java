package polar.engine.sparsity;

import polar.model.ModelConfig;

/**
 * What the attention router selects: query heads (multi-head attention) or KV groups (grouped-query
 * attention, where a group is one KV head with the query heads that share it, so a selected group's
 * K/V tiles are loaded once for all its query heads).
 */
public enum AttentionUnit {
    HEADS("heads", 0.5),
    KV_GROUPS("kv_groups", 0.625);

    /** The name in {@code polar-sparsity.json}. */
    public final String jsonName;
    /** Default fraction of units kept in layers 1.. (the Polar Sparsity paper's settings). */
    public final double defaultDensity;

    AttentionUnit(String jsonName, double defaultDensity) {
        this.jsonName = jsonName;
        this.defaultDensity = defaultDensity;
    }

    /** KV groups when the model shares KV heads between query heads, else heads. */
    public static AttentionUnit of(ModelConfig config) {
        return config.kvHeads() < config.heads() ? KV_GROUPS : HEADS;
    }

    /** How many units a layer of {@code config} has. */
    public int count(ModelConfig config) {
        return this == HEADS ? config.heads() : config.kvHeads();
    }

    public static AttentionUnit fromJson(String name) {
        for (AttentionUnit u : values()) if (u.jsonName.equals(name)) return u;
        return null;
    }
}
