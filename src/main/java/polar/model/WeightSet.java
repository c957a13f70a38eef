package polar.model;

import java.util.Arrays;
import java.util.Map;
import polar.formats.FormatException;
import polar.formats.Tensor;

/**
 * A model file's tensors by name, handed out only with the shape the config implies:
 * a missing tensor or a disagreeing shape is an error naming the file, the tensor and both shapes.
 *
 * @param source what the tensors were read from (a folder or a file), for messages about missing tensors
 */
record WeightSet(Map<String, Tensor> tensors, String source) {

    /** The tensor {@code name}, which must exist with exactly {@code shape}. */
    Tensor require(String name, long... shape) {
        Tensor t = tensors.get(name);
        if (t == null) throw new FormatException(source + ": tensor '" + name + "' is missing");
        return checked(t, shape);
    }

    /** The tensor {@code name} with {@code shape}, or null when absent. */
    Tensor optional(String name, long... shape) {
        Tensor t = tensors.get(name);
        return t == null ? null : checked(t, shape);
    }

    boolean has(String name) { return tensors.containsKey(name); }

    static Tensor checked(Tensor t, long... shape) {
        if (!Arrays.equals(t.shape(), shape))
            throw new FormatException(t.file() + ": tensor '" + t.name() + "' has shape " + Arrays.toString(t.shape())
                    + " but the config implies " + Arrays.toString(shape));
        return t;
    }
}
