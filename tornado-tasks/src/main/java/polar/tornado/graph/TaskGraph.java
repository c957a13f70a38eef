package polar.tornado.graph;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * An ordered list of tasks over device buffers, built once and run many times. Graphs chain
 * through buffers that stay on the device; a backend {@link polar.tornado.runtime.Backend#compile
 * compiles} them (kernels translated and loaded) and may capture them as one CUDA graph.
 *
 * <pre>{@code
 * TaskGraph g = new TaskGraph("add");
 * g.parallel(Elementwise::add, Grid.of(n), x, y, out);
 * backend.compile(g).run();
 * }</pre>
 */
public final class TaskGraph {
    private final String name;
    private final List<Task> tasks = new ArrayList<>();

    public TaskGraph(String name) {
        this.name = name;
    }

    public String name() { return name; }

    public List<Task> tasks() { return Collections.unmodifiableList(tasks); }

    /** Appends a task built elsewhere (for example by a layer builder). */
    public <T extends Task> T add(T task) {
        tasks.add(task);
        return task;
    }

    private KernelTask add(KernelRef kernel, Grid grid, Arg<?>... args) {
        if (kernel.usesContext() && !grid.hasLocalSize()) {
            throw new IllegalArgumentException(kernel + " uses KernelContext and needs a grid with a work-group size (Grid.groups)");
        }
        return add(new KernelTask(kernel, grid, List.of(args)));
    }

    /** {@code C = alpha * A * B^T + beta * C}; see {@link GemmTask}. */
    public GemmTask gemm(Buffer<?> a, long aOffset, Buffer<?> b, long bOffset, Buffer<?> c, long cOffset,
                         int m, int n, int k, float alpha, float beta) {
        return add(new GemmTask(a, aOffset, k, b, bOffset, k, c, cOffset, n, m, n, k, alpha, beta));
    }

    public CopyTask copy(Buffer<?> src, long srcOffset, Buffer<?> dst, long dstOffset, long count) {
        return add(new CopyTask(src, srcOffset, dst, dstOffset, count));
    }

    // One overload per kernel arity: the method reference fixes each argument's type.
    public <A> KernelTask parallel(KernelMethods.P1<A> kernel, Grid grid, Arg<A> a) { return add(KernelRef.of(kernel), grid, a); }
    public <A, B> KernelTask parallel(KernelMethods.P2<A, B> kernel, Grid grid, Arg<A> a, Arg<B> b) { return add(KernelRef.of(kernel), grid, a, b); }
    public <A, B, C> KernelTask parallel(KernelMethods.P3<A, B, C> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c) { return add(KernelRef.of(kernel), grid, a, b, c); }
    public <A, B, C, D> KernelTask parallel(KernelMethods.P4<A, B, C, D> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d) { return add(KernelRef.of(kernel), grid, a, b, c, d); }
    public <A, B, C, D, E> KernelTask parallel(KernelMethods.P5<A, B, C, D, E> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e) { return add(KernelRef.of(kernel), grid, a, b, c, d, e); }
    public <A, B, C, D, E, F> KernelTask parallel(KernelMethods.P6<A, B, C, D, E, F> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f); }
    public <A, B, C, D, E, F, G> KernelTask parallel(KernelMethods.P7<A, B, C, D, E, F, G> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g); }
    public <A, B, C, D, E, F, G, H> KernelTask parallel(KernelMethods.P8<A, B, C, D, E, F, G, H> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h); }
    public <A, B, C, D, E, F, G, H, I> KernelTask parallel(KernelMethods.P9<A, B, C, D, E, F, G, H, I> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i); }
    public <A, B, C, D, E, F, G, H, I, J> KernelTask parallel(KernelMethods.P10<A, B, C, D, E, F, G, H, I, J> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j); }
    public <A, B, C, D, E, F, G, H, I, J, K> KernelTask parallel(KernelMethods.P11<A, B, C, D, E, F, G, H, I, J, K> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k); }
    public <A, B, C, D, E, F, G, H, I, J, K, L> KernelTask parallel(KernelMethods.P12<A, B, C, D, E, F, G, H, I, J, K, L> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M> KernelTask parallel(KernelMethods.P13<A, B, C, D, E, F, G, H, I, J, K, L, M> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N> KernelTask parallel(KernelMethods.P14<A, B, C, D, E, F, G, H, I, J, K, L, M, N> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m, Arg<N> n) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N, O> KernelTask parallel(KernelMethods.P15<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m, Arg<N> n, Arg<O> o) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P> KernelTask parallel(KernelMethods.P16<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m, Arg<N> n, Arg<O> o, Arg<P> p) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q> KernelTask parallel(KernelMethods.P17<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m, Arg<N> n, Arg<O> o, Arg<P> p, Arg<Q> q) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R> KernelTask parallel(KernelMethods.P18<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m, Arg<N> n, Arg<O> o, Arg<P> p, Arg<Q> q, Arg<R> r) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S> KernelTask parallel(KernelMethods.P19<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m, Arg<N> n, Arg<O> o, Arg<P> p, Arg<Q> q, Arg<R> r, Arg<S> s) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T> KernelTask parallel(KernelMethods.P20<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m, Arg<N> n, Arg<O> o, Arg<P> p, Arg<Q> q, Arg<R> r, Arg<S> s, Arg<T> t) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t); }
    public KernelTask kernel(KernelMethods.C0 kernel, Grid grid) { return add(KernelRef.of(kernel), grid); }
    public <A> KernelTask kernel(KernelMethods.C1<A> kernel, Grid grid, Arg<A> a) { return add(KernelRef.of(kernel), grid, a); }
    public <A, B> KernelTask kernel(KernelMethods.C2<A, B> kernel, Grid grid, Arg<A> a, Arg<B> b) { return add(KernelRef.of(kernel), grid, a, b); }
    public <A, B, C> KernelTask kernel(KernelMethods.C3<A, B, C> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c) { return add(KernelRef.of(kernel), grid, a, b, c); }
    public <A, B, C, D> KernelTask kernel(KernelMethods.C4<A, B, C, D> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d) { return add(KernelRef.of(kernel), grid, a, b, c, d); }
    public <A, B, C, D, E> KernelTask kernel(KernelMethods.C5<A, B, C, D, E> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e) { return add(KernelRef.of(kernel), grid, a, b, c, d, e); }
    public <A, B, C, D, E, F> KernelTask kernel(KernelMethods.C6<A, B, C, D, E, F> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f); }
    public <A, B, C, D, E, F, G> KernelTask kernel(KernelMethods.C7<A, B, C, D, E, F, G> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g); }
    public <A, B, C, D, E, F, G, H> KernelTask kernel(KernelMethods.C8<A, B, C, D, E, F, G, H> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h); }
    public <A, B, C, D, E, F, G, H, I> KernelTask kernel(KernelMethods.C9<A, B, C, D, E, F, G, H, I> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i); }
    public <A, B, C, D, E, F, G, H, I, J> KernelTask kernel(KernelMethods.C10<A, B, C, D, E, F, G, H, I, J> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j); }
    public <A, B, C, D, E, F, G, H, I, J, K> KernelTask kernel(KernelMethods.C11<A, B, C, D, E, F, G, H, I, J, K> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k); }
    public <A, B, C, D, E, F, G, H, I, J, K, L> KernelTask kernel(KernelMethods.C12<A, B, C, D, E, F, G, H, I, J, K, L> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M> KernelTask kernel(KernelMethods.C13<A, B, C, D, E, F, G, H, I, J, K, L, M> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N> KernelTask kernel(KernelMethods.C14<A, B, C, D, E, F, G, H, I, J, K, L, M, N> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m, Arg<N> n) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N, O> KernelTask kernel(KernelMethods.C15<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m, Arg<N> n, Arg<O> o) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P> KernelTask kernel(KernelMethods.C16<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m, Arg<N> n, Arg<O> o, Arg<P> p) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q> KernelTask kernel(KernelMethods.C17<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m, Arg<N> n, Arg<O> o, Arg<P> p, Arg<Q> q) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R> KernelTask kernel(KernelMethods.C18<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m, Arg<N> n, Arg<O> o, Arg<P> p, Arg<Q> q, Arg<R> r) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S> KernelTask kernel(KernelMethods.C19<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m, Arg<N> n, Arg<O> o, Arg<P> p, Arg<Q> q, Arg<R> r, Arg<S> s) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T> KernelTask kernel(KernelMethods.C20<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m, Arg<N> n, Arg<O> o, Arg<P> p, Arg<Q> q, Arg<R> r, Arg<S> s, Arg<T> t) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U> KernelTask kernel(KernelMethods.C21<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m, Arg<N> n, Arg<O> o, Arg<P> p, Arg<Q> q, Arg<R> r, Arg<S> s, Arg<T> t, Arg<U> u) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u); }
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U, V> KernelTask kernel(KernelMethods.C22<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U, V> kernel, Grid grid, Arg<A> a, Arg<B> b, Arg<C> c, Arg<D> d, Arg<E> e, Arg<F> f, Arg<G> g, Arg<H> h, Arg<I> i, Arg<J> j, Arg<K> k, Arg<L> l, Arg<M> m, Arg<N> n, Arg<O> o, Arg<P> p, Arg<Q> q, Arg<R> r, Arg<S> s, Arg<T> t, Arg<U> u, Arg<V> v) { return add(KernelRef.of(kernel), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u, v); }

    @Override
    public String toString() { return "TaskGraph " + name + " (" + tasks.size() + " tasks)"; }
}
