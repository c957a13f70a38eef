package polar.model;

import java.util.Arrays;

/** A growable int array (token ids) without boxing. */
final class IntList {
    private int[] items = new int[16];
    private int size;

    void add(int v) {
        if (size == items.length) items = Arrays.copyOf(items, size * 2);
        items[size++] = v;
    }

    void addAll(int[] vs) {
        if (size + vs.length > items.length) items = Arrays.copyOf(items, Math.max(size * 2, size + vs.length));
        System.arraycopy(vs, 0, items, size, vs.length);
        size += vs.length;
    }

    int size() { return size; }

    int get(int i) { return items[i]; }

    int[] toArray() { return Arrays.copyOf(items, size); }
}
