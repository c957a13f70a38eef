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
 * # model     batch  context  [heads mlp]  [breakdown]
 * llama2-7b   16     4096
 * llama2-7b   16     4096     0.5 1        # Polar: half the heads in layers 1..31
 * llama3-8b   64     4096     breakdown    # also time each task of one layer
 * </pre>
 */
public final class DecodePlan {
    private DecodePlan() {}

    /** One measurement: a model shape at a batch and context (positions attended, the new token included). */
    public record Row(BenchModel model, int batch, int context, Sparsity sparsity, boolean breakdown) {
        public Row {
            if (batch < 1 || context < 1) throw new IllegalArgumentException("batch " + batch + " and context " + context + " must be positive");
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

    static Row parse(String[] words) {
        boolean breakdown = words[words.length - 1].equals("breakdown");
        int n = breakdown ? words.length - 1 : words.length;
        if (n != 3 && n != 5) throw new IllegalArgumentException("expected: model batch context [heads mlp] [breakdown]");
        Sparsity s = n == 5 ? new Sparsity(Double.parseDouble(words[3]), Double.parseDouble(words[4])) : Sparsity.DENSE;
        return new Row(BenchModel.byId(words[0]), Integer.parseInt(words[1]), Integer.parseInt(words[2]), s, breakdown);
    }

    /** Every combination of the given batches and contexts, dense. */
    public static List<Row> grid(BenchModel model, int[] batches, int[] contexts, Sparsity sparsity) {
        List<Row> rows = new ArrayList<>();
        for (int b : batches) for (int c : contexts) rows.add(new Row(model, b, c, sparsity, false));
        return rows;
    }
}
