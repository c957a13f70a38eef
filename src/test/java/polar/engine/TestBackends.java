package polar.engine;

import java.util.Arrays;
import java.util.List;
import polar.runtime.Backends;

/** The backends tests run on: those available here, narrowed by {@code -Dpolar.backends=cuda,jvm} when given. */
public final class TestBackends {
    private TestBackends() {}

    public static List<String> names() {
        String only = System.getProperty("polar.backends");
        List<String> available = Backends.available();
        if (only == null || only.isBlank()) return available;
        List<String> wanted = Arrays.stream(only.split(",")).map(String::strip).toList();
        return available.stream().filter(wanted::contains).toList();
    }
}
