package polar.tornado.graph;

import java.io.Serializable;
import polar.tornado.KernelContext;

/**
 * Functional shapes of kernel methods, so a task names its kernel with a method reference
 * ({@code Elementwise::add}) and the compiler checks each argument's type against the kernel's
 * parameter. {@code P<n>}: {@code @Parallel}-loop kernels with n parameters; {@code C<n>}:
 * {@link KernelContext} kernels (context first, then n parameters).
 */
public final class KernelMethods {
    private KernelMethods() {}

    @FunctionalInterface public interface P1<A> extends Serializable { void run(A a); }
    @FunctionalInterface public interface P2<A, B> extends Serializable { void run(A a, B b); }
    @FunctionalInterface public interface P3<A, B, C> extends Serializable { void run(A a, B b, C c); }
    @FunctionalInterface public interface P4<A, B, C, D> extends Serializable { void run(A a, B b, C c, D d); }
    @FunctionalInterface public interface P5<A, B, C, D, E> extends Serializable { void run(A a, B b, C c, D d, E e); }
    @FunctionalInterface public interface P6<A, B, C, D, E, F> extends Serializable { void run(A a, B b, C c, D d, E e, F f); }
    @FunctionalInterface public interface P7<A, B, C, D, E, F, G> extends Serializable { void run(A a, B b, C c, D d, E e, F f, G g); }
    @FunctionalInterface public interface P8<A, B, C, D, E, F, G, H> extends Serializable { void run(A a, B b, C c, D d, E e, F f, G g, H h); }
    @FunctionalInterface public interface P9<A, B, C, D, E, F, G, H, I> extends Serializable { void run(A a, B b, C c, D d, E e, F f, G g, H h, I i); }
    @FunctionalInterface public interface P10<A, B, C, D, E, F, G, H, I, J> extends Serializable { void run(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j); }
    @FunctionalInterface public interface P11<A, B, C, D, E, F, G, H, I, J, K> extends Serializable { void run(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k); }
    @FunctionalInterface public interface P12<A, B, C, D, E, F, G, H, I, J, K, L> extends Serializable { void run(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l); }
    @FunctionalInterface public interface P13<A, B, C, D, E, F, G, H, I, J, K, L, M> extends Serializable { void run(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m); }
    @FunctionalInterface public interface P14<A, B, C, D, E, F, G, H, I, J, K, L, M, N> extends Serializable { void run(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n); }
    @FunctionalInterface public interface P15<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O> extends Serializable { void run(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o); }
    @FunctionalInterface public interface P16<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P> extends Serializable { void run(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o, P p); }
    @FunctionalInterface public interface P17<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q> extends Serializable { void run(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o, P p, Q q); }
    @FunctionalInterface public interface P18<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R> extends Serializable { void run(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o, P p, Q q, R r); }
    @FunctionalInterface public interface P19<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S> extends Serializable { void run(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o, P p, Q q, R r, S s); }
    @FunctionalInterface public interface P20<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T> extends Serializable { void run(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o, P p, Q q, R r, S s, T t); }
    @FunctionalInterface public interface C0 extends Serializable { void run(KernelContext context); }
    @FunctionalInterface public interface C1<A> extends Serializable { void run(KernelContext context, A a); }
    @FunctionalInterface public interface C2<A, B> extends Serializable { void run(KernelContext context, A a, B b); }
    @FunctionalInterface public interface C3<A, B, C> extends Serializable { void run(KernelContext context, A a, B b, C c); }
    @FunctionalInterface public interface C4<A, B, C, D> extends Serializable { void run(KernelContext context, A a, B b, C c, D d); }
    @FunctionalInterface public interface C5<A, B, C, D, E> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e); }
    @FunctionalInterface public interface C6<A, B, C, D, E, F> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e, F f); }
    @FunctionalInterface public interface C7<A, B, C, D, E, F, G> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e, F f, G g); }
    @FunctionalInterface public interface C8<A, B, C, D, E, F, G, H> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e, F f, G g, H h); }
    @FunctionalInterface public interface C9<A, B, C, D, E, F, G, H, I> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e, F f, G g, H h, I i); }
    @FunctionalInterface public interface C10<A, B, C, D, E, F, G, H, I, J> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j); }
    @FunctionalInterface public interface C11<A, B, C, D, E, F, G, H, I, J, K> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k); }
    @FunctionalInterface public interface C12<A, B, C, D, E, F, G, H, I, J, K, L> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l); }
    @FunctionalInterface public interface C13<A, B, C, D, E, F, G, H, I, J, K, L, M> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m); }
    @FunctionalInterface public interface C14<A, B, C, D, E, F, G, H, I, J, K, L, M, N> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n); }
    @FunctionalInterface public interface C15<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o); }
    @FunctionalInterface public interface C16<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o, P p); }
    @FunctionalInterface public interface C17<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o, P p, Q q); }
    @FunctionalInterface public interface C18<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o, P p, Q q, R r); }
    @FunctionalInterface public interface C19<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o, P p, Q q, R r, S s); }
    @FunctionalInterface public interface C20<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o, P p, Q q, R r, S s, T t); }
    @FunctionalInterface public interface C21<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o, P p, Q q, R r, S s, T t, U u); }
    @FunctionalInterface public interface C22<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U, V> extends Serializable { void run(KernelContext context, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o, P p, Q q, R r, S s, T t, U u, V v); }
}
