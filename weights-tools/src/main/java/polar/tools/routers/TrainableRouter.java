package polar.tools.routers;

import java.util.Random;
import polar.engine.sparsity.RouterWeights.AttentionRouter;
import polar.engine.sparsity.RouterWeights.MlpRouter;

/**
 * A router being trained, its weights kept transposed ({@code [in, out]}) so forward and backward
 * passes are row updates (see {@link Mat}). Converts to and from the stored {@code [out, in]} form.
 */
abstract sealed class TrainableRouter permits TrainableRouter.Linear, TrainableRouter.TwoLayer, TrainableRouter.LowRank {

    /** Parameter arrays, updated in place by the optimiser. */
    abstract float[][] params();

    /** Whether weight decay applies to each parameter array (not to biases). */
    abstract boolean[] decays();

    abstract int inputs();

    abstract int outputs();

    /** {@code logits[rows, outputs]} of {@code x[rows, inputs]}; remembers what {@link #backward} needs. */
    abstract void forward(Workers w, float[] x, int rows, float[] logits);

    /** Gradients (same shapes as {@link #params}) of the loss, given its gradient with respect to the logits of the last forward. */
    abstract void backward(Workers w, float[] x, int rows, float[] dLogits, float[][] grads);

    /** Logits {@code [rows, outputs]} of all of {@code x[rows, inputs]}, computed in chunks. */
    float[] logits(Workers w, float[] x, int rows) {
        int chunk = 1024, in = inputs(), out = outputs();
        float[] all = new float[Math.multiplyExact(rows, out)], xb = new float[chunk * in], lb = new float[chunk * out];
        for (int start = 0; start < rows; start += chunk) {
            int n = Math.min(chunk, rows - start);
            System.arraycopy(x, start * in, xb, 0, n * in);
            forward(w, xb, n, lb);
            System.arraycopy(lb, 0, all, start * out, n * out);
        }
        return all;
    }

    static void initUniform(float[] a, int fanIn, Random rnd) {
        float bound = (float) (1 / Math.sqrt(fanIn));
        for (int i = 0; i < a.length; i++) a[i] = (rnd.nextFloat() * 2 - 1) * bound;
    }

    /** The attention router: {@code logits = x W^T + b}. */
    static final class Linear extends TrainableRouter {
        final int in, out;
        final float[] wT; // [in, out]
        final float[] bias;

        Linear(int in, int out, Random rnd) {
            this(in, out, new float[in * out], new float[out]);
            initUniform(wT, in, rnd);
        }

        private Linear(int in, int out, float[] wT, float[] bias) {
            this.in = in;
            this.out = out;
            this.wT = wT;
            this.bias = bias;
        }

        static Linear of(AttentionRouter r) {
            return new Linear(r.hidden(), r.units(), Mat.transpose(r.weight(), r.units(), r.hidden()), r.bias().clone());
        }

        AttentionRouter toRouter() {
            return new AttentionRouter(out, in, Mat.transpose(wT, in, out), bias.clone());
        }

        @Override float[][] params() { return new float[][] {wT, bias}; }

        @Override boolean[] decays() { return new boolean[] {true, false}; }

        @Override int inputs() { return in; }

        @Override int outputs() { return out; }

        @Override
        void forward(Workers w, float[] x, int rows, float[] logits) {
            Mat.mul(w, x, rows, in, wT, out, logits);
            for (int i = 0; i < rows; i++) for (int j = 0; j < out; j++) logits[i * out + j] += bias[j];
        }

        @Override
        void backward(Workers w, float[] x, int rows, float[] dLogits, float[][] grads) {
            Mat.mulTransposedLeft(w, x, rows, in, dLogits, out, grads[0]);
            java.util.Arrays.fill(grads[1], 0f);
            for (int i = 0; i < rows; i++) for (int j = 0; j < out; j++) grads[1][j] += dLogits[i * out + j];
        }
    }

    /** An attention router of either form, for training on or scoring. */
    static TrainableRouter of(AttentionRouter r) {
        return r.inner() > 0 ? TwoLayer.of(r) : Linear.of(r);
    }

    /** An attention router of either form: linear ({@code inner == 0}) or two-layer. */
    static TrainableRouter attention(int in, int inner, int out, Random rnd) {
        return inner > 0 ? new TwoLayer(in, inner, out, rnd) : new Linear(in, out, rnd);
    }

    /** The stored attention router. */
    AttentionRouter toAttentionRouter() {
        return switch (this) {
            case Linear l -> l.toRouter();
            case TwoLayer t -> t.toRouter();
            case LowRank m -> throw new IllegalStateException("an MLP router is not an attention router");
        };
    }

    /** The two-layer attention router: {@code logits = ReLU(x W1^T + b1) W^T + b}. */
    static final class TwoLayer extends TrainableRouter {
        final int in, inner, out;
        final float[] w1T, b1; // [in, inner], [inner]
        final float[] w2T, b2; // [inner, out], [out]
        private float[] h = new float[0], w2 = new float[0], dh = new float[0];

        TwoLayer(int in, int inner, int out, Random rnd) {
            this(in, inner, out, new float[in * inner], new float[inner], new float[inner * out], new float[out]);
            initUniform(w1T, in, rnd);
            initUniform(w2T, inner, rnd);
        }

        private TwoLayer(int in, int inner, int out, float[] w1T, float[] b1, float[] w2T, float[] b2) {
            this.in = in;
            this.inner = inner;
            this.out = out;
            this.w1T = w1T;
            this.b1 = b1;
            this.w2T = w2T;
            this.b2 = b2;
        }

        static TwoLayer of(AttentionRouter r) {
            return new TwoLayer(r.hidden(), r.inner(), r.units(), Mat.transpose(r.innerWeight(), r.inner(), r.hidden()), r.innerBias().clone(),
                    Mat.transpose(r.weight(), r.units(), r.inner()), r.bias().clone());
        }

        AttentionRouter toRouter() {
            return new AttentionRouter(out, in, Mat.transpose(w2T, inner, out), b2.clone(), inner, Mat.transpose(w1T, in, inner), b1.clone());
        }

        @Override float[][] params() { return new float[][] {w1T, b1, w2T, b2}; }

        @Override boolean[] decays() { return new boolean[] {true, false, true, false}; }

        @Override int inputs() { return in; }

        @Override int outputs() { return out; }

        @Override
        void forward(Workers w, float[] x, int rows, float[] logits) {
            if (h.length < rows * inner) h = new float[rows * inner];
            Mat.mul(w, x, rows, in, w1T, inner, h);
            for (int i = 0; i < rows; i++) for (int j = 0; j < inner; j++) h[i * inner + j] = Math.max(0f, h[i * inner + j] + b1[j]);
            Mat.mul(w, h, rows, inner, w2T, out, logits);
            for (int i = 0; i < rows; i++) for (int j = 0; j < out; j++) logits[i * out + j] += b2[j];
        }

        @Override
        void backward(Workers w, float[] x, int rows, float[] dLogits, float[][] grads) {
            Mat.mulTransposedLeft(w, h, rows, inner, dLogits, out, grads[2]);
            java.util.Arrays.fill(grads[3], 0f);
            for (int i = 0; i < rows; i++) for (int j = 0; j < out; j++) grads[3][j] += dLogits[i * out + j];
            if (w2.length != out * inner) w2 = new float[out * inner];
            Mat.transpose(w2T, inner, out, w2);
            if (dh.length < rows * inner) dh = new float[rows * inner];
            Mat.mul(w, dLogits, rows, out, w2, inner, dh);
            for (int e = 0; e < rows * inner; e++) if (h[e] <= 0f) dh[e] = 0f; // ReLU: h holds the activations
            Mat.mulTransposedLeft(w, x, rows, in, dh, inner, grads[0]);
            java.util.Arrays.fill(grads[1], 0f);
            for (int i = 0; i < rows; i++) for (int j = 0; j < inner; j++) grads[1][j] += dh[i * inner + j];
        }
    }

    /** The MLP router: {@code logits = (x D^T) U^T}, a rank-{@code rank} linear map without bias. */
    static final class LowRank extends TrainableRouter {
        final int in, rank, out;
        final float[] dT; // [in, rank]
        final float[] uT; // [rank, out]
        private float[] h = new float[0], u = new float[0], dh = new float[0];

        LowRank(int in, int rank, int out, Random rnd) {
            this(in, rank, out, new float[in * rank], new float[rank * out]);
            initUniform(dT, in, rnd);
            initUniform(uT, rank, rnd);
        }

        private LowRank(int in, int rank, int out, float[] dT, float[] uT) {
            this.in = in;
            this.rank = rank;
            this.out = out;
            this.dT = dT;
            this.uT = uT;
        }

        static LowRank of(MlpRouter r) {
            return new LowRank(r.hidden(), r.rank(), r.ffn(), Mat.transpose(r.down(), r.rank(), r.hidden()), Mat.transpose(r.up(), r.ffn(), r.rank()));
        }

        MlpRouter toRouter() {
            return new MlpRouter(in, rank, out, Mat.transpose(dT, in, rank), Mat.transpose(uT, rank, out));
        }

        @Override float[][] params() { return new float[][] {dT, uT}; }

        @Override boolean[] decays() { return new boolean[] {true, true}; }

        @Override int inputs() { return in; }

        @Override int outputs() { return out; }

        @Override
        void forward(Workers w, float[] x, int rows, float[] logits) {
            if (h.length < rows * rank) h = new float[rows * rank];
            Mat.mul(w, x, rows, in, dT, rank, h);
            Mat.mul(w, h, rows, rank, uT, out, logits);
        }

        @Override
        void backward(Workers w, float[] x, int rows, float[] dLogits, float[][] grads) {
            Mat.mulTransposedLeft(w, h, rows, rank, dLogits, out, grads[1]);
            if (u.length != out * rank) u = new float[out * rank];
            Mat.transpose(uT, rank, out, u);
            if (dh.length < rows * rank) dh = new float[rows * rank];
            Mat.mul(w, dLogits, rows, out, u, rank, dh);
            Mat.mulTransposedLeft(w, x, rows, in, dh, rank, grads[0]);
        }
    }
}
