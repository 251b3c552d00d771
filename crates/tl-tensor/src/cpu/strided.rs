//! Walking strided views row by row: the shared loop structure of CPU kernels.

use crate::layout::Layout;
use crate::tensor::Tensor;

/// Number of rows (all axes but the last) and the row length of a layout.
pub(crate) fn rows_and_len(layout: &Layout) -> (usize, usize) {
    match layout.shape().split_last() {
        Some((&len, outer)) => (outer.iter().product(), len),
        None => (1, 1),
    }
}

/// Element offset of the first element of row `row` (row-major over all axes but the last).
pub(crate) fn row_offset(layout: &Layout, mut row: usize) -> usize {
    let rank = layout.rank();
    if rank == 0 {
        return layout.offset();
    }
    let mut offset = layout.offset();
    for axis in (0..rank - 1).rev() {
        let dim = layout.shape()[axis];
        offset += (row % dim) * layout.strides()[axis];
        row /= dim;
    }
    offset
}

/// Stride of the last axis (1 for rank 0).
pub(crate) fn inner_stride(layout: &Layout) -> usize {
    layout.strides().last().copied().unwrap_or(1)
}

/// The tensor's view in bytes: one trailing axis holds the bytes of an element (or of a
/// block, for quantized dtypes, whose last axis then counts blocks).
pub(crate) fn byte_layout(tensor: &Tensor) -> Layout {
    tensor.layout().byte_view(tensor.dtype())
}

/// See [`Layout::coalesced`].
pub(crate) fn coalesce(layout: &Layout) -> Layout {
    layout.coalesced()
}
