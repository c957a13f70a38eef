package polar.tornado.compiler;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import polar.tornado.compiler.Type.Array;
import polar.tornado.compiler.Type.Buffer;
import polar.tornado.compiler.Type.Prim;
import polar.tornado.compiler.Type.Space;

/**
 * The dialect-specific half of the translator: type names, address spaces, work-item ids,
 * barriers, warp operations, atomics, float16/bfloat16 storage and wide loads. One instance per
 * translation unit; it records the helper functions ({@code polar_*}) that the unit needs.
 */
abstract sealed class Target permits Target.Cuda, Target.OpenCl {

    /** Work-item indices and sizes, per dimension. */
    enum Index { GLOBAL_ID, LOCAL_ID, GROUP_ID, LOCAL_SIZE, GLOBAL_SIZE }

    /** Scratch buffer of the OpenCL warp emulation: one float per work-item of the group. */
    static final String WARP_SCRATCH = "polar_warp_scratch";
    static final int MAX_WARP_EMULATION_GROUP = 1024;

    private final Map<String, String> helpers = new LinkedHashMap<>();
    boolean usesDouble;

    static Target of(Dialect dialect) {
        return switch (dialect) {
            case CUDA -> new Cuda();
            case OPENCL -> new OpenCl();
        };
    }

    /** Makes helper {@code name} (defined by {@code code}) part of the unit, after the helpers it needs. */
    final String use(String name, String... requires) {
        for (String r : requires) use(r);
        helpers.computeIfAbsent(name, this::helperCode);
        return name;
    }

    /** The helper definitions used so far, each after those it calls. */
    final String prelude() {
        StringBuilder sb = new StringBuilder();
        for (String code : helpers.values()) sb.append(code).append('\n');
        return sb.toString();
    }

    abstract String helperCode(String name);

    abstract String header();

    // ---- types and declarations

    String type(Prim p) {
        if (p == Prim.DOUBLE) usesDouble = true;
        return switch (p) {
            case VOID -> "void";
            case BOOLEAN -> "bool";
            case SHORT -> "short";
            case CHAR -> "unsigned short";
            case INT -> "int";
            case FLOAT -> "float";
            case DOUBLE -> "double";
            case BYTE -> byteType();
            case LONG -> longType();
        };
    }

    abstract String byteType();

    abstract String longType();

    abstract String longSuffix();

    abstract String bufferParam(Buffer b, String name);

    abstract String arrayParam(Array a, String name);

    abstract String localArray(Prim element, String name, int length);

    abstract String entry(String name, List<String> params);

    /**
     * A device function's header. {@code takesPrivateArray}: a parameter is a work-item's own array,
     * which stays in registers only if the call is inlined (CUDA forces it; OpenCL compilers inline
     * such helpers on their own).
     */
    abstract String function(String returnType, String name, List<String> params, boolean takesPrivateArray);

    /** Parameter that passes the warp scratch buffer to a device function, or null where none is needed. */
    abstract String warpScratchParam();

    // ---- values

    abstract String floatSpecial(float f);

    abstract String doubleSpecial(double d);

    abstract String index(Index index, int dim);

    abstract String barrier(boolean global);

    /** A fence that orders this work-item's global-memory accesses for every work-group of the launch. */
    abstract String globalFence();

    /** A math function computing in {@code t} (float or double): {@code base} is the C name of the double version. */
    abstract String math(String base, Prim t);

    abstract String intAbs(String x, Prim t);

    /** Java's floating to integral conversion (round toward zero, saturating, NaN to 0). */
    abstract String floatToIntegral(String x, Prim to);

    abstract String floatBits(String x);

    abstract String intBitsToFloat(String x);

    abstract String bitCount(String x, Prim t);

    abstract String leadingZeros(String x, Prim t);

    // ---- buffers (float16 access differs between the dialects; bfloat16 and the rest is plain C)

    final String load(Buffer b, String array, String index) {
        return switch (b) {
            case HALF_ARRAY -> loadHalf(array, index);
            case BFLOAT16_ARRAY -> use("polar_bf2f") + "(" + array + "[" + index + "])";
            default -> array + "[" + index + "]";
        };
    }

    final String store(Buffer b, String array, String index, String value) {
        return switch (b) {
            case HALF_ARRAY -> storeHalf(array, index, value);
            case BFLOAT16_ARRAY -> array + "[" + index + "] = " + use("polar_f2bf") + "(" + value + ")";
            default -> array + "[" + index + "] = " + value;
        };
    }

    abstract String loadHalf(String array, String index);

    abstract String storeHalf(String array, String index, String value);

    abstract String halfBits(String array, String index);

    final String halfToFloat(String bits) { return use("polar_h2f") + "((" + type(Prim.CHAR) + ") (" + bits + "))"; }

    final String floatToHalf(String value) { return "(short) " + use("polar_f2h") + "(" + value + ")"; }

    final String load8Half(String array, String index, String regs) { return wide("polar_load_half8", array, index, regs); }

    final String store8Half(String array, String index, String regs) { return wide("polar_store_half8", array, index, regs); }

    final String load8BFloat16(String array, String index, String regs) { return wide("polar_load_bf16x8", array, index, regs); }

    final String load4Float(String array, String index, String regs) { return wide("polar_load_float4", array, index, regs); }

    final String store4Float(String array, String index, String regs) { return wide("polar_store_float4", array, index, regs); }

    /** A call of wide-access helper {@code helper} on {@code array + index} and the private {@code regs}. */
    private String wide(String helper, String array, String index, String regs) {
        return use(helper, helperRequires(helper)) + "(" + array + " + (" + index + "), " + regs + ")";
    }

    /** The helpers that helper {@code name}'s code calls (defined before it). */
    String[] helperRequires(String name) { return new String[0]; }

    abstract String atomicAdd(Buffer b, String array, String index, String value);

    /**
     * Bounds-checking mode: {@code index} if elements {@code index .. index + width - 1} lie in a
     * buffer of {@code size} elements, else 0, after printing {@code where} (a Java file, line and
     * access) with the index and the size. Only OpenCL checks (through its {@code printf}); CUDA
     * code is left as is (use compute-sanitizer there).
     */
    String checkedIndex(String where, String index, String size, int width) {
        return index;
    }

    /** Adds a helper with its own code (not one of {@link #helperCode}'s); returns its name. */
    final String define(String name, String code) {
        helpers.putIfAbsent(name, code);
        return name;
    }

    /** How many helpers the unit has so far (for unique names). */
    final int helperCount() { return helpers.size(); }

    // ---- warps

    final String laneId() { return "(" + use("polar_linear_local_id") + "() & 31)"; }

    final String warpId() { return "(" + use("polar_linear_local_id") + "() >> 5)"; }

    abstract String warpShuffle(String value, String srcLane);

    abstract String warpShuffleXor(String value, String laneMask);

    abstract String warpReduceSum(String value);

    abstract String warpReduceMax(String value);

    /** CUDA C for NVRTC: no headers; float16 conversions by inline PTX. */
    static final class Cuda extends Target {
        private static final String FN = "static __device__ __forceinline__ ";
        private static final String FULL_MASK = "0xffffffffu";

        @Override
        String header() { return ""; }

        @Override
        String byteType() { return "signed char"; }

        @Override
        String longType() { return "long long"; }

        @Override
        String longSuffix() { return "LL"; }

        @Override
        String bufferParam(Buffer b, String name) {
            return switch (b) {
                case FLOAT_ARRAY -> "float* ";
                case HALF_ARRAY, BFLOAT16_ARRAY -> "unsigned short* ";
                case INT_ARRAY -> "int* ";
                case BYTE_ARRAY -> "signed char* ";
            } + name;
        }

        @Override
        String arrayParam(Array a, String name) { return type(a.element()) + "* " + name; }

        @Override
        String localArray(Prim element, String name, int length) { return "__shared__ " + type(element) + " " + name + "[" + length + "]"; }

        @Override
        String entry(String name, List<String> params) { return "extern \"C\" __global__ void " + name + "(" + String.join(", ", params) + ")"; }

        @Override
        String function(String returnType, String name, List<String> params, boolean takesPrivateArray) {
            return (takesPrivateArray ? FN : "static __device__ ") + returnType + " " + name + "(" + String.join(", ", params) + ")";
        }

        @Override
        String warpScratchParam() { return null; }

        @Override
        String floatSpecial(float f) {
            if (Float.isNaN(f)) return "__int_as_float(0x7fffffff)";
            return f > 0 ? "__int_as_float(0x7f800000)" : "__int_as_float(0xff800000)";
        }

        @Override
        String doubleSpecial(double d) {
            if (Double.isNaN(d)) return "__longlong_as_double(0x7fffffffffffffffLL)";
            return d > 0 ? "__longlong_as_double(0x7ff0000000000000LL)" : "__longlong_as_double(0xfff0000000000000LL)";
        }

        @Override
        String index(Index index, int dim) {
            String d = "xyz".substring(dim, dim + 1);
            return switch (index) {
                case GLOBAL_ID -> "(int) (blockIdx." + d + " * blockDim." + d + " + threadIdx." + d + ")";
                case LOCAL_ID -> "(int) threadIdx." + d;
                case GROUP_ID -> "(int) blockIdx." + d;
                case LOCAL_SIZE -> "(int) blockDim." + d;
                case GLOBAL_SIZE -> "(int) (gridDim." + d + " * blockDim." + d + ")";
            };
        }

        @Override
        String barrier(boolean global) { return "__syncthreads()"; }

        @Override
        String globalFence() { return "__threadfence()"; }

        @Override
        String math(String base, Prim t) {
            if (t == Prim.DOUBLE) usesDouble = true;
            return t == Prim.FLOAT ? base + "f" : base;
        }

        @Override
        String intAbs(String x, Prim t) { return (t == Prim.LONG ? "llabs(" : "abs(") + x + ")"; }

        @Override
        String floatToIntegral(String x, Prim to) {
            // cvt.rzi saturates and maps NaN to 0, as Java does
            return to == Prim.LONG ? "(long long) (" + x + ")" : to == Prim.INT ? "(int) (" + x + ")" : "(" + type(to) + ") (int) (" + x + ")";
        }

        @Override
        String floatBits(String x) { return "__float_as_int(" + x + ")"; }

        @Override
        String intBitsToFloat(String x) { return "__int_as_float(" + x + ")"; }

        @Override
        String bitCount(String x, Prim t) { return (t == Prim.LONG ? "__popcll(" : "__popc(") + x + ")"; }

        @Override
        String leadingZeros(String x, Prim t) { return (t == Prim.LONG ? "__clzll(" : "__clz(") + x + ")"; }

        @Override
        String loadHalf(String array, String index) { return use("polar_h2f") + "(" + array + "[" + index + "])"; }

        @Override
        String storeHalf(String array, String index, String value) { return array + "[" + index + "] = " + use("polar_f2h") + "(" + value + ")"; }

        @Override
        String halfBits(String array, String index) { return "(short) " + array + "[" + index + "]"; }

        @Override
        String[] helperRequires(String name) {
            return switch (name) {
                case "polar_load_half8" -> new String[] {"polar_u32x4", "polar_h2f"};
                case "polar_store_half8" -> new String[] {"polar_u32x4", "polar_f2h"};
                default -> new String[] {"polar_u32x4"}; // the other 16-byte accesses
            };
        }

        @Override
        String atomicAdd(Buffer b, String array, String index, String value) { return "atomicAdd(&" + array + "[" + index + "], " + value + ")"; }

        @Override
        String warpShuffle(String value, String srcLane) { return "__shfl_sync(" + FULL_MASK + ", " + value + ", " + srcLane + ")"; }

        @Override
        String warpShuffleXor(String value, String laneMask) { return "__shfl_xor_sync(" + FULL_MASK + ", " + value + ", " + laneMask + ")"; }

        @Override
        String warpReduceSum(String value) { return use("polar_warp_reduce_sum") + "(" + value + ")"; }

        @Override
        String warpReduceMax(String value) { return use("polar_warp_reduce_max") + "(" + value + ")"; }

        @Override
        String helperCode(String name) {
            return switch (name) {
                case "polar_h2f" -> FN + "float polar_h2f(unsigned short h) { float f; asm(\"cvt.f32.f16 %0, %1;\" : \"=f\"(f) : \"h\"(h)); return f; }";
                case "polar_f2h" -> FN + "unsigned short polar_f2h(float f) { unsigned short h; asm(\"cvt.rn.f16.f32 %0, %1;\" : \"=h\"(h) : \"f\"(f)); return h; }";
                case "polar_bf2f" -> FN + "float polar_bf2f(unsigned short b) { return __uint_as_float(((unsigned int) b) << 16); }";
                case "polar_f2bf" -> FN + """
                        unsigned short polar_f2bf(float v) {
                            unsigned int b = __float_as_uint(v);
                            if (v != v) return (unsigned short) ((b >> 16) | 0x40u);
                            return (unsigned short) ((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
                        }""";
                case "polar_load_half8" -> FN + """
                        void polar_load_half8(const unsigned short* p, float* r) {
                            polar_u32x4 w = *(const polar_u32x4*) p;
                            r[0] = polar_h2f((unsigned short) w.x); r[1] = polar_h2f((unsigned short) (w.x >> 16));
                            r[2] = polar_h2f((unsigned short) w.y); r[3] = polar_h2f((unsigned short) (w.y >> 16));
                            r[4] = polar_h2f((unsigned short) w.z); r[5] = polar_h2f((unsigned short) (w.z >> 16));
                            r[6] = polar_h2f((unsigned short) w.w); r[7] = polar_h2f((unsigned short) (w.w >> 16));
                        }""";
                case "polar_store_half8" -> FN + """
                        void polar_store_half8(unsigned short* p, const float* r) {
                            polar_u32x4 w;
                            w.x = polar_f2h(r[0]) | ((unsigned int) polar_f2h(r[1]) << 16);
                            w.y = polar_f2h(r[2]) | ((unsigned int) polar_f2h(r[3]) << 16);
                            w.z = polar_f2h(r[4]) | ((unsigned int) polar_f2h(r[5]) << 16);
                            w.w = polar_f2h(r[6]) | ((unsigned int) polar_f2h(r[7]) << 16);
                            *(polar_u32x4*) p = w;
                        }""";
                case "polar_load_bf16x8" -> FN + """
                        void polar_load_bf16x8(const unsigned short* p, float* r) {
                            polar_u32x4 w = *(const polar_u32x4*) p;
                            r[0] = __uint_as_float(w.x << 16); r[1] = __uint_as_float(w.x & 0xffff0000u);
                            r[2] = __uint_as_float(w.y << 16); r[3] = __uint_as_float(w.y & 0xffff0000u);
                            r[4] = __uint_as_float(w.z << 16); r[5] = __uint_as_float(w.z & 0xffff0000u);
                            r[6] = __uint_as_float(w.w << 16); r[7] = __uint_as_float(w.w & 0xffff0000u);
                        }""";
                case "polar_load_float4" -> FN + """
                        void polar_load_float4(const float* p, float* r) {
                            polar_u32x4 v = *(const polar_u32x4*) p;
                            r[0] = __uint_as_float(v.x); r[1] = __uint_as_float(v.y); r[2] = __uint_as_float(v.z); r[3] = __uint_as_float(v.w);
                        }""";
                case "polar_store_float4" -> FN + """
                        void polar_store_float4(float* p, const float* r) {
                            polar_u32x4 v;
                            v.x = __float_as_uint(r[0]); v.y = __float_as_uint(r[1]); v.z = __float_as_uint(r[2]); v.w = __float_as_uint(r[3]);
                            *(polar_u32x4*) p = v;
                        }""";
                // 16 bytes moved by one instruction (NVRTC needs no header for it)
                case "polar_u32x4" -> "struct alignas(16) polar_u32x4 { unsigned int x, y, z, w; };";
                case "polar_linear_local_id" -> FN + "int polar_linear_local_id() { return (int) (threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)); }";
                case "polar_warp_reduce_sum" -> FN + """
                        float polar_warp_reduce_sum(float v) {
                            for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
                            return v;
                        }""";
                case "polar_warp_reduce_max" -> FN + """
                        float polar_warp_reduce_max(float v) {
                            for (int m = 16; m > 0; m >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, m));
                            return v;
                        }""";
                default -> throw new IllegalArgumentException(name);
            };
        }
    }

    /**
     * OpenCL C 1.2 without extensions (cl_khr_fp64 only when the kernel uses double). Warp
     * operations are emulated through a group-local scratch buffer and barriers, so every
     * work-item of the group must reach them.
     */
    static final class OpenCl extends Target {
        @Override
        String header() { return usesDouble ? "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n" : ""; }

        @Override
        String byteType() { return "char"; }

        @Override
        String longType() { return "long"; }

        @Override
        String longSuffix() { return "L"; }

        @Override
        String bufferParam(Buffer b, String name) {
            return switch (b) {
                case FLOAT_ARRAY -> "__global float* ";
                case HALF_ARRAY -> "__global half* ";
                case BFLOAT16_ARRAY -> "__global ushort* ";
                case INT_ARRAY -> "__global int* ";
                case BYTE_ARRAY -> "__global char* ";
            } + name;
        }

        @Override
        String arrayParam(Array a, String name) { return (a.space() == Space.LOCAL ? "__local " : "") + type(a.element()) + "* " + name; }

        @Override
        String localArray(Prim element, String name, int length) { return "__local " + type(element) + " " + name + "[" + length + "]"; }

        @Override
        String entry(String name, List<String> params) { return "__kernel void " + name + "(" + String.join(", ", params) + ")"; }

        @Override
        String function(String returnType, String name, List<String> params, boolean takesPrivateArray) {
            return returnType + " " + name + "(" + (params.isEmpty() ? "void" : String.join(", ", params)) + ")";
        }

        @Override
        String warpScratchParam() { return "__local float* " + WARP_SCRATCH; }

        @Override
        String floatSpecial(float f) {
            if (Float.isNaN(f)) return "NAN";
            return f > 0 ? "INFINITY" : "(-INFINITY)";
        }

        @Override
        String doubleSpecial(double d) {
            usesDouble = true;
            if (Double.isNaN(d)) return "((double) NAN)";
            return d > 0 ? "((double) INFINITY)" : "((double) -INFINITY)";
        }

        @Override
        String index(Index index, int dim) {
            return switch (index) {
                case GLOBAL_ID -> "(int) get_global_id(" + dim + ")";
                case LOCAL_ID -> "(int) get_local_id(" + dim + ")";
                case GROUP_ID -> "(int) get_group_id(" + dim + ")";
                case LOCAL_SIZE -> "(int) get_local_size(" + dim + ")";
                case GLOBAL_SIZE -> "(int) get_global_size(" + dim + ")";
            };
        }

        @Override
        String barrier(boolean global) { return global ? "barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE)" : "barrier(CLK_LOCAL_MEM_FENCE)"; }

        @Override
        String globalFence() { return "mem_fence(CLK_GLOBAL_MEM_FENCE)"; }

        @Override
        String math(String base, Prim t) {
            if (t == Prim.DOUBLE) usesDouble = true;
            return base; // overloaded for float and double
        }

        @Override
        String intAbs(String x, Prim t) { return "(" + type(t) + ") abs(" + x + ")"; } // abs returns the unsigned type

        @Override
        String floatToIntegral(String x, Prim to) {
            return to == Prim.LONG ? "convert_long_sat(" + x + ")"
                    : to == Prim.INT ? "convert_int_sat(" + x + ")"
                    : "(" + type(to) + ") convert_int_sat(" + x + ")";
        }

        @Override
        String floatBits(String x) { return "as_int(" + x + ")"; }

        @Override
        String intBitsToFloat(String x) { return "as_float(" + x + ")"; }

        @Override
        String bitCount(String x, Prim t) { return "(" + type(t) + ") popcount(" + x + ")"; }

        @Override
        String leadingZeros(String x, Prim t) { return "(" + type(t) + ") clz(" + x + ")"; }

        @Override
        String loadHalf(String array, String index) { return "vload_half(" + index + ", " + array + ")"; }

        @Override
        String storeHalf(String array, String index, String value) { return "vstore_half_rte(" + value + ", " + index + ", " + array + ")"; }

        @Override
        String halfBits(String array, String index) { return "((__global short*) " + array + ")[" + index + "]"; }

        @Override
        String atomicAdd(Buffer b, String array, String index, String value) {
            return b == Buffer.FLOAT_ARRAY
                    ? use("polar_atomic_add_float") + "(&" + array + "[" + index + "], " + value + ")"
                    : "atomic_add(&" + array + "[" + index + "], " + value + ")";
        }

        @Override
        String checkedIndex(String where, String index, String size, int width) {
            String name = "polar_check_" + helperCount();
            return define(name, "int " + name + "(int i, int size) {\n"
                    + "    if (i < 0 || i > size - " + width + ") { printf(\"polar: out of bounds at " + where
                    + ": index %d (" + width + " element(s)) of a buffer of %d elements\\n\", i, size); return 0; }\n"
                    + "    return i;\n}") + "(" + index + ", " + size + ")";
        }

        @Override
        String warpShuffle(String value, String srcLane) {
            return use("polar_warp_shuffle", "polar_linear_local_id") + "(" + WARP_SCRATCH + ", " + value + ", " + srcLane + ")";
        }

        @Override
        String warpShuffleXor(String value, String laneMask) {
            return use("polar_warp_shuffle_xor", "polar_linear_local_id") + "(" + WARP_SCRATCH + ", " + value + ", " + laneMask + ")";
        }

        @Override
        String warpReduceSum(String value) {
            return use("polar_warp_reduce_sum", "polar_linear_local_id") + "(" + WARP_SCRATCH + ", " + value + ")";
        }

        @Override
        String warpReduceMax(String value) {
            return use("polar_warp_reduce_max", "polar_linear_local_id") + "(" + WARP_SCRATCH + ", " + value + ")";
        }

        @Override
        String helperCode(String name) {
            return switch (name) {
                case "polar_h2f" -> "float polar_h2f(ushort h) { return vload_half(0, (const half*) &h); }";
                case "polar_f2h" -> "ushort polar_f2h(float f) { ushort h; vstore_half_rte(f, 0, (half*) &h); return h; }";
                case "polar_bf2f" -> "float polar_bf2f(ushort b) { return as_float(((uint) b) << 16); }";
                case "polar_f2bf" -> """
                        ushort polar_f2bf(float v) {
                            uint b = as_uint(v);
                            if (v != v) return (ushort) ((b >> 16) | 0x40u);
                            return (ushort) ((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
                        }""";
                case "polar_load_half8" -> """
                        void polar_load_half8(__global const half* p, float* r) {
                            float8 v = vload_half8(0, p);
                            r[0] = v.s0; r[1] = v.s1; r[2] = v.s2; r[3] = v.s3; r[4] = v.s4; r[5] = v.s5; r[6] = v.s6; r[7] = v.s7;
                        }""";
                case "polar_store_half8" -> """
                        void polar_store_half8(__global half* p, const float* r) {
                            vstore_half8_rte((float8) (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]), 0, p);
                        }""";
                case "polar_load_bf16x8" -> """
                        void polar_load_bf16x8(__global const ushort* p, float* r) {
                            ushort8 v = vload8(0, p);
                            r[0] = as_float((uint) v.s0 << 16); r[1] = as_float((uint) v.s1 << 16);
                            r[2] = as_float((uint) v.s2 << 16); r[3] = as_float((uint) v.s3 << 16);
                            r[4] = as_float((uint) v.s4 << 16); r[5] = as_float((uint) v.s5 << 16);
                            r[6] = as_float((uint) v.s6 << 16); r[7] = as_float((uint) v.s7 << 16);
                        }""";
                case "polar_load_float4" -> """
                        void polar_load_float4(__global const float* p, float* r) {
                            float4 v = vload4(0, p);
                            r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
                        }""";
                case "polar_store_float4" -> """
                        void polar_store_float4(__global float* p, const float* r) {
                            vstore4((float4) (r[0], r[1], r[2], r[3]), 0, p);
                        }""";
                case "polar_atomic_add_float" -> """
                        float polar_atomic_add_float(volatile __global float* p, float v) {
                            uint old = as_uint(*p), expected;
                            do {
                                expected = old;
                                old = atomic_cmpxchg((volatile __global uint*) p, expected, as_uint(as_float(expected) + v));
                            } while (old != expected);
                            return as_float(old);
                        }""";
                case "polar_linear_local_id" -> "int polar_linear_local_id(void) { return (int) (get_local_id(0) + get_local_size(0) * (get_local_id(1) + get_local_size(1) * get_local_id(2))); }";
                // Warp emulation: every work-item publishes its value in the scratch buffer between
                // two barriers (the first keeps the previous operation's reads before this write).
                case "polar_warp_shuffle" -> """
                        float polar_warp_shuffle(__local float* s, float v, int src) {
                            int l = polar_linear_local_id();
                            barrier(CLK_LOCAL_MEM_FENCE); s[l] = v; barrier(CLK_LOCAL_MEM_FENCE);
                            return s[(l & ~31) + (src & 31)];
                        }""";
                case "polar_warp_shuffle_xor" -> """
                        float polar_warp_shuffle_xor(__local float* s, float v, int mask) {
                            int l = polar_linear_local_id();
                            barrier(CLK_LOCAL_MEM_FENCE); s[l] = v; barrier(CLK_LOCAL_MEM_FENCE);
                            return s[l ^ (mask & 31)];
                        }""";
                case "polar_warp_reduce_sum" -> """
                        float polar_warp_reduce_sum(__local float* s, float v) {
                            int l = polar_linear_local_id(), base = l & ~31;
                            barrier(CLK_LOCAL_MEM_FENCE); s[l] = v; barrier(CLK_LOCAL_MEM_FENCE);
                            float r = s[base];
                            for (int j = 1; j < 32; j++) r += s[base + j];
                            return r;
                        }""";
                case "polar_warp_reduce_max" -> """
                        float polar_warp_reduce_max(__local float* s, float v) {
                            int l = polar_linear_local_id(), base = l & ~31;
                            barrier(CLK_LOCAL_MEM_FENCE); s[l] = v; barrier(CLK_LOCAL_MEM_FENCE);
                            float r = s[base];
                            for (int j = 1; j < 32; j++) r = fmax(r, s[base + j]);
                            return r;
                        }""";
                default -> throw new IllegalArgumentException(name);
            };
        }
    }
}
