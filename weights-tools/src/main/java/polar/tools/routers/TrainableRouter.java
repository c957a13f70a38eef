package polar.tools.routers;

import java.util.Random;
import polar.engine.sparsity.RouterWeights.AttentionRouter;
import polar.engine.sparsity.RouterWeights.MlpRouter;

/**
 * A router being trained, its weights kept transposed ({@code [in, out]}) so forward and backward
 * passes are row updates (see {@link Mat}). Converts to and from the stored {@code [out, in]} form.
 */
abstract sealed class TrainableRouter permits TrainableRouter.Linear, TrainableRouter.LowRank {

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
