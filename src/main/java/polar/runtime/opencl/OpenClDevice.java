package polar.runtime.opencl;

import static polar.runtime.opencl.OpenCl.*;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * An OpenCL device and the facts Polar needs about it.
 *
 * @param version        e.g. "OpenCL 3.0 CUDA"
 * @param maxWorkGroup   largest work-group (CL_DEVICE_MAX_WORK_GROUP_SIZE)
 */
public record OpenClDevice(MemorySegment platform, MemorySegment device, String platformName, String name, Kind kind,
                           String version, long maxWorkGroup, long localMemoryBytes, long globalMemoryBytes, int computeUnits) {

    /** Device types, in the order Polar prefers them. */
    public enum Kind { GPU, ACCELERATOR, CPU, OTHER }

    /** Whether the device implements OpenCL 2.0 or later (so {@code clCreateCommandQueueWithProperties} exists). */
    public boolean openCl2() {
        // CL_DEVICE_VERSION is "OpenCL <major>.<minor> <vendor text>".
        String[] words = version.split(" ");
        return words.length > 1 && !words[1].startsWith("1.");
    }

    @Override
    public String toString() {
        return name + " (" + platformName + ", " + version + ", " + kind + ")";
    }

    /**
     * All devices of all platforms whose name contains {@code platformFilter} (case-insensitive;
     * null or empty for every platform), GPUs first, then accelerators, then CPUs, each group in
     * platform order. Empty when OpenCL or its platforms are absent.
     */
    public static List<OpenClDevice> all(String platformFilter) {
        String filter = platformFilter == null ? "" : platformFilter.toLowerCase(Locale.ROOT);
        List<OpenClDevice> found = new ArrayList<>();
        for (MemorySegment platform : platformIds()) {
            String platformName = platformInfo(platform, CL_PLATFORM_NAME);
            if (!platformName.toLowerCase(Locale.ROOT).contains(filter)) continue;
            for (MemorySegment device : deviceIds(platform, CL_DEVICE_TYPE_ALL)) {
                found.add(describe(platform, platformName, device));
            }
        }
        found.sort(Comparator.comparing(OpenClDevice::kind)); // stable: platform order within a kind
        return List.copyOf(found);
    }

    private static OpenClDevice describe(MemorySegment platform, String platformName, MemorySegment device) {
        long type = deviceInfoLong(device, CL_DEVICE_TYPE);
        Kind kind = (type & CL_DEVICE_TYPE_GPU) != 0 ? Kind.GPU
                : (type & CL_DEVICE_TYPE_ACCELERATOR) != 0 ? Kind.ACCELERATOR
                : (type & CL_DEVICE_TYPE_CPU) != 0 ? Kind.CPU : Kind.OTHER;
        return new OpenClDevice(platform, device, platformName, deviceInfoString(device, CL_DEVICE_NAME), kind,
                deviceInfoString(device, CL_DEVICE_VERSION), deviceInfoLong(device, CL_DEVICE_MAX_WORK_GROUP_SIZE),
                deviceInfoLong(device, CL_DEVICE_LOCAL_MEM_SIZE), deviceInfoLong(device, CL_DEVICE_GLOBAL_MEM_SIZE),
                (int) deviceInfoLong(device, CL_DEVICE_MAX_COMPUTE_UNITS));
    }
}
