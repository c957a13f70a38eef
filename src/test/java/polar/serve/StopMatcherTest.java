package polar.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class StopMatcherTest {

    /** Feeds {@code pieces}; returns what was emitted, with a final flush unless a stop was found. */
    private static String run(List<String> stops, String... pieces) {
        StopMatcher m = new StopMatcher(stops);
        StringBuilder out = new StringBuilder();
        for (String p : pieces) {
            out.append(m.push(p));
            if (m.stopped()) return out.append("|STOP").toString();
        }
        return out.append(m.flush()).toString();
    }

    @Test
    void stopsBeforeASequenceSplitAcrossPieces() {
        assertEquals("Hello |STOP", run(List.of("###"), "Hello #", "#", "# world"));
        assertEquals("a|STOP", run(List.of("bc"), "ab", "cd"));
    }

    @Test
    void releasesHeldTextThatTurnsOutNotToBeAStop() {
        StopMatcher m = new StopMatcher(List.of("END"));
        assertEquals("the ", m.push("the E"), "'E' may start 'END'");
        assertEquals("", m.push("N"), "'EN' may too");
        assertEquals("ENd", m.push("d"), "'ENd' cannot");
        assertEquals("", m.push("E"));
        assertEquals("E", m.flush());
        assertFalse(m.stopped());
    }

    @Test
    void theEarliestOfSeveralStopsWins() {
        assertEquals("x|STOP", run(List.of("zz", "y"), "xyzz"));
        assertEquals("no stops here", run(List.of(), "no ", "stops ", "here"));
    }

    @Test
    void aStopInsideOnePieceCutsIt() {
        StopMatcher m = new StopMatcher(List.of("\nUser:"));
        assertEquals("Sure.", m.push("Sure.\nUser: more"));
        assertTrue(m.stopped());
    }
}
