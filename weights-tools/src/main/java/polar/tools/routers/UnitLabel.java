package polar.tools.routers;

/** What ranks a token's attention units for the router's labels: its top-k units by this value are the positives. */
public enum UnitLabel {
    /** L2 norm of the unit's attention output (the Polar Sparsity paper's label). */
    NORM("norm"),
    /** L2 norm of the unit's contribution to the residual stream, {@code ||W_o[:, unit] o_unit||}. */
    OUT_NORM("out-norm");

    public final String flag;

    UnitLabel(String flag) { this.flag = flag; }

    public static UnitLabel of(String flag) {
        for (UnitLabel l : values()) if (l.flag.equals(flag)) return l;
        throw new IllegalArgumentException("unknown label '" + flag + "' (norm or out-norm)");
    }
}
