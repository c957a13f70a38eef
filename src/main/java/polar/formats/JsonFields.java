package polar.formats;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Typed access to the fields of a parsed JSON object, with errors that name the source (a file)
 * and the field: {@code "config.json: field 'hidden_size' must be an integer, got \"x\""}.
 */
public record JsonFields(Map<String, Object> map, String source) {

    /** A missing or ill-typed field. */
    public static final class FieldException extends FormatException {
        public FieldException(String message) { super(message); }
    }

    public static JsonFields of(Object json, String source) {
        if (!(json instanceof Map<?, ?>)) throw new FieldException(source + ": expected a JSON object");
        @SuppressWarnings("unchecked") Map<String, Object> map = (Map<String, Object>) json;
        return new JsonFields(map, source);
    }

    public boolean has(String key) { return map.get(key) != null; }

    public Object get(String key) { return map.get(key); }

    public FieldException error(String key, String message) {
        return new FieldException(source + ": field '" + key + "' " + message);
    }

    private Object required(String key) {
        Object v = map.get(key);
        if (v == null) throw error(key, "is missing");
        return v;
    }

    public String string(String key) {
        Object v = required(key);
        if (v instanceof String s) return s;
        throw error(key, "must be a string, got " + Json.write(v));
    }

    public String string(String key, String fallback) { return has(key) ? string(key) : fallback; }

    public long integer(String key) {
        Object v = required(key);
        if (v instanceof Long l) return l;
        if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < 1e15) return d.longValue();
        throw error(key, "must be an integer, got " + Json.write(v));
    }

    public long integer(String key, long fallback) { return has(key) ? integer(key) : fallback; }

    /** An integer field that must fit an {@code int} and be at least {@code min}. */
    public int intAtLeast(String key, int min) {
        long v = integer(key);
        if (v < min || v > Integer.MAX_VALUE) throw error(key, "must be an integer >= " + min + ", got " + v);
        return (int) v;
    }

    public int intAtLeast(String key, int min, int fallback) { return has(key) ? intAtLeast(key, min) : fallback; }

    public double number(String key) {
        Object v = required(key);
        if (v instanceof Number n) return n.doubleValue();
        throw error(key, "must be a number, got " + Json.write(v));
    }

    public double number(String key, double fallback) { return has(key) ? number(key) : fallback; }

    public boolean bool(String key, boolean fallback) {
        Object v = map.get(key);
        if (v == null) return fallback;
        if (v instanceof Boolean b) return b;
        throw error(key, "must be true or false, got " + Json.write(v));
    }

    public JsonFields object(String key) {
        Object v = required(key);
        if (v instanceof Map<?, ?>) return of(v, source + " '" + key + "'");
        throw error(key, "must be an object, got " + Json.write(v));
    }

    /** The object at {@code key}, or null when absent or JSON null. */
    public JsonFields objectOrNull(String key) { return has(key) ? object(key) : null; }

    public List<Object> list(String key) {
        Object v = required(key);
        if (v instanceof List<?> l) {
            @SuppressWarnings("unchecked") List<Object> list = (List<Object>) l;
            return list;
        }
        throw error(key, "must be an array, got " + Json.write(v));
    }

    /** The objects of the array at {@code key}. */
    public List<JsonFields> objects(String key) {
        List<JsonFields> out = new ArrayList<>();
        List<Object> items = list(key);
        for (int i = 0; i < items.size(); i++) out.add(of(items.get(i), source + " '" + key + "'[" + i + "]"));
        return out;
    }

    /** An integer or an array of integers (such as {@code eos_token_id}). */
    public long[] integers(String key) {
        Object v = required(key);
        if (v instanceof List<?> l) {
            long[] out = new long[l.size()];
            for (int i = 0; i < out.length; i++) {
                if (!(l.get(i) instanceof Long x)) throw error(key, "must hold integers, got " + Json.write(l.get(i)));
                out[i] = x;
            }
            return out;
        }
        return new long[] {integer(key)};
    }
}
