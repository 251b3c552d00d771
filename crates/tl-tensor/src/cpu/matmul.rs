//! CPU kernel: batched `MatMul` (transposes, broadcast batch axes, any strides) on `gemm`.
//!
//! f32 operands go to gemm as they are: gemm takes a row and a column stride per operand, so
//! transposed, permuted and narrowed views need no copy. f16 and bf16 operands are widened to
//! f32 first and the product rounded once at the end: gemm's own f16 path stores partial sums
//! in f16 between depth blocks (and on aarch64 multiplies in f16), which would break the rule
//! that products accumulate in f32 or wider.

use gemm::Parallelism;
use rayon::prelude::*;

use super::element::FloatElement;
use super::strided::{inner_stride, row_offset, rows_and_len};
use super::{backend_error, input_slice, output_slice};
use crate::error::Result;
use crate::layout::{contiguous_strides, Layout};
use crate::op::Op;
use crate::tensor::Tensor;
use crate::with_float_type;

/// Below this many multiply-adds per matrix, one gemm call is too small to split across
/// threads; batches then run side by side, each on one thread.
const SMALL_PRODUCT: usize = 1 << 21;

/// Elements converted per rayon task when widening f16/bf16 operands.
const CONVERT_CHUNK: usize = 16 * 1024;

pub(crate) fn run(op: &Op, inputs: &[&Tensor], output: &Tensor) -> Result<()> {
    let Op::MatMul {
        transpose_lhs,
        transpose_rhs,
    } = op
    else {
        unreachable!("matmul::run got {}", op.name())
    };
    let (lhs, rhs) = (inputs[0], inputs[1]);
    let out_shape = output.shape();
    let batch_shape = &out_shape[..out_shape.len() - 2];
    with_float_type!(output.dtype(), T => {
        let lhs_data = input_slice::<T>(lhs)?;
        let rhs_data = input_slice::<T>(rhs)?;
        check_span(lhs.layout(), lhs_data.len())?;
        check_span(rhs.layout(), rhs_data.len())?;
        let out = output_slice::<T>(output)?;
        if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
            let lhs_f32: &[f32] = bytemuck::cast_slice(lhs_data);
            let rhs_f32: &[f32] = bytemuck::cast_slice(rhs_data);
            let plan = Plan::new(
                lhs.layout(),
                *transpose_lhs,
                rhs.layout(),
                *transpose_rhs,
                batch_shape,
            );
            plan.execute(lhs_f32, rhs_f32, bytemuck::cast_slice_mut(out));
        } else {
            let (lhs_wide, lhs_layout) = widen(lhs_data, lhs.layout());
            let (rhs_wide, rhs_layout) = widen(rhs_data, rhs.layout());
            let plan = Plan::new(
                &lhs_layout,
                *transpose_lhs,
                &rhs_layout,
                *transpose_rhs,
                batch_shape,
            );
            let mut wide_out = vec![0.0f32; out.len()];
            plan.execute(&lhs_wide, &rhs_wide, &mut wide_out);
            out.par_chunks_mut(CONVERT_CHUNK)
                .zip(wide_out.par_chunks(CONVERT_CHUNK))
                .for_each(|(dst, src)| {
                    for (d, &s) in dst.iter_mut().zip(src) {
                        *d = T::from_f32(s);
                    }
                });
        }
        Ok(())
    }, _ => unreachable!("matmul of {} is rejected by the signature", output.dtype()))
}

/// gemm reads raw pointers, so make sure every element the view addresses is in its buffer.
fn check_span(layout: &Layout, len: usize) -> Result<()> {
    if layout.span_end() > len {
        return Err(backend_error(format!(
            "matmul: a view of shape {:?} reaches element {} of a {len}-element buffer",
            layout.shape(),
            layout.span_end()
        )));
    }
    Ok(())
}

/// One operand as gemm sees it: where each batch's matrix starts and how it is strided.
#[derive(Clone, Debug)]
struct Operand {
    offset: usize,
    /// Strides per output batch axis (0 where this operand is broadcast).
    batch_strides: Vec<usize>,
    row_stride: usize,
    col_stride: usize,
}

impl Operand {
    /// The operand of `layout` (`[.., rows, cols]` as stored), transposed when asked, with
    /// its batch axes aligned to the right of `batch_rank` output batch axes.
    fn new(layout: &Layout, transpose: bool, batch_rank: usize) -> Operand {
        let rank = layout.rank();
        let (shape, strides) = (layout.shape(), layout.strides());
        let (row_stride, col_stride) = if transpose {
            (strides[rank - 1], strides[rank - 2])
        } else {
            (strides[rank - 2], strides[rank - 1])
        };
        let own_batch = rank - 2;
        let batch_strides = (0..batch_rank)
            .map(|axis| {
                let lead = batch_rank - own_batch;
                if axis < lead || shape[axis - lead] == 1 {
                    0
                } else {
                    strides[axis - lead]
                }
            })
            .collect();
        Operand {
            offset: layout.offset(),
            batch_strides,
            row_stride,
            col_stride,
        }
    }

    fn batch_offset(&self, coords: &[usize]) -> usize {
        self.offset
            + coords
                .iter()
                .zip(&self.batch_strides)
                .map(|(&c, &s)| c * s)
                .sum::<usize>()
    }
}

/// A batched product `out[b] = lhs[b] · rhs[b]`, `out` dense `[batch.., m, n]`.
#[derive(Clone, Debug)]
struct Plan {
    m: usize,
    n: usize,
    k: usize,
    batch_shape: Vec<usize>,
    lhs: Operand,
    rhs: Operand,
}

impl Plan {
    fn new(
        lhs_layout: &Layout,
        transpose_lhs: bool,
        rhs_layout: &Layout,
        transpose_rhs: bool,
        batch_shape: &[usize],
    ) -> Plan {
        let dims = |layout: &Layout, transpose: bool| {
            let s = layout.shape();
            let (r, c) = (s[s.len() - 2], s[s.len() - 1]);
            if transpose {
                (c, r)
            } else {
                (r, c)
            }
        };
        let (m, k) = dims(lhs_layout, transpose_lhs);
        let (_, n) = dims(rhs_layout, transpose_rhs);
        let plan = Plan {
            m,
            n,
            k,
            batch_shape: batch_shape.to_vec(),
            lhs: Operand::new(lhs_layout, transpose_lhs, batch_shape.len()),
            rhs: Operand::new(rhs_layout, transpose_rhs, batch_shape.len()),
        };
        plan.folded()
    }

    /// When every batch shares one rhs and the lhs batches are evenly spaced rows (as in
    /// `[batch, seq, d] · [d, n]`), the whole batch is one taller product: one gemm call
    /// parallelises far better than many small ones.
    fn folded(self) -> Plan {
        if self.batch_shape.is_empty() || self.rhs.batch_strides.iter().any(|&s| s != 0) {
            return self;
        }
        let mut expected = self.lhs.row_stride * self.m;
        for (&dim, &stride) in self.batch_shape.iter().zip(&self.lhs.batch_strides).rev() {
            if dim == 1 {
                continue;
            }
            if stride != expected || self.m == 0 {
                return self;
            }
            expected *= dim;
        }
        let batches: usize = self.batch_shape.iter().product();
        Plan {
            m: self.m * batches,
            batch_shape: Vec::new(),
            lhs: Operand {
                batch_strides: Vec::new(),
                ..self.lhs
            },
            rhs: Operand {
                batch_strides: Vec::new(),
                ..self.rhs
            },
            ..self
        }
    }

    fn batch_coords(&self, mut flat: usize) -> Vec<usize> {
        let mut coords = vec![0; self.batch_shape.len()];
        for (c, &d) in coords.iter_mut().zip(&self.batch_shape).rev() {
            *c = flat % d;
            flat /= d;
        }
        coords
    }

    /// Runs the product; `lhs` and `rhs` hold every element the operands address.
    fn execute(&self, lhs: &[f32], rhs: &[f32], out: &mut [f32]) {
        let matrix = self.m * self.n;
        if out.is_empty() || matrix == 0 {
            return;
        }
        if self.k == 0 {
            out.par_chunks_mut(CONVERT_CHUNK)
                .for_each(|chunk| chunk.fill(0.0));
            return;
        }
        let batches = out.len() / matrix;
        let threads = rayon::current_num_threads();
        let work = self.m * self.n * self.k;
        if batches > 1 && (batches >= threads || work < SMALL_PRODUCT) {
            out.par_chunks_mut(matrix)
                .enumerate()
                .for_each(|(b, dst)| self.one(lhs, rhs, b, dst, Parallelism::None));
        } else {
            let parallelism = if threads > 1 {
                Parallelism::Rayon(threads)
            } else {
                Parallelism::None
            };
            for (b, dst) in out.chunks_mut(matrix).enumerate() {
                self.one(lhs, rhs, b, dst, parallelism);
            }
        }
    }

    /// One batch's product into its dense `[m, n]` destination.
    fn one(&self, lhs: &[f32], rhs: &[f32], batch: usize, dst: &mut [f32], par: Parallelism) {
        let coords = self.batch_coords(batch);
        let (lhs_at, rhs_at) = (
            self.lhs.batch_offset(&coords),
            self.rhs.batch_offset(&coords),
        );
        debug_assert_eq!(dst.len(), self.m * self.n);
        // SAFETY: `dst` is exactly the m×n row-major destination. The operands' views were
        // checked to lie inside `lhs` and `rhs` (`check_span`, or a dense widened copy), and
        // every element gemm reads, `offset + i·row_stride + j·col_stride` for `i < m` (or
        // `n`) and `j < k`, is an element of those views at this batch coordinate.
        unsafe {
            gemm::gemm(
                self.m,
                self.n,
                self.k,
                dst.as_mut_ptr(),
                1,
                self.n as isize,
                false,
                lhs.as_ptr().add(lhs_at),
                self.lhs.col_stride as isize,
                self.lhs.row_stride as isize,
                rhs.as_ptr().add(rhs_at),
                self.rhs.col_stride as isize,
                self.rhs.row_stride as isize,
                0.0f32,
                1.0f32,
                false,
                false,
                false,
                par,
            );
        }
    }
}

/// A dense f32 copy of an f16/bf16 view and a layout of the same logical shape over it.
/// Axes the view broadcasts (stride 0) stay broadcast, so a shared matrix is widened once.
fn widen<T: FloatElement>(src: &[T], layout: &Layout) -> (Vec<f32>, Layout) {
    let compact_shape: Vec<usize> = layout
        .shape()
        .iter()
        .zip(layout.strides())
        .map(|(&d, &s)| if s == 0 { d.min(1) } else { d })
        .collect();
    let compact_strides: Vec<usize> = layout
        .shape()
        .iter()
        .zip(layout.strides())
        .map(|(&d, &s)| if d > 1 { s } else { 0 })
        .collect();
    let compact = Layout::from_parts(compact_shape.clone(), compact_strides, layout.offset())
        .expect("one length");
    let numel = compact.numel();
    let mut dense = vec![0.0f32; numel];
    let (rows, len) = rows_and_len(&compact);
    if rows > 0 && len > 0 {
        let stride = inner_stride(&compact);
        let rows_per_task = (CONVERT_CHUNK / len).max(1);
        dense
            .par_chunks_mut(len * rows_per_task)
            .enumerate()
            .for_each(|(task, chunk)| {
                for (i, row) in chunk.chunks_mut(len).enumerate() {
                    let base = row_offset(&compact, task * rows_per_task + i);
                    if stride == 1 {
                        for (d, s) in row.iter_mut().zip(&src[base..base + len]) {
                            *d = s.to_f32();
                        }
                    } else {
                        for (j, d) in row.iter_mut().enumerate() {
                            *d = src[base + j * stride].to_f32();
                        }
                    }
                }
            });
    }
    let mut strides = contiguous_strides(&compact_shape);
    for (stride, (&d, &c)) in strides
        .iter_mut()
        .zip(layout.shape().iter().zip(&compact_shape))
    {
        if d != c {
            *stride = 0;
        }
    }
    let wide = Layout::from_parts(layout.shape().to_vec(), strides, 0).expect("one length");
    (dense, wide)
}

#[cfg(test)]
mod tests {
    use crate::{DType, Device, Op};

    /// `[[1, 2, 3], [4, 5, 6]] · [[7, 8], [9, 10], [11, 12]]` worked by hand.
    #[test]
    fn small_product_by_hand() {
        let device = Device::cpu_with_threads(2);
        let a = device
            .from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])
            .unwrap();
        let b = device
            .from_slice(&[7.0f32, 8.0, 9.0, 10.0, 11.0, 12.0], &[3, 2])
            .unwrap();
        let c = a.matmul(&b).unwrap();
        assert_eq!(c.to_vec::<f32>().unwrap(), vec![58.0, 64.0, 139.0, 154.0]);
        // aᵀ is [3, 2]; aᵀ·a worked by hand.
        let ata = device
            .run1(
                &Op::MatMul {
                    transpose_lhs: true,
                    transpose_rhs: false,
                },
                &[&a, &a],
            )
            .unwrap();
        assert_eq!(
            ata.to_vec::<f32>().unwrap(),
            vec![17.0, 22.0, 27.0, 22.0, 29.0, 36.0, 27.0, 36.0, 45.0]
        );
    }

    #[test]
    fn empty_inner_dimension_gives_zeros() {
        let device = Device::cpu_with_threads(2);
        let a = device.zeros(&[3, 0], DType::BF16).unwrap();
        let b = device.zeros(&[0, 2], DType::BF16).unwrap();
        let c = a.matmul(&b).unwrap();
        assert_eq!(c.to_f64_vec().unwrap(), vec![0.0; 6]);
    }
}
