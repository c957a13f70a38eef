package polar.runtime.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A shared library opened through FFM, and the downcall handles made from it. The library is
 * looked up by its soname (the dynamic loader's search: LD_LIBRARY_PATH, the ldconfig cache),
 * then in the usual CUDA folders, so a toolkit that is installed but not registered is found too.
 */
final class NativeLibrary {
    static final Linker LINKER = Linker.nativeLinker();

    private final String name;
    private final SymbolLookup lookup;

    private NativeLibrary(String name, SymbolLookup lookup) {
        this.name = name;
        this.lookup = lookup;
    }

    /** Opens the first of {@code sonames} that loads; the error lists every place tried. */
    static NativeLibrary open(String... sonames) {
        List<String> tried = new ArrayList<>();
        for (String soname : sonames) {
            for (String candidate : candidates(soname)) {
                try {
                    return new NativeLibrary(soname, SymbolLookup.libraryLookup(candidate, Arena.global()));
                } catch (IllegalArgumentException notThere) {
                    tried.add(candidate);
                }
            }
        }
        throw new CudaException("cannot load " + String.join(" or ", sonames) + " (tried " + String.join(", ", tried)
                + "); set LD_LIBRARY_PATH or POLAR_CUDA_LIBS to its folder", null);
    }

    /** The soname itself first (the loader's own search), then the same name in the CUDA folders that exist. */
    private static List<String> candidates(String soname) {
        Set<String> result = new LinkedHashSet<>();
        result.add(soname);
        for (Path dir : searchFolders()) {
            Path p = dir.resolve(soname);
            if (Files.exists(p)) result.add(p.toString());
        }
        return new ArrayList<>(result);
    }

    private static List<Path> searchFolders() {
        List<Path> dirs = new ArrayList<>();
        String extra = System.getenv("POLAR_CUDA_LIBS");
        if (extra != null) for (String d : extra.split(":")) if (!d.isBlank()) dirs.add(Path.of(d));
        for (String home : new String[] {System.getenv("CUDA_HOME"), System.getenv("CUDA_PATH"), "/usr/local/cuda"}) {
            if (home == null) continue;
            dirs.add(Path.of(home, "lib64"));
            dirs.add(Path.of(home, "lib"));
            dirs.add(Path.of(home, "targets", "x86_64-linux", "lib"));
        }
        dirs.add(Path.of("/usr/local/nvidia/lib64"));
        dirs.add(Path.of("/usr/lib/x86_64-linux-gnu"));
        return dirs;
    }

    String name() { return name; }

    /** A downcall handle for {@code symbol}; a missing symbol is an error naming the library. */
    MethodHandle function(String symbol, FunctionDescriptor descriptor) {
        return optionalFunction(symbol, descriptor)
                .orElseThrow(() -> new CudaException(name + " has no function " + symbol + " (library too old?)", null));
    }

    Optional<MethodHandle> optionalFunction(String symbol, FunctionDescriptor descriptor) {
        return lookup.find(symbol).map(address -> LINKER.downcallHandle(address, descriptor));
    }

    /** The C string at {@code address}, or {@code fallback} for NULL. */
    static String string(MemorySegment address, String fallback) {
        if (address == null || address.equals(MemorySegment.NULL)) return fallback;
        return address.reinterpret(Long.MAX_VALUE).getString(0);
    }

    /** Turns what a downcall threw into an unchecked exception (downcalls throw nothing checked in practice). */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }
}
