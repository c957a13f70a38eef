package polar.engine.sparsity;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A minimal JSON reader and writer for the sparsity plan, the router file header and the router
 * data manifest. Parsing gives {@code Map<String,Object>} (insertion-ordered), {@code List<Object>},
 * {@code String}, {@code Long}, {@code Double}, {@code Boolean} and {@code null}; errors name the
 * source and the line:column. (Same model as {@code polar.formats.Json}, which replaces it once merged.)
 */
public final class SparsityJson {
    private SparsityJson() {}

    /** Malformed JSON or a field of the wrong kind, with the source (file) it came from. */
    public static final class JsonException extends RuntimeException {
        public JsonException(String message) { super(message); }
    }

    /** Parses {@code text}; {@code source} names it in error messages. */
    public static Object parse(String text, String source) {
        Parser p = new Parser(text, source);
        p.space();
        Object v = p.value();
        p.space();
        if (p.pos < text.length()) throw p.error("unexpected '" + text.charAt(p.pos) + "' after the JSON value");
        return v;
    }

    /** Parses text that must be a JSON object. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseObject(String text, String source) {
        if (parse(text, source) instanceof Map<?, ?> m) return (Map<String, Object>) m;
        throw new JsonException(source + ": expected a JSON object");
    }

    private static final class Parser {
        final String s, source;
        int pos;

        Parser(String s, String source) { this.s = s; this.source = source; }

        JsonException error(String message) {
            int line = 1, col = 1;
            for (int i = 0; i < Math.min(pos, s.length()); i++) {
                if (s.charAt(i) == '\n') { line++; col = 1; } else col++;
            }
            return new JsonException(source + ":" + line + ":" + col + ": " + message);
        }

        void space() {
            while (pos < s.length() && " \t\r\n".indexOf(s.charAt(pos)) >= 0) pos++;
        }

        char peek() {
            if (pos >= s.length()) throw error("unexpected end of input");
            return s.charAt(pos);
        }

        void expect(char c) {
            if (peek() != c) throw error("expected '" + c + "' but found '" + s.charAt(pos) + "'");
            pos++;
        }

        Object value() {
            char c = peek();
            return switch (c) {
                case '{' -> object();
                case '[' -> array();
                case '"' -> string();
                case 't' -> literal("true", Boolean.TRUE);
                case 'f' -> literal("false", Boolean.FALSE);
                case 'n' -> literal("null", null);
                default -> {
                    if (c == '-' || Character.isDigit(c)) yield number();
                    throw error("unexpected '" + c + "'");
                }
            };
        }

        Object literal(String word, Object v) {
            if (!s.startsWith(word, pos)) throw error("invalid literal (expected " + word + ")");
            pos += word.length();
            return v;
        }

        Map<String, Object> object() {
            expect('{');
            Map<String, Object> map = new LinkedHashMap<>();
            space();
            if (peek() == '}') { pos++; return map; }
            while (true) {
                space();
                if (peek() != '"') throw error("expected a string key");
                String key = string();
                space();
                expect(':');
                space();
                map.put(key, value());
                space();
                if (peek() == '}') { pos++; return map; }
                if (peek() != ',') throw error("expected ',' or '}' in object");
                pos++;
            }
        }

        List<Object> array() {
            expect('[');
            List<Object> list = new ArrayList<>();
            space();
            if (peek() == ']') { pos++; return list; }
            while (true) {
                space();
                list.add(value());
                space();
                if (peek() == ']') { pos++; return list; }
                if (peek() != ',') throw error("expected ',' or ']' in array");
                pos++;
            }
        }

        String string() {
            expect('"');
            StringBuilder sb = new StringBuilder();
            while (true) {
                char c = peek();
                pos++;
                if (c == '"') return sb.toString();
                if (c != '\\') { sb.append(c); continue; }
                char e = peek();
                pos++;
                switch (e) {
                    case '"', '\\', '/' -> sb.append(e);
                    case 'b' -> sb.append('\b');
                    case 'f' -> sb.append('\f');
                    case 'n' -> sb.append('\n');
                    case 'r' -> sb.append('\r');
                    case 't' -> sb.append('\t');
                    case 'u' -> {
                        if (pos + 4 > s.length()) throw error("truncated \\u escape");
                        sb.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
                        pos += 4;
                    }
                    default -> throw error("invalid escape '\\" + e + "'");
                }
            }
        }

        Object number() {
            int start = pos;
            while (pos < s.length() && "+-0123456789.eE".indexOf(s.charAt(pos)) >= 0) pos++;
            String text = s.substring(start, pos);
            try {
                if (text.matches("-?\\d+")) return Long.parseLong(text);
                return Double.parseDouble(text);
            } catch (NumberFormatException e) {
                pos = start;
                throw error("invalid number '" + text + "'");
            }
        }
    }

    /** Pretty JSON (two-space indent; arrays of numbers on one line), ending in a newline. */
    public static String writePretty(Object value) {
        StringBuilder sb = new StringBuilder();
        write(value, sb, 0);
        return sb.append('\n').toString();
    }

    private static void write(Object value, StringBuilder out, int depth) {
        switch (value) {
            case null -> out.append("null");
            case String str -> quote(str, out);
            case Boolean b -> out.append(b);
            case Double d -> number(d, out);
            case Float f -> number(f, out);
            case Number n -> out.append(n.longValue());
            case int[] a -> {
                List<Object> list = new ArrayList<>();
                for (int x : a) list.add(x);
                write(list, out, depth);
            }
            case double[] a -> {
                List<Object> list = new ArrayList<>();
                for (double x : a) list.add(x);
                write(list, out, depth);
            }
            case Map<?, ?> map -> {
                if (map.isEmpty()) { out.append("{}"); return; }
                out.append("{\n");
                Iterator<? extends Map.Entry<?, ?>> it = map.entrySet().iterator();
                while (it.hasNext()) {
                    Map.Entry<?, ?> e = it.next();
                    out.append("  ".repeat(depth + 1));
                    quote(String.valueOf(e.getKey()), out);
                    out.append(": ");
                    write(e.getValue(), out, depth + 1);
                    out.append(it.hasNext() ? ",\n" : "\n");
                }
                out.append("  ".repeat(depth)).append('}');
            }
            case List<?> list -> {
                boolean nested = list.stream().anyMatch(v -> v instanceof Map || v instanceof List || v instanceof int[]);
                out.append(nested ? "[\n" : "[");
                for (int i = 0; i < list.size(); i++) {
                    if (nested) out.append("  ".repeat(depth + 1));
                    write(list.get(i), out, depth + 1);
                    if (i + 1 < list.size()) out.append(nested ? ",\n" : ", ");
                }
                out.append(nested ? "\n" + "  ".repeat(depth) + "]" : "]");
            }
            default -> throw new IllegalArgumentException("cannot write " + value.getClass().getName() + " as JSON");
        }
    }

    private static void number(double d, StringBuilder out) {
        if (!Double.isFinite(d)) throw new IllegalArgumentException("JSON has no " + d);
        out.append(d); // Double.toString is the shortest text that reads back as the same double
    }

    private static void quote(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
                }
            }
        }
        out.append('"');
    }

    /**
     * Typed access to the fields of a parsed object, with errors that name the source (file) and
     * the field's path, e.g. {@code plan.json: field "attention.units" must be a positive integer, got 0}.
     */
    public record Fields(Map<String, Object> map, String source, String path) {

        public static Fields of(Map<String, Object> map, String source) { return new Fields(map, source, ""); }

        public JsonException error(String field, String problem) {
            return new JsonException(source + ": field \"" + path + field + "\" " + problem);
        }

        public boolean has(String field) { return map.get(field) != null; }

        @SuppressWarnings("unchecked")
        public Fields object(String field) {
            if (map.get(field) instanceof Map<?, ?> m) return new Fields((Map<String, Object>) m, source, path + field + ".");
            throw wrongKind(field, "an object");
        }

        public List<?> array(String field) {
            if (map.get(field) instanceof List<?> l) return l;
            throw wrongKind(field, "an array");
        }

        public String string(String field) {
            if (map.get(field) instanceof String s) return s;
            throw wrongKind(field, "a string");
        }

        public long integer(String field) {
            if (map.get(field) instanceof Long n) return n;
            throw wrongKind(field, "an integer");
        }

        public int positiveInt(String field) {
            long n = integer(field);
            if (n <= 0 || n > Integer.MAX_VALUE) throw error(field, "must be a positive integer, got " + n);
            return (int) n;
        }

        public double number(String field) {
            if (map.get(field) instanceof Number n) return n.doubleValue();
            throw wrongKind(field, "a number");
        }

        /** An array of numbers, of exactly {@code length} elements (or any length when negative). */
        public double[] numbers(String field, int length) {
            return numbers(array(field), field, length);
        }

        public double[] numbers(List<?> list, String field, int length) {
            if (length >= 0 && list.size() != length) throw error(field, "must have " + length + " elements, has " + list.size());
            double[] out = new double[list.size()];
            for (int i = 0; i < out.length; i++) {
                if (!(list.get(i) instanceof Number n)) throw error(field + "[" + i + "]", "must be a number, got " + describe(list.get(i)));
                out[i] = n.doubleValue();
            }
            return out;
        }

        public int[] integers(List<?> list, String field, int length) {
            if (length >= 0 && list.size() != length) throw error(field, "must have " + length + " elements, has " + list.size());
            int[] out = new int[list.size()];
            for (int i = 0; i < out.length; i++) {
                if (!(list.get(i) instanceof Long n) || n < Integer.MIN_VALUE || n > Integer.MAX_VALUE)
                    throw error(field + "[" + i + "]", "must be an integer, got " + describe(list.get(i)));
                out[i] = (int) (long) n;
            }
            return out;
        }

        private JsonException wrongKind(String field, String expected) {
            if (!map.containsKey(field)) return new JsonException(source + ": missing field \"" + path + field + "\" (" + expected + ")");
            return error(field, "must be " + expected + ", got " + describe(map.get(field)));
        }
    }

    static String describe(Object v) {
        return switch (v) {
            case null -> "null";
            case String s -> "the string \"" + s + "\"";
            case Map<?, ?> m -> "an object";
            case List<?> l -> "an array";
            default -> v.toString();
        };
    }
}
