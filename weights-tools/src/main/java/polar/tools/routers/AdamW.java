package polar.tools.routers;

/**
 * AdamW (Loshchilov and Hutter): Adam moments with bias correction, and weight decay applied
 * directly to the weights ({@code p -= lr * wd * p}) rather than through the gradient.
 */
final class AdamW {
    private final float lr, beta1, beta2, eps, weightDecay;
    private final float[][] m, v;
    private final boolean[] decays;
    private int t;

    AdamW(float[][] params, boolean[] decays, float lr, float beta1, float beta2, float eps, float weightDecay) {
        this.lr = lr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.decays = decays;
        m = new float[params.length][];
        v = new float[params.length][];
        for (int i = 0; i < params.length; i++) {
            m[i] = new float[params[i].length];
            v[i] = new float[params[i].length];
        }
    }

    void step(float[][] params, float[][] grads) {
        t++;
        float c1 = (float) (1 - Math.pow(beta1, t)), c2 = (float) (1 - Math.pow(beta2, t));
        for (int a = 0; a < params.length; a++) {
            float[] p = params[a], g = grads[a], ma = m[a], va = v[a];
            float decay = decays[a] ? 1 - lr * weightDecay : 1;
            for (int i = 0; i < p.length; i++) {
                ma[i] = beta1 * ma[i] + (1 - beta1) * g[i];
                va[i] = beta2 * va[i] + (1 - beta2) * g[i] * g[i];
                p[i] = p[i] * decay - lr * (ma[i] / c1) / ((float) Math.sqrt(va[i] / c2) + eps);
            }
        }
    }
}
