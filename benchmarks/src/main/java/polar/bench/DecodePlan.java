package polar.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import polar.model.BenchModel;

/**
 * The rows of a decode sweep, shared with the PyTorch peer so both measure the same shapes. A plan
 * file has one row per line, {@code #} starts a comment:
 * <pre>
 * # model     batch  context  [heads mlp]  [breakdown]  [target R]
 * llama2-7b   16     4096
 * llama2-7b   16     4096     0.5 1        # Polar: half the heads in layers 1..31
 * llama3-8b   64     4096     breakdown    # also time each task of one layer
 * llama2-7b   16     4096     0.5 1  target 1.5   # issue 5: at least 1.5x the peer's tokens/s
 * </pre>
 * {@code target R}: the least ratio of Polar's tokens/s to the peer's (dense) row of the same shape
 * that the row must reach; it goes into the JSON, and {@code compare.py} names each target met or missed.
 */
public final class DecodePlan {
    private DecodePlan() {}

    /**
     * One measurement: a model shape at a batch and context (positions attended, the new token included).
     *
     * @param target least Polar/peer tokens/s ratio the row must reach, or 0: none
     */
    public record Row(BenchModel model, int batch, int context, Sparsity sparsity, boolean breakdown, double target) {
        public Row {
            if (batch < 1 || context < 1) throw new IllegalArgumentException("batch " + batch + " and context " + context + " must be positive");
            if (!(target >= 0)) throw new IllegalArgumentException("target " + target + " must be a positive ratio");
        }

        public Row(BenchModel model, int batch, int context, Sparsity sparsity, boolean breakdown) {
            this(model, batch, context, sparsity, breakdown, 0);
        }
    }

    public static List<Row> read(Path file) throws IOException {
        List<Row> rows = new ArrayList<>();
        List<String> lines = Files.readAllLines(file);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            int hash = line.indexOf('#');
            if (hash >= 0) line = line.substring(0, hash);
            line = line.strip();
            if (line.isEmpty()) continue;
            try {
                rows.add(parse(line.split("\\s+")));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": " + e.getMessage() + " in '" + lines.get(i).strip() + "'", e);
            }
        }
        return rows;
    }

    static final String FORMAT = "expected: model batch context [heads mlp] [breakdown] [target R]";

    static Row parse(String[] words) {
        List<String> w = new ArrayList<>(List.of(words));
        boolean breakdown = false;
        double target = 0;
        // Trailing options, in either order.
        while (w.size() > 3) {
            if (w.getLast().equals("breakdown")) {
                breakdown = true;
                w.removeLast();
            } else if (w.size() >= 5 && w.get(w.size() - 2).equals("target")) {
                target = Double.parseDouble(w.getLast());
                if (!(target > 0)) throw new IllegalArgumentException("target " + w.getLast() + " must be a positive ratio");
                w.subList(w.size() - 2, w.size()).clear();
            } else {
                break;
            }
        }
        int n = w.size();
        if (n != 3 && n != 5) throw new IllegalArgumentException(FORMAT);
        Sparsity s = n == 5 ? new Sparsity(Double.parseDouble(w.get(3)), Double.parseDouble(w.get(4))) : Sparsity.DENSE;
        return new Row(BenchModel.byId(w.get(0)), Integer.parseInt(w.get(1)), Integer.parseInt(w.get(2)), s, breakdown, target);
    }

    /** Every combination of the given batches and contexts. */
    public static List<Row> grid(BenchModel model, int[] batches, int[] contexts, Sparsity sparsity) {
        List<Row> rows = new ArrayList<>();
        for (int b : batches) for (int c : contexts) rows.add(new Row(model, b, c, sparsity, false));
        return rows;
    }
}
