package polar.formats;

import static org.junit.jupiter.api.Assertions.*;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class JsonTest {

    @Test
    void parsesEveryKindOfValue() {
        Object v = Json.parse("{\"a\": [1, -2.5e3, true, false, null, \"x\\ty\\u00e9\\ud83d\\ude00\"], \"b\": {}, \"c\": [], \"big\": 12345678901234567890}");
        Map<?, ?> m = (Map<?, ?>) v;
        assertEquals(List.of("a", "b", "c", "big"), List.copyOf(m.keySet()));
        List<?> a = (List<?>) m.get("a");
        assertEquals(1L, a.get(0));
        assertEquals(-2500.0, a.get(1));
        assertEquals(true, a.get(2));
        assertEquals(false, a.get(3));
        assertNull(a.get(4));
        assertEquals("x\tyé\uD83D\uDE00", a.get(5));
        assertEquals(Map.of(), m.get("b"));
        assertEquals(List.of(), m.get("c"));
        assertEquals(1.2345678901234567e19, m.get("big"));
    }

    @Test
    void writesWhatItReads() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("text", "quote\" backslash\\ newline\n tab\t bell\u0007 \u2028 emoji \uD83D\uDE00 é");
        m.put("ints", List.of(1L, -2L, Long.MAX_VALUE));
        m.put("floats", List.of(0.5, -1e-30, 3.0, 1e300));
        m.put("nested", Map.of("k", List.of(Map.of("deep", true))));
        m.put("nothing", null);
        String text = Json.write(m);
        assertFalse(text.contains("\n"), "control characters are escaped");
        assertEquals(m, Json.parse(text));
        assertEquals(m, Json.parse(Json.writePretty(m)));
        assertEquals("[1,2,3]", Json.write(new int[] {1, 2, 3}));
        assertEquals("[0.5,2.0]", Json.write(new float[] {0.5f, 2f}));
        assertEquals("\"\\ud800\"", Json.write("\uD800"), "a lone surrogate is escaped, not written as invalid UTF-8");
    }

    @Test
    void roundTripsRandomStrings() {
        Random r = new Random(3);
        for (int n = 0; n < 200; n++) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < 30; i++) sb.appendCodePoint(r.nextInt(4) == 0 ? r.nextInt(0x20) : randomCodePoint(r));
            String s = sb.toString();
            assertEquals(s, Json.parse(Json.write(s)));
        }
    }

    private static int randomCodePoint(Random r) {
        while (true) {
            int cp = r.nextInt(3) == 0 ? r.nextInt(0x80) : r.nextInt(0x10FFFF + 1);
            if (cp < 0xD800 || cp > 0xDFFF) return cp;
        }
    }

    @Test
    void errorsGiveLineAndColumn() {
        Json.JsonException e = assertThrows(Json.JsonException.class, () -> Json.parse("{\n  \"a\": 1,\n  \"b\": tru\n}", "cfg.json"));
        assertEquals(3, e.line);
        assertEquals(8, e.column);
        assertTrue(e.getMessage().startsWith("cfg.json:3:8:"), e.getMessage());

        assertPosition("[1, 2", 1, 6, "end of input");
        assertPosition("{\"a\" 1}", 1, 6, "expected ':'");
        assertPosition("[1,]", 1, 4, "unexpected ']'");
        assertPosition("\"abc", 1, 5, "unterminated string");
        assertPosition("{} x", 1, 4, "after the JSON value");
        assertPosition("[01]", 1, 3, "expected ',' or ']'");
        assertPosition("\"\\q\"", 1, 3, "invalid escape");
        assertPosition("-", 1, 2, "invalid number");
    }

    private static void assertPosition(String text, int line, int column, String message) {
        Json.JsonException e = assertThrows(Json.JsonException.class, () -> Json.parse(text), text);
        assertEquals(line + ":" + column, e.line + ":" + e.column, text + " -> " + e.getMessage());
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    @Test
    void fieldsNameTheSourceAndField() {
        JsonFields f = JsonFields.of(Json.parse("{\"n\": \"x\", \"e\": [1, 2], \"one\": 3, \"f\": 2.0}"), "config.json");
        assertArrayEquals(new long[] {1, 2}, f.integers("e"));
        assertArrayEquals(new long[] {3}, f.integers("one"));
        assertEquals(2, f.integer("f"));
        assertEquals(7, f.integer("absent", 7));
        FormatException e = assertThrows(FormatException.class, () -> f.integer("n"));
        assertEquals("config.json: field 'n' must be an integer, got \"x\"", e.getMessage());
        e = assertThrows(FormatException.class, () -> f.string("missing"));
        assertEquals("config.json: field 'missing' is missing", e.getMessage());
    }
}
