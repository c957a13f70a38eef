package polar.tools.routers;

import java.util.ArrayList;
import java.util.Arrays;
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
        for (String doc : documents(text)) {
            int[] ids = model.encode(doc);
            for (int start = 0; start < ids.length && (maxTokens <= 0 || recorded < maxTokens); start += body) {
                int n = Math.min(body, ids.length - start);
                if (maxTokens > 0) n = (int) Math.min(n, maxTokens - recorded);
                int[] tokens = new int[bos >= 0 ? n + 1 : n];
                if (bos >= 0) tokens[0] = bos;
                System.arraycopy(ids, start, tokens, bos >= 0 ? 1 : 0, n);
                model.run(tokens, bos >= 0 ? skipFirstRow(out) : out);
                recorded += n;
                progress.step(n);
            }
            if (maxTokens > 0 && recorded >= maxTokens) break;
        }
        progress.finish(recorded + " positions recorded");
        return recorded;
    }

    /** An observer that passes on all rows but the first (the BOS position). */
    static LayerObserver skipFirstRow(LayerObserver next) {
        return (layer, rows, normedInput, headOutput, mlpPre) -> {
            if (rows <= 1) return;
            next.layer(layer, rows - 1, dropRow(normedInput, rows), dropRow(headOutput, rows), mlpPre == null ? null : dropRow(mlpPre, rows));
        };
    }

    private static float[] dropRow(float[] a, int rows) {
        return Arrays.copyOfRange(a, a.length / rows, a.length);
    }
}
