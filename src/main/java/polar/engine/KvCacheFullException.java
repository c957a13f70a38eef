package polar.engine;

/** The paged KV cache has no free block (or sequence row) left for a request. */
public final class KvCacheFullException extends RuntimeException {
    public KvCacheFullException(String message) { super(message); }
}
