package polar.runtime.opencl;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** A test class of the OpenCL backend: one backend, opened before its tests (which skip without an OpenCL device), closed after. */
abstract class OpenClTestBase {
    static OpenClBackend backend;

    @BeforeAll
    static void open() {
        assumeTrue(OpenClBackend.available(), "no OpenCL device");
        backend = new OpenClBackend();
    }

    @AfterAll
    static void close() {
        if (backend != null) backend.close();
        backend = null;
    }
}
