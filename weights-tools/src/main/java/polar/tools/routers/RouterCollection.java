package polar.tools.routers;

import java.util.ArrayList;
import java.util.List;
import polar.engine.sparsity.LayerObserver;
import polar.tools.Progress;

/**
 * Runs a model over a corpus and records router data: the text is split into documents, tokenized,
 * cut into windows of up to {@code window} tokens each starting with BOS, and each window runs
 * through the model. Every position but the BOS is recorded (decode never routes the BOS).
 */
public final class RouterCollection {
    private RouterCollection() {}

    /** Document separators: TinyStories' end-of-text marker, else blank lines. */
    static List<String> documents(String text) {
        String[] parts = text.contains("<|endoftext|>") ? text.split("<\\|endoftext\\|>") : text.replace("\r", "").split("\n\\s*\n");
        List<String> docs = new ArrayList<>();
        for (String p : parts) if (!p.isBlank()) docs.add(p.strip());
        return docs;
    }

    /** Records up to {@code maxTokens} positions (0: the whole text) into {@code out}; returns the number recorded. */
    public static long collect(ActivationSource model, String text, int window, long maxTokens, RouterDataCollector out, Progress progress) {
        if (window < 2) throw new IllegalArgumentException("window must be at least 2 tokens: " + window);
        int bos = model.bos();
        int body = bos >= 0 ? window - 1 : window;
        long recorded = 0;
        List<int[]> batch = new ArrayList<>();
        for (String doc : documents(text)) {
            int[] ids = model.encode(doc);
            for (int start = 0; start < ids.length && (maxTokens <= 0 || recorded < maxTokens); start += body) {
                int n = Math.min(body, ids.length - start);
                if (maxTokens > 0) n = (int) Math.min(n, maxTokens - recorded);
                int[] tokens = new int[bos >= 0 ? n + 1 : n];
                if (bos >= 0) tokens[0] = bos;
                System.arraycopy(ids, start, tokens, bos >= 0 ? 1 : 0, n);
                batch.add(tokens);
                recorded += n;
                if (batch.size() == model.maxSequences()) run(model, batch, bos >= 0, out, progress);
            }
            if (maxTokens > 0 && recorded >= maxTokens) break;
        }
        run(model, batch, bos >= 0, out, progress);
        progress.finish(recorded + " positions recorded");
        return recorded;
    }

    private static void run(ActivationSource model, List<int[]> batch, boolean skipBos, RouterDataCollector out, Progress progress) {
        if (batch.isEmpty()) return;
        model.run(batch, skipBos ? skipFirstRows(batch, out) : out);
        for (int[] s : batch) progress.step(skipBos ? s.length - 1 : s.length);
        batch.clear();
    }

    /** An observer that passes on every row but each sequence's first (its BOS position). */
    static LayerObserver skipFirstRows(List<int[]> sequences, LayerObserver next) {
        int[] lengths = sequences.stream().mapToInt(s -> s.length).toArray();
        return (layer, rows, normedInput, headOutput, mlpActivity) -> {
            int kept = rows - lengths.length;
            next.layer(layer, kept, dropFirstRows(normedInput, rows, lengths), dropFirstRows(headOutput, rows, lengths),
                    mlpActivity == null ? null : dropFirstRows(mlpActivity, rows, lengths));
        };
    }

    private static float[] dropFirstRows(float[] a, int rows, int[] lengths) {
        int width = a.length / rows;
        float[] out = new float[a.length - lengths.length * width];
        int src = 0, dst = 0;
        for (int len : lengths) {
            int n = (len - 1) * width;
            System.arraycopy(a, src + width, out, dst, n);
            src += len * width;
            dst += n;
        }
        return out;
    }
}
