package polar.tornado.compiler;

/** The types the kernel compiler knows: primitives, device buffers, Java arrays and the kernel context. */
sealed interface Type {

    /** Java primitive types (and void). */
    enum Prim implements Type {
        VOID, BOOLEAN, BYTE, SHORT, CHAR, INT, LONG, FLOAT, DOUBLE;

        boolean numeric() { return this != VOID && this != BOOLEAN; }

        boolean integral() { return this == BYTE || this == SHORT || this == CHAR || this == INT || this == LONG; }

        boolean floating() { return this == FLOAT || this == DOUBLE; }

        /** Java's binary numeric promotion. */
        static Prim promote(Prim a, Prim b) {
            if (a == DOUBLE || b == DOUBLE) return DOUBLE;
            if (a == FLOAT || b == FLOAT) return FLOAT;
            if (a == LONG || b == LONG) return LONG;
            return INT;
        }

        /** Java's unary numeric promotion. */
        Prim promoted() { return this == BYTE || this == SHORT || this == CHAR ? INT : this; }

        static Prim named(String javaName) {
            for (Prim p : values()) if (p.name().equalsIgnoreCase(javaName)) return p;
            return null;
        }

        @Override
        public String toString() { return name().toLowerCase(); }
    }

    /** Device buffers ({@code polar.tornado.types}); {@code element} is what {@code get} returns. */
    enum Buffer implements Type {
        FLOAT_ARRAY("FloatArray", Prim.FLOAT),
        HALF_ARRAY("HalfArray", Prim.FLOAT),
        BFLOAT16_ARRAY("BFloat16Array", Prim.FLOAT),
        INT_ARRAY("IntArray", Prim.INT),
        BYTE_ARRAY("ByteArray", Prim.BYTE);

        final String javaName;
        final Prim element;

        Buffer(String javaName, Prim element) {
            this.javaName = javaName;
            this.element = element;
        }

        static Buffer named(String javaName) {
            for (Buffer b : values()) if (b.javaName.equals(javaName)) return b;
            return null;
        }

        @Override
        public String toString() { return javaName; }
    }

    /** Where a Java array lives on the device. */
    enum Space { PRIVATE, LOCAL }

    /** A Java array: private ({@code new float[8]}) or group-local ({@code ctx.allocateFloatLocalArray(256)}); length -1 when unknown. */
    record Array(Prim element, Space space, int length) implements Type {
        /** The same array type with the length forgotten (parameters of device functions). */
        Array unsized() { return new Array(element, space, -1); }

        @Override
        public String toString() { return (space == Space.LOCAL ? "local " : "") + element + "[" + (length >= 0 ? length : "") + "]"; }
    }

    /** {@code polar.tornado.KernelContext}. */
    enum Context implements Type {
        INSTANCE;

        @Override
        public String toString() { return "KernelContext"; }
    }
}
