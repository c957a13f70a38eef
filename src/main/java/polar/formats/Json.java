package polar.formats;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON reader and writer.
 *
 * <p>Parsing gives {@code Map<String,Object>} (insertion-ordered), {@code List<Object>}, {@code String},
 * {@code Long} (integers that fit), {@code Double} (other numbers), {@code Boolean} and {@code null}.
 * Errors are {@link JsonException}s carrying the line and column (1-based) and the source's name.
 *
 * <p>Writing accepts the same types plus any {@link Number}, {@code int[]}/{@code long[]}/
 * {@code float[]}/{@code double[]}, and {@link Iterable}s; strings are escaped per RFC 8259.
 */
public final class Json {
    private Json() {}

    /** A syntax error at {@code line}:{@code column} of {@code source}. */
    public static final class JsonException extends FormatException {
        public final String source;
        public final int line, column;

        JsonException(String source, int line, int column, String message) {
            super(source + ":" + line + ":" + column + ": " + message);
            this.source = source;
            this.line = line;
            this.column = column;
        }
    }

    /** Parses {@code text}; {@code source} names it in error messages (a file name, "request body"). */
    public static Object parse(String text, String source) {
        Parser p = new Parser(text, source);
        p.skipSpace();
        Object value = p.value();
        p.skipSpace();
        if (p.pos < text.length()) throw p.error("unexpected '" + text.charAt(p.pos) + "' after the JSON value");
        return value;
    }

    public static Object parse(String text) { return parse(text, "<json>"); }

    /** Parses a JSON file (UTF-8), naming it in errors. */
    public static Object parse(java.nio.file.Path file) throws java.io.IOException {
        return parse(java.nio.file.Files.readString(file), file.toString());
    }

    /** Parses text that must be a JSON object. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseObject(String text, String source) {
        Object v = parse(text, source);
        if (!(v instanceof Map)) throw new JsonException(source, 1, 1, "expected a JSON object");
        return (Map<String, Object>) v;
    }

    private static final class Parser {
        final String s;
        final String source;
        int pos;

        Parser(String s, String source) {
            this.s = s;
            this.source = source;
        }

        JsonException error(String message) {
            int line = 1, col = 1;
            for (int i = 0; i < Math.min(pos, s.length()); i++) {
                if (s.charAt(i) == '\n') { line++; col = 1; } else col++;
            }
            return new JsonException(source, line, col, message);
        }

        void skipSpace() {
            while (pos < s.length()) {
                char c = s.charAt(pos);
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r') pos++;
                else break;
            }
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
                    if (c == '-' || (c >= '0' && c <= '9')) yield number();
                    throw error("unexpected '" + c + "'");
                }
            };
        }

        Object literal(String word, Object value) {
            if (!s.startsWith(word, pos)) throw error("invalid literal (expected " + word + ")");
            pos += word.length();
            return value;
        }

        Map<String, Object> object() {
            expect('{');
            Map<String, Object> map = new LinkedHashMap<>();
            skipSpace();
            if (peek() == '}') { pos++; return map; }
            while (true) {
                skipSpace();
                if (peek() != '"') throw error("expected a string key");
                String key = string();
                skipSpace();
                expect(':');
                skipSpace();
                map.put(key, value());
                skipSpace();
                char c = peek();
                pos++;
                if (c == '}') return map;
                if (c != ',') { pos--; throw error("expected ',' or '}' in object"); }
            }
        }

        List<Object> array() {
            expect('[');
            List<Object> list = new ArrayList<>();
            skipSpace();
            if (peek() == ']') { pos++; return list; }
            while (true) {
                skipSpace();
                list.add(value());
                skipSpace();
                char c = peek();
                pos++;
                if (c == ']') return list;
                if (c != ',') { pos--; throw error("expected ',' or ']' in array"); }
            }
        }

        String string() {
            expect('"');
            StringBuilder sb = null;
            int start = pos;
            while (true) {
                if (pos >= s.length()) throw error("unterminated string");
                char c = s.charAt(pos);
                if (c == '"') {
                    String out = sb == null ? s.substring(start, pos) : sb.append(s, start, pos).toString();
                    pos++;
                    return out;
                }
                if (c < 0x20) throw error("control character in string (must be escaped)");
                if (c != '\\') { pos++; continue; }
                if (sb == null) sb = new StringBuilder();
                sb.append(s, start, pos);
                pos++;
                char e = peek();
                pos++;
                switch (e) {
                    case '"' -> sb.append('"');
                    case '\\' -> sb.append('\\');
                    case '/' -> sb.append('/');
                    case 'b' -> sb.append('\b');
                    case 'f' -> sb.append('\f');
                    case 'n' -> sb.append('\n');
                    case 'r' -> sb.append('\r');
                    case 't' -> sb.append('\t');
                    case 'u' -> {
                        if (pos + 4 > s.length()) throw error("truncated \\u escape");
                        int code = 0;
                        for (int i = 0; i < 4; i++) {
                            int d = Character.digit(s.charAt(pos + i), 16);
                            if (d < 0) throw error("invalid hex digit in \\u escape");
                            code = code * 16 + d;
                        }
                        pos += 4;
                        sb.append((char) code);
                    }
                    default -> { pos--; throw error("invalid escape '\\" + e + "'"); }
                }
                start = pos;
            }
        }

        Object number() {
            int start = pos;
            if (s.charAt(pos) == '-') pos++;
            if (pos >= s.length() || !Character.isDigit(s.charAt(pos))) throw error("invalid number");
            if (s.charAt(pos) == '0') pos++;
            else while (pos < s.length() && Character.isDigit(s.charAt(pos))) pos++;
            boolean integral = true;
            if (pos < s.length() && s.charAt(pos) == '.') {
                integral = false;
                pos++;
                if (pos >= s.length() || !Character.isDigit(s.charAt(pos))) throw error("digits expected after '.'");
                while (pos < s.length() && Character.isDigit(s.charAt(pos))) pos++;
            }
            if (pos < s.length() && (s.charAt(pos) == 'e' || s.charAt(pos) == 'E')) {
                integral = false;
                pos++;
                if (pos < s.length() && (s.charAt(pos) == '+' || s.charAt(pos) == '-')) pos++;
                if (pos >= s.length() || !Character.isDigit(s.charAt(pos))) throw error("digits expected in exponent");
                while (pos < s.length() && Character.isDigit(s.charAt(pos))) pos++;
            }
            String text = s.substring(start, pos);
            if (integral) {
                try {
                    return Long.parseLong(text);
                } catch (NumberFormatException tooBig) {
                    // falls through to double, as JavaScript would
                }
            }
            return Double.parseDouble(text);
        }
    }

    /** Compact JSON text of {@code value}. */
    public static String write(Object value) {
        StringBuilder sb = new StringBuilder();
        write(value, sb);
        return sb.toString();
    }

    public static void write(Object value, StringBuilder out) {
        switch (value) {
            case null -> out.append("null");
            case String str -> quote(str, out);
            case Boolean b -> out.append(b);
            case Double d -> number(d, out);
            case Float f -> number(f, out);
            case Number n -> out.append(n.longValue());
            case Map<?, ?> map -> {
                out.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    if (!first) out.append(',');
                    first = false;
                    quote(String.valueOf(e.getKey()), out);
                    out.append(':');
                    write(e.getValue(), out);
                }
                out.append('}');
            }
            case Iterable<?> items -> {
                out.append('[');
                Iterator<?> it = items.iterator();
                while (it.hasNext()) {
                    write(it.next(), out);
                    if (it.hasNext()) out.append(',');
                }
                out.append(']');
            }
            case int[] a -> { out.append('['); for (int i = 0; i < a.length; i++) { if (i > 0) out.append(','); out.append(a[i]); } out.append(']'); }
            case long[] a -> { out.append('['); for (int i = 0; i < a.length; i++) { if (i > 0) out.append(','); out.append(a[i]); } out.append(']'); }
            case float[] a -> { out.append('['); for (int i = 0; i < a.length; i++) { if (i > 0) out.append(','); number(a[i], out); } out.append(']'); }
            case double[] a -> { out.append('['); for (int i = 0; i < a.length; i++) { if (i > 0) out.append(','); number(a[i], out); } out.append(']'); }
            case Object[] a -> write(List.of(a), out);
            default -> throw new IllegalArgumentException("cannot write " + value.getClass().getName() + " as JSON");
        }
    }

    private static void number(double d, StringBuilder out) {
        if (Double.isNaN(d) || Double.isInfinite(d)) throw new IllegalArgumentException("JSON has no " + d);
        if (d == Math.rint(d) && Math.abs(d) < 1e15) out.append((long) d).append(".0");
        else out.append(d);
    }

    private static void number(float f, StringBuilder out) {
        if (Float.isNaN(f) || Float.isInfinite(f)) throw new IllegalArgumentException("JSON has no " + f);
        if (f == Math.rint(f) && Math.abs(f) < 1e7f) out.append((long) f).append(".0");
        else out.append(f); // shortest repr that reads back as the same float
    }

    /** Appends {@code s} as a JSON string literal. */
    public static void quote(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    // Control characters and lone surrogates (invalid in UTF-8 output) are \\u-escaped.
                    if (c < 0x20 || c == 0x2028 || c == 0x2029 || (Character.isSurrogate(c) && !validPair(s, i)))
                        out.append(String.format("\\u%04x", (int) c));
                    else {
                        out.append(c);
                        if (Character.isHighSurrogate(c)) out.append(s.charAt(++i));
                    }
                }
            }
        }
        out.append('"');
    }

    private static boolean validPair(String s, int i) {
        return Character.isHighSurrogate(s.charAt(i)) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
    }

    public static String quote(String s) {
        StringBuilder sb = new StringBuilder();
        quote(s, sb);
        return sb.toString();
    }

    /** Pretty-printed JSON with two-space indentation. */
    public static String writePretty(Object value) {
        StringBuilder sb = new StringBuilder();
        pretty(value, sb, 0);
        return sb.append('\n').toString();
    }

    private static void pretty(Object value, StringBuilder out, int depth) {
        if (value instanceof Map<?, ?> map && !map.isEmpty()) {
            out.append("{\n");
            Iterator<? extends Map.Entry<?, ?>> it = map.entrySet().iterator();
            while (it.hasNext()) {
                Map.Entry<?, ?> e = it.next();
                out.append("  ".repeat(depth + 1));
                quote(String.valueOf(e.getKey()), out);
                out.append(": ");
                pretty(e.getValue(), out, depth + 1);
                out.append(it.hasNext() ? ",\n" : "\n");
            }
            out.append("  ".repeat(depth)).append('}');
        } else if (value instanceof List<?> list && !list.isEmpty() && list.stream().anyMatch(v -> v instanceof Map || v instanceof List)) {
            out.append("[\n");
            for (int i = 0; i < list.size(); i++) {
                out.append("  ".repeat(depth + 1));
                pretty(list.get(i), out, depth + 1);
                out.append(i + 1 < list.size() ? ",\n" : "\n");
            }
            out.append("  ".repeat(depth)).append(']');
        } else {
            write(value, out);
        }
    }
}
