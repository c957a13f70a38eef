package polar.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import polar.runtime.jvm.JvmBackend;
import polar.tornado.runtime.Backend;

class BackendsTest {

    @Test
    void theJvmIsAlwaysAvailable() {
        assertTrue(Backends.available().contains(JvmBackend.NAME), Backends.available().toString());
        try (Backend jvm = Backends.open("jvm")) {
            assertEquals("jvm", jvm.name());
        }
    }

    @Test
    void autoPicksTheFirstAvailableInOrderOfPreference() {
        try (Backend auto = Backends.open(Backends.AUTO)) {
            // available() lists cuda, opencl (also on a CPU) and jvm in order; auto takes opencl only on a GPU
            assertTrue(Backends.available().contains(auto.name()), auto.name());
            if (!Backends.available().contains("cuda") && !auto.name().equals("opencl")) assertEquals(JvmBackend.NAME, auto.name());
        }
    }

    @Test
    void unknownNameIsAClearError() {
        var e = assertThrows(IllegalArgumentException.class, () -> Backends.open("metal"));
        assertTrue(e.getMessage().contains("unknown backend 'metal'") && e.getMessage().contains("jvm"), e.getMessage());
    }

    @Test
    void jvmHasOneDevice() {
        var e = assertThrows(IllegalArgumentException.class, () -> Backends.open("jvm", 1));
        assertTrue(e.getMessage().contains("one device"), e.getMessage());
    }
}
