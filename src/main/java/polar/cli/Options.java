package polar.cli;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parsed {@code --name value} options of a command: each option is declared with its spellings
 * and whether it takes a value; anything undeclared, a missing value or a repeated option is a
 * {@link UsageException}.
 */
final class Options {
    /** One option: its spellings (e.g. {@code -m}, {@code --model}) and whether it takes a value. */
    record Spec(List<String> names, boolean takesValue, String help) {
        String key() { return names.getLast(); }
    }

    private final Map<String, String> values = new LinkedHashMap<>();

    private Options() {}

    static Options parse(String[] args, List<Spec> specs) {
        Options o = new Options();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            String inline = null;
            int eq = arg.indexOf('=');
            if (arg.startsWith("--") && eq > 0) {
                inline = arg.substring(eq + 1);
                arg = arg.substring(0, eq);
            }
            Spec spec = null;
            for (Spec s : specs) if (s.names().contains(arg)) spec = s;
            if (spec == null) throw new UsageException(arg.startsWith("-") ? "unknown option " + arg : "unexpected argument '" + arg + "'");
            if (o.values.containsKey(spec.key())) throw new UsageException("option " + arg + " is given twice");
            String value = "true";
            if (spec.takesValue()) {
                if (inline != null) value = inline;
                else if (i + 1 < args.length) value = args[++i];
                else throw new UsageException("option " + arg + " needs a value");
            } else if (inline != null) {
                throw new UsageException("option " + arg + " takes no value");
            }
            o.values.put(spec.key(), value);
        }
        return o;
    }

    boolean has(String key) { return values.containsKey(key); }

    String string(String key, String fallback) { return values.getOrDefault(key, fallback); }

    /** One of {@code choices}. */
    String choice(String key, String fallback, List<String> choices) {
        String v = string(key, fallback);
        if (!choices.contains(v)) throw new UsageException(key + " must be one of " + String.join(", ", choices) + ", not '" + v + "'");
        return v;
    }

    int integer(String key, int fallback, int min) {
        if (!has(key)) return fallback;
        try {
            int v = Integer.parseInt(values.get(key));
            if (v < min) throw new UsageException(key + " must be at least " + min + ", not " + v);
            return v;
        } catch (NumberFormatException e) {
            throw new UsageException(key + " needs an integer, not '" + values.get(key) + "'");
        }
    }

    long longValue(String key, long fallback) {
        if (!has(key)) return fallback;
        try {
            return Long.parseLong(values.get(key));
        } catch (NumberFormatException e) {
            throw new UsageException(key + " needs an integer, not '" + values.get(key) + "'");
        }
    }

    float number(String key, float fallback, float min, float max) {
        if (!has(key)) return fallback;
        float v;
        try {
            v = Float.parseFloat(values.get(key));
        } catch (NumberFormatException e) {
            throw new UsageException(key + " needs a number, not '" + values.get(key) + "'");
        }
        if (!(v >= min && v <= max)) throw new UsageException(key + " must be in [" + min + ", " + max + "], not " + v);
        return v;
    }

    /** Help lines for {@code specs}. */
    static String help(List<Spec> specs) {
        StringBuilder sb = new StringBuilder();
        for (Spec s : specs) {
            String names = String.join(", ", s.names()) + (s.takesValue() ? " " + s.key().replace("--", "").toUpperCase() : "");
            sb.append(String.format("  %-26s %s%n", names, s.help()));
        }
        return sb.toString();
    }
}
