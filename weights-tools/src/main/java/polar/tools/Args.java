package polar.tools;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import polar.cli.UsageException;

/**
 * Command-line flags of the form {@code --name value} (or {@code -m value}), plus positional words.
 * Every flag read is remembered so {@link #rejectUnknown} can name any flag nobody asked for.
 * Bad usage throws {@link UsageException}.
 */
public final class Args {
    private final Map<String, String> flags = new LinkedHashMap<>();
    private final List<String> positional = new ArrayList<>();
    private final Set<String> read = new LinkedHashSet<>();

    public Args(String[] args, Set<String> booleanFlags) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.startsWith("-") && a.length() > 1 && !isNumber(a)) {
                if (booleanFlags.contains(a)) flags.put(a, "true");
                else if (i + 1 >= args.length) throw new UsageException("flag " + a + " needs a value");
                else flags.put(a, args[++i]);
            } else {
                positional.add(a);
            }
        }
    }

    private static boolean isNumber(String s) {
        try {
            Double.parseDouble(s);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    public List<String> positional() { return positional; }

    public boolean has(String flag) {
        read.add(flag);
        return flags.containsKey(flag);
    }

    public String string(String flag, String fallback) {
        read.add(flag);
        return flags.getOrDefault(flag, fallback);
    }

    public String required(String flag) {
        read.add(flag);
        String v = flags.get(flag);
        if (v == null) throw new UsageException("missing required flag " + flag);
        return v;
    }

    public Path path(String flag, Path fallback) {
        String v = string(flag, null);
        return v == null ? fallback : Path.of(v);
    }

    public int integer(String flag, int fallback) {
        String v = string(flag, null);
        if (v == null) return fallback;
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new UsageException("flag " + flag + " needs an integer, got '" + v + "'");
        }
    }

    public double number(String flag, double fallback) {
        String v = string(flag, null);
        if (v == null) return fallback;
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new UsageException("flag " + flag + " needs a number, got '" + v + "'");
        }
    }

    /** A comma-separated list of integers, e.g. {@code 1,2,4,8}. */
    public int[] integers(String flag, int[] fallback) {
        String v = string(flag, null);
        if (v == null) return fallback;
        try {
            return java.util.Arrays.stream(v.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
        } catch (NumberFormatException e) {
            throw new UsageException("flag " + flag + " needs comma-separated integers, got '" + v + "'");
        }
    }

    /** Throws naming the first flag given that no code read. Call after reading every flag. */
    public void rejectUnknown() {
        for (String f : flags.keySet()) if (!read.contains(f)) throw new UsageException("unknown flag " + f);
    }
}
