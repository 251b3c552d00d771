// Copy kernels: strided-to-strided copies in units of 1, 2, 4, 8 or 16 bytes (the host
// picks the widest unit that divides every stride, offset and run), and dtype casts.
// Launch: 1-D grid-stride over the n units (or elements, for casts).

#define TL_COPY(NAME, T) \
    extern "C" __global__ void NAME(Strided src, Strided dst, const T* x, T* y, i64 n) { \
        tl_wait_then_allow_successor();                                               \
        TL_GRID_LOOP(i, n) { y[strided_offset(dst, i)] = x[strided_offset(src, i)]; } \
    }

TL_COPY(tl_copy_u8, unsigned char)
TL_COPY(tl_copy_u16, unsigned short)
TL_COPY(tl_copy_u32, unsigned int)
TL_COPY(tl_copy_u64, unsigned long long)
TL_COPY(tl_copy_u128, uint4)

// Cast follows Op::Cast: floats truncate toward zero (saturating) into integers, Bool is
// x != 0; float-to-float goes through f32 exactly.
extern "C" __global__ void tl_cast(Strided src, const void* x, int dt_in, void* y, int dt_out, i64 n) {
    tl_wait_then_allow_successor();
    TL_GRID_LOOP(i, n) {
        i64 o = strided_offset(src, i);
        if (is_float_dtype(dt_in) && is_float_dtype(dt_out)) {
            store_f(y, dt_out, i, load_f(x, dt_in, o));
        } else if (!is_float_dtype(dt_in) && !is_float_dtype(dt_out)) {
            i64 v = dt_in == TL_BOOL ? (load_i(x, dt_in, o) != 0) : load_i(x, dt_in, o);
            if (dt_out == TL_U8) {
                v = v < 0 ? 0 : (v > 255 ? 255 : v);
            } else if (dt_out == TL_I32) {
                v = v < -2147483648LL ? -2147483648LL : (v > 2147483647LL ? 2147483647LL : v);
            }
            store_i(y, dt_out, i, v);
        } else {
            store_d(y, dt_out, i, load_d(x, dt_in, o));
        }
    }
}
