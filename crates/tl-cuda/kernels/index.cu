// Index kernels: index_select, gather, scatter_add / index_add, embedding_bag.
//
// Out-of-range indices (negative, or not below the indexed axis's size): the CPU backend
// returns IndexOutOfRange before writing anything, but a kernel cannot report an error
// without the host synchronising, so on CUDA
//   - index_select and gather write 0 (all-zero bytes) for an out-of-range index,
//   - scatter_add and index_add skip the contribution of an out-of-range index, and
//     index_copy skips the slice,
//   - embedding_bag treats an out-of-range index as a row of zeros (it is counted in a
//     Mean bag's divisor and takes part in a Max bag as 0),
// and nothing is written outside the output.
//
// Launch geometry and assumptions:
//   tl_index_select_rows_*: one block per output row (an (outer, selected) pair, grid-stride
//     over rows), threads over the row's units; used when a row has >= 32 units.
//   tl_index_select_flat_*: 1-D grid-stride over output units; used for short rows.
//     Both copy units of 1, 2, 4, 8 or 16 bytes (the host picks the widest unit dividing
//     every stride, offset and run of the byte views), so quantized rows of blocks and
//     every plain dtype take the same path. The output is dense [outer, n, inner].
//   tl_gather_*: 1-D grid-stride over output elements (the output has the index's shape).
//   tl_add_at: 1-D grid-stride over output elements; each thread owns one output element and
//     adds the contributions aimed at it in ascending index position, so the result is the
//     same run to run without atomics (O(output x len) work). scatter_add and index_add are
//     the same loop over different geometry (see AddGeometry).
//   tl_index_copy_*: 1-D grid-stride over source elements, each written to its target slot.
//   tl_embedding_bag: 1-D grid-stride over [bags, dim] output elements; rows combined in f32
//     in the order of the bag's indices.

#define INDEX_MAX_RANK 8

__device__ __forceinline__ bool index_in_range(i64 p, i64 size) { return p >= 0 && p < size; }

// Row copy: x and y in units of T; `outer` maps an outer index to a unit offset (with the
// source's offset), `inner` maps a unit within a row to its offset from the row start.
#define TL_INDEX_SELECT(SUFFIX, T, ZERO)                                                           \
    extern "C" __global__ void tl_index_select_rows_##SUFFIX(                                     \
        Strided outer, Strided inner, i64 axis_stride, i64 size, Strided idx, const void* ip,     \
        int idt, const T* x, T* y, i64 n, i64 rows, i64 inner_len) {                              \
        tl_wait_then_allow_successor();                                                           \
        for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {                                      \
            i64 j = r % n, o = r / n;                                                            \
            i64 p = load_i(ip, idt, strided_offset(idx, j));                                      \
            bool ok = index_in_range(p, size);                                                    \
            i64 base = strided_offset(outer, o) + p * axis_stride;                                \
            T* dst = y + r * inner_len;                                                           \
            for (i64 k = threadIdx.x; k < inner_len; k += blockDim.x) {                           \
                dst[k] = ok ? x[base + strided_offset(inner, k)] : ZERO;                          \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
    extern "C" __global__ void tl_index_select_flat_##SUFFIX(                                     \
        Strided outer, Strided inner, i64 axis_stride, i64 size, Strided idx, const void* ip,     \
        int idt, const T* x, T* y, i64 n, i64 rows, i64 inner_len) {                              \
        tl_wait_then_allow_successor();                                                           \
        TL_GRID_LOOP(e, rows * inner_len) {                                                       \
            i64 k = e % inner_len, r = e / inner_len;                                             \
            i64 j = r % n, o = r / n;                                                            \
            i64 p = load_i(ip, idt, strided_offset(idx, j));                                      \
            y[e] = index_in_range(p, size)                                                        \
                       ? x[strided_offset(outer, o) + p * axis_stride + strided_offset(inner, k)] \
                       : ZERO;                                                                    \
        }                                                                                         \
    }

TL_INDEX_SELECT(u8, unsigned char, (unsigned char)0)
TL_INDEX_SELECT(u16, unsigned short, (unsigned short)0)
TL_INDEX_SELECT(u32, unsigned int, 0u)
TL_INDEX_SELECT(u64, unsigned long long, 0ull)
TL_INDEX_SELECT(u128, uint4, make_uint4(0u, 0u, 0u, 0u))

// Gather: `src` is the source viewed with the index's shape and stride 0 on `axis`, so
// strided_offset(src, e) is the source offset of output element e before the index moves it
// along the axis.
#define TL_GATHER(SUFFIX, T)                                                                      \
    extern "C" __global__ void tl_gather_##SUFFIX(Strided src, i64 axis_stride, i64 size,         \
                                                  Strided idx, const void* ip, int idt,           \
                                                  const T* x, T* y, i64 count) {                  \
        tl_wait_then_allow_successor();                                                           \
        TL_GRID_LOOP(e, count) {                                                                  \
            i64 p = load_i(ip, idt, strided_offset(idx, e));                                      \
            y[e] = index_in_range(p, size) ? x[strided_offset(src, e) + p * axis_stride] : (T)0;  \
        }                                                                                         \
    }

TL_GATHER(u8, unsigned char)
TL_GATHER(u16, unsigned short)
TL_GATHER(u32, unsigned int)
TL_GATHER(u64, unsigned long long)

// Index copy: source element e, row-major over [outer, count, inner], lands in the dense
// output [outer, size, inner] at position index[k] of the axis; out-of-range targets are
// skipped. The host copies the destination first unless the output is the destination.
#define TL_INDEX_COPY(SUFFIX, T)                                                                  \
    extern "C" __global__ void tl_index_copy_##SUFFIX(Strided src, Strided idx, const void* ip,   \
                                                      int idt, const T* x, T* y, i64 count,       \
                                                      i64 inner, i64 size, i64 total) {           \
        tl_wait_for_predecessor();                                                                \
        tl_allow_successor();                                                                     \
        TL_GRID_LOOP(e, total) {                                                                  \
            i64 i = e % inner, k = (e / inner) % count, o = e / (inner * count);                  \
            i64 p = load_i(ip, idt, strided_offset(idx, k));                                      \
            if (index_in_range(p, size)) y[(o * size + p) * inner + i] = x[strided_offset(src, e)]; \
        }                                                                                         \
    }

TL_INDEX_COPY(u8, unsigned char)
TL_INDEX_COPY(u16, unsigned short)
TL_INDEX_COPY(u32, unsigned int)
TL_INDEX_COPY(u64, unsigned long long)

// Mirrors `AddGeometry` in src/ops/index.rs. Output element c (row-major over `shape`, the
// destination's shape) receives, for each j in 0..len with index[j] == c[axis], the source
// element at (c with c[axis] = j):
//   scatter_add: index/source strides are theirs; `limit` is the index's shape (output
//     elements outside it off the axis receive nothing);
//   index_add: the 1-D index's stride sits on `axis`, 0 elsewhere; `limit` is `shape`.
struct AddGeometry {
    int rank;
    int axis;
    i64 len;
    i64 dst_offset;
    i64 idx_offset;
    i64 src_offset;
    i64 shape[INDEX_MAX_RANK];
    i64 limit[INDEX_MAX_RANK];
    i64 dst_strides[INDEX_MAX_RANK];
    i64 idx_strides[INDEX_MAX_RANK];
    i64 src_strides[INDEX_MAX_RANK];
};

extern "C" __global__ void tl_add_at(AddGeometry g, const void* dst, const void* ip, int idt,
                                     const void* src, int dt, void* y, i64 count) {
    tl_wait_then_allow_successor();
    TL_GRID_LOOP(e, count) {
        i64 rest = e, target = 0;
        i64 dst_at = g.dst_offset, idx_at = g.idx_offset, src_at = g.src_offset;
        bool reached = true;
        for (int d = g.rank - 1; d >= 0; --d) {
            i64 c = rest % g.shape[d];
            rest /= g.shape[d];
            dst_at += c * g.dst_strides[d];
            if (d == g.axis) {
                target = c;
            } else {
                reached = reached && c < g.limit[d];
                idx_at += c * g.idx_strides[d];
                src_at += c * g.src_strides[d];
            }
        }
        float acc = load_f(dst, dt, dst_at);
        if (reached) {
            i64 idx_step = g.idx_strides[g.axis], src_step = g.src_strides[g.axis];
            for (i64 j = 0; j < g.len; ++j) {
                // An out-of-range index equals no target, so it is skipped.
                if (load_i(ip, idt, idx_at + j * idx_step) == target) {
                    acc += load_f(src, dt, src_at + j * src_step);
                }
            }
        }
        store_f(y, dt, e, acc);
    }
}

// Embedding bag: table [rows, dim] at (table_offset, row_stride, col_stride); indices
// [bags, per_bag] at (idx_offset, bag_stride, item_stride). Mode codes follow BagMode's order.
#define BAG_SUM 0
#define BAG_MEAN 1
#define BAG_MAX 2

extern "C" __global__ void tl_embedding_bag(int mode, const void* table, int dt, i64 table_offset,
                                            i64 row_stride, i64 col_stride, i64 rows,
                                            const void* ip, int idt, i64 idx_offset,
                                            i64 bag_stride, i64 item_stride, i64 per_bag,
                                            void* y, i64 dim, i64 count) {
    tl_wait_then_allow_successor();
    TL_GRID_LOOP(e, count) {
        i64 bag = e / dim, col = e % dim;
        float acc = mode == BAG_MAX ? -1.0f / 0.0f : 0.0f;
        for (i64 k = 0; k < per_bag; ++k) {
            i64 p = load_i(ip, idt, idx_offset + bag * bag_stride + k * item_stride);
            float v = index_in_range(p, rows)
                          ? load_f(table, dt, table_offset + p * row_stride + col * col_stride)
                          : 0.0f;
            // fmaxf ignores a NaN operand, as Rust's f32::max does on the CPU backend.
            acc = mode == BAG_MAX ? fmaxf(acc, v) : acc + v;
        }
        if (per_bag == 0) {
            acc = 0.0f;
        } else if (mode == BAG_MEAN) {
            acc *= 1.0f / (float)per_bag;
        }
        store_f(y, dt, e, acc);
    }
}
