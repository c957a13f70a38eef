package polar.tornado.graph;

import java.util.List;

/** One step of a {@link TaskGraph}: a kernel launch or a library call, over device buffers. */
public sealed interface Task permits KernelTask, GemmTask, CopyTask {

    /** Buffers the task reads or writes (for residency checks and traces). */
    List<Buffer<?>> buffers();
}
