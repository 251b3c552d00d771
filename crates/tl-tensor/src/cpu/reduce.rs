//! CPU kernels: `Reduce` (sum, mean, max, min, log-sum-exp over any axes) and `ArgReduce`.
//!
//! The input is split into kept axes (one per output element) and reduced axes, each
//! coalesced, so a reduction over dense trailing axes (or over everything) reads contiguous
//! runs. Long reductions are cut into fixed pieces of [`PIECE`] elements whose partial results
//! are merged in order: the pieces depend only on the shape, never on the thread count, so
//! results are bit-identical however many threads run them. When the kept axes end with the
//! input's contiguous axis (e.g. a sum over axis 0 of a matrix), neighbouring outputs are
//! accumulated side by side instead, one vectorised pass over each reduced row.

mod reducers;

use rayon::prelude::*;

use self::reducers::{
    ColumnReducer, FloatArg, FloatExtreme, FloatSum, IntArg, IntExtreme, IntSum, Reducer, SumExp,
};
use super::elementwise::checked_input;
use super::elementwise::integer::IntElement;
use super::elementwise::widen::Widen;
use super::strided::{coalesce, inner_stride, row_offset, rows_and_len};
use super::{backend_error, output_slice};
use crate::error::{Result, TensorError};
use crate::layout::Layout;
use crate::op::{ArgReduceOp, Op, ReduceOp};
use crate::tensor::Tensor;
use crate::DType;

/// Reduced elements per partial result. Fixed, so the summation order never depends on how
/// the work is spread over threads.
const PIECE: usize = 32 * 1024;
/// Input elements per rayon task when many short reductions are grouped together.
const TASK_ELEMENTS: usize = 64 * 1024;
/// Outputs accumulated side by side in one task of the column path (their f64 accumulators
/// stay in L1, and each reduced row is read in runs of whole pages).
const COLUMN_BLOCK: usize = 2048;
/// Below this many (output row, column block) tasks the column path also splits the reduced
/// rows, into at most `MAX_COLUMN_PIECES` pieces of at least `COLUMN_PIECE_ELEMENTS`.
const MIN_COLUMN_TASKS: usize = 8;
const MAX_COLUMN_PIECES: usize = 8;
const COLUMN_PIECE_ELEMENTS: usize = 128 * 1024;
/// Shortest run of contiguous outputs for which the column path pays off.
const MIN_COLUMNS: usize = 16;

pub(crate) fn run(op: &Op, inputs: &[&Tensor], output: &Tensor) -> Result<()> {
    match (op, inputs) {
        (Op::Reduce { op, axes, .. }, [x]) => reduce(*op, axes, x, output),
        (Op::ArgReduce { op, axis, .. }, [x]) => arg_reduce(*op, *axis, x, output),
        _ => Err(backend_error(format!(
            "the reduction kernels cannot run {} on {} inputs",
            op.name(),
            inputs.len()
        ))),
    }
}

/// The input seen as `outputs` reductions of `n` elements each.
struct Plan {
    /// The kept axes, coalesced; its offset is the input's.
    kept: Layout,
    /// The reduced axes, coalesced, with offset 0 (relative to an output's first element).
    reduced: Layout,
    outputs: usize,
    n: usize,
}

impl Plan {
    /// `reorder` lets the reduced axes be visited in memory order (largest stride first),
    /// so a permuted dense input is still read as one contiguous run; argmax/argmin keep
    /// the logical order, which defines "first".
    fn new(layout: &Layout, axes: &[usize], reorder: bool) -> Result<Plan> {
        let (mut kept, mut reduced) = (Vec::new(), Vec::new());
        for (axis, (&dim, &stride)) in layout.shape().iter().zip(layout.strides()).enumerate() {
            if axes.contains(&axis) {
                reduced.push((dim, stride));
            } else {
                kept.push((dim, stride));
            }
        }
        if reorder {
            reduced.sort_by_key(|&(_, stride)| std::cmp::Reverse(stride));
        }
        let split = |dims: Vec<(usize, usize)>, offset| {
            let (shape, strides) = dims.into_iter().unzip();
            Layout::from_parts(shape, strides, offset).map(|l| coalesce(&l))
        };
        let kept = split(kept, layout.offset())?;
        let reduced = split(reduced, 0)?;
        Ok(Plan {
            outputs: kept.numel(),
            n: reduced.numel(),
            kept,
            reduced,
        })
    }

    /// The output's elements, checked to be one per reduction.
    fn output<'a, O: bytemuck::Pod>(&self, out: &'a Tensor) -> Result<&'a mut [O]> {
        let dst = output_slice::<O>(out)?;
        if dst.len() != self.outputs {
            return Err(backend_error(format!(
                "a reduction to {} values cannot fill an output of shape {:?}",
                self.outputs,
                out.shape()
            )));
        }
        Ok(dst)
    }

    /// Element offset of the first element reduced into `output`.
    fn base(&self, output: usize) -> usize {
        let (_, len) = rows_and_len(&self.kept);
        let len = len.max(1);
        row_offset(&self.kept, output / len) + (output % len) * inner_stride(&self.kept)
    }

    /// Whether outputs come in contiguous runs (the kept axes end with a stride-1 axis of
    /// at least `MIN_COLUMNS`) while the reduced elements are not themselves contiguous.
    fn columns(&self) -> bool {
        let (_, len) = rows_and_len(&self.kept);
        self.kept.rank() > 0
            && inner_stride(&self.kept) == 1
            && len >= MIN_COLUMNS
            && self.n > 0
            && (self.reduced.rank() == 0 || inner_stride(&self.reduced) != 1)
    }

    /// Feeds the reduced elements `from..to` of `output` to `reducer`, run by run.
    fn accumulate<R: Reducer>(
        &self,
        reducer: &R,
        data: &[R::In],
        output: usize,
        (from, to): (usize, usize),
        acc: &mut R::Acc,
    ) {
        let base = self.base(output);
        let (_, len) = rows_and_len(&self.reduced);
        let stride = inner_stride(&self.reduced);
        let mut flat = from;
        while flat < to {
            let (row, col) = (flat / len, flat % len);
            let count = (len - col).min(to - flat);
            let start = base + row_offset(&self.reduced, row) + col * stride;
            if stride == 1 {
                reducer.run(acc, &data[start..start + count], flat);
            } else {
                for j in 0..count {
                    reducer.step(acc, data[start + j * stride], flat + j);
                }
            }
            flat += count;
        }
    }
}

/// Runs `reducer` for every output: outputs in parallel when each is short, else pieces of
/// every output in parallel, merged in order.
fn drive<R: Reducer>(reducer: &R, data: &[R::In], plan: &Plan, out: &mut [R::Out]) {
    let n = plan.n;
    let pieces = n.div_ceil(PIECE).max(1);
    if pieces == 1 {
        let per_task = (TASK_ELEMENTS / n.max(1)).max(1);
        out.par_chunks_mut(per_task)
            .enumerate()
            .for_each(|(task, outs)| {
                for (i, o) in outs.iter_mut().enumerate() {
                    let output = task * per_task + i;
                    let mut acc = reducer.start(output);
                    plan.accumulate(reducer, data, output, (0, n), &mut acc);
                    *o = reducer.finish(acc, n);
                }
            });
        return;
    }
    let partials: Vec<R::Acc> = (0..plan.outputs * pieces)
        .into_par_iter()
        .map(|task| {
            let (output, piece) = (task / pieces, task % pieces);
            let mut acc = reducer.start(output);
            let range = (piece * PIECE, ((piece + 1) * PIECE).min(n));
            plan.accumulate(reducer, data, output, range, &mut acc);
            acc
        })
        .collect();
    out.par_iter_mut()
        .zip(partials.par_chunks(pieces))
        .for_each(|(o, parts)| {
            let merged = parts.iter().copied().reduce(|a, b| reducer.combine(a, b));
            if let Some(acc) = merged {
                *o = reducer.finish(acc, n);
            }
        });
}

/// The column path: each task owns up to `COLUMN_BLOCK` contiguous outputs and adds reduced
/// rows of the input into their accumulators, in the reduced elements' order. When there are
/// few such tasks, the reduced rows are also cut into consecutive pieces (a count fixed by
/// the shape alone) whose partial accumulators are merged in order.
fn drive_columns<R: ColumnReducer>(reducer: &R, data: &[R::In], plan: &Plan, out: &mut [R::Out]) {
    let n = plan.n;
    let (kept_rows, width) = rows_and_len(&plan.kept);
    let (_, reduced_len) = rows_and_len(&plan.reduced);
    let reduced_stride = inner_stride(&plan.reduced);
    let blocks = width.div_ceil(COLUMN_BLOCK);
    let accumulate = |row: usize, block: usize, (from, to): (usize, usize)| {
        let base = row_offset(&plan.kept, row) + block * COLUMN_BLOCK;
        let len = COLUMN_BLOCK.min(width - block * COLUMN_BLOCK);
        let row = |flat: usize| {
            let (r, c) = (flat / reduced_len, flat % reduced_len);
            let start = base + row_offset(&plan.reduced, r) + c * reduced_stride;
            &data[start..start + len]
        };
        let mut acc = vec![reducer.start(); len];
        // Four input rows per pass (still added in order) halve the accumulator traffic and
        // keep four memory streams in flight.
        let mut flat = from;
        while flat + 4 <= to {
            let (x0, x1, x2, x3) = (row(flat), row(flat + 1), row(flat + 2), row(flat + 3));
            for ((((a, &v0), &v1), &v2), &v3) in acc.iter_mut().zip(x0).zip(x1).zip(x2).zip(x3) {
                *a = reducer.step(reducer.step(reducer.step(reducer.step(*a, v0), v1), v2), v3);
            }
            flat += 4;
        }
        for flat in flat..to {
            for (a, &x) in acc.iter_mut().zip(row(flat)) {
                *a = reducer.step(*a, x);
            }
        }
        acc
    };
    let pieces = if kept_rows * blocks >= MIN_COLUMN_TASKS {
        1
    } else {
        (n * width / COLUMN_PIECE_ELEMENTS).clamp(1, MAX_COLUMN_PIECES)
    };
    let per_piece = n.div_ceil(pieces);
    let pieces = n.div_ceil(per_piece);
    if pieces == 1 {
        let rows_per_task = (TASK_ELEMENTS / (width * n).max(1)).max(1);
        out.par_chunks_mut(width)
            .with_min_len(rows_per_task)
            .enumerate()
            .for_each(|(row, outs)| {
                outs.par_chunks_mut(COLUMN_BLOCK)
                    .enumerate()
                    .for_each(|(block, outs)| {
                        let acc = accumulate(row, block, (0, n));
                        for (o, &a) in outs.iter_mut().zip(&acc) {
                            *o = reducer.finish(a, n);
                        }
                    });
            });
        return;
    }
    let partials: Vec<Vec<R::Acc>> = (0..kept_rows * blocks * pieces)
        .into_par_iter()
        .map(|task| {
            let (row_block, piece) = (task / pieces, task % pieces);
            let range = (piece * per_piece, ((piece + 1) * per_piece).min(n));
            accumulate(row_block / blocks, row_block % blocks, range)
        })
        .collect();
    for (row, outs) in out.chunks_mut(width).enumerate() {
        for (block, outs) in outs.chunks_mut(COLUMN_BLOCK).enumerate() {
            let parts = &partials[(row * blocks + block) * pieces..][..pieces];
            for (j, o) in outs.iter_mut().enumerate() {
                let merged = parts
                    .iter()
                    .map(|part| part[j])
                    .reduce(|a, b| reducer.merge(a, b));
                if let Some(acc) = merged {
                    *o = reducer.finish(acc, n);
                }
            }
        }
    }
}

fn reduce(op: ReduceOp, axes: &[usize], x: &Tensor, out: &Tensor) -> Result<()> {
    let plan = Plan::new(x.layout(), axes, true)?;
    if plan.outputs == 0 {
        return Ok(());
    }
    crate::with_float_type!(x.dtype(), T => reduce_float::<T>(op, x, &plan, out), _ => match x.dtype() {
        DType::I32 => reduce_int::<i32>(op, x, &plan, out),
        DType::I64 => reduce_int::<i64>(op, x, &plan, out),
        other => Err(TensorError::unsupported_dtype(Op::Reduce { op, axes: axes.to_vec(), keepdim: false }.name(), other)),
    })
}

fn either<R: Reducer + ColumnReducer<In = <R as Reducer>::In, Out = <R as Reducer>::Out>>(
    reducer: &R,
    data: &[<R as Reducer>::In],
    plan: &Plan,
    out: &mut [<R as Reducer>::Out],
) {
    if plan.columns() {
        drive_columns(reducer, data, plan, out);
    } else {
        drive(reducer, data, plan, out);
    }
}

fn reduce_float<T: Widen>(op: ReduceOp, x: &Tensor, plan: &Plan, out: &Tensor) -> Result<()> {
    let data = checked_input::<T>(x)?;
    let dst = plan.output(out)?;
    match op {
        ReduceOp::Sum => either(&FloatSum::<T, T>::new(false), data, plan, dst),
        ReduceOp::Mean => either(&FloatSum::<T, T>::new(true), data, plan, dst),
        ReduceOp::Max => either(&FloatExtreme::<T, T, true>::new(), data, plan, dst),
        ReduceOp::Min => either(&FloatExtreme::<T, T, false>::new(), data, plan, dst),
        ReduceOp::LogSumExp => {
            let mut shifts = vec![0.0f32; plan.outputs];
            drive(
                &FloatExtreme::<T, f32, true>::new(),
                data,
                plan,
                &mut shifts,
            );
            drive(&SumExp::<T>::new(&shifts), data, plan, dst);
        }
    }
    Ok(())
}

fn reduce_int<I: IntElement>(op: ReduceOp, x: &Tensor, plan: &Plan, out: &Tensor) -> Result<()> {
    let data = checked_input::<I>(x)?;
    let dst = plan.output(out)?;
    match op {
        ReduceOp::Sum => either(&IntSum::<I>::new(), data, plan, dst),
        ReduceOp::Max => either(&IntExtreme::<I, true>::new(), data, plan, dst),
        ReduceOp::Min => either(&IntExtreme::<I, false>::new(), data, plan, dst),
        ReduceOp::Mean | ReduceOp::LogSumExp => {
            return Err(TensorError::unsupported_dtype(
                format!("reduce.{}", op.name()),
                x.dtype(),
            ))
        }
    }
    Ok(())
}

fn arg_reduce(op: ArgReduceOp, axis: usize, x: &Tensor, out: &Tensor) -> Result<()> {
    let plan = Plan::new(x.layout(), &[axis], false)?;
    if plan.outputs == 0 {
        return Ok(());
    }
    let dst = plan.output::<i64>(out)?;
    let max = op == ArgReduceOp::ArgMax;
    macro_rules! float_arg {
        ($t:ty) => {{
            let data = checked_input::<$t>(x)?;
            if max {
                drive(&FloatArg::<$t, true>::new(), data, &plan, dst)
            } else {
                drive(&FloatArg::<$t, false>::new(), data, &plan, dst)
            }
        }};
    }
    macro_rules! int_arg {
        ($t:ty) => {{
            let data = checked_input::<$t>(x)?;
            if max {
                drive(&IntArg::<$t, true>::new(), data, &plan, dst)
            } else {
                drive(&IntArg::<$t, false>::new(), data, &plan, dst)
            }
        }};
    }
    match x.dtype() {
        DType::F32 => float_arg!(f32),
        DType::F16 => float_arg!(half::f16),
        DType::BF16 => float_arg!(half::bf16),
        DType::I32 => int_arg!(i32),
        DType::I64 => int_arg!(i64),
        other => {
            let name = Op::ArgReduce {
                op,
                axis,
                keepdim: false,
            }
            .name();
            return Err(TensorError::unsupported_dtype(name, other));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{Device, ReduceOp, Tensor};

    /// Deterministic values in [-0.3, 0.7).
    fn values(n: usize) -> Vec<f32> {
        (0..n as u64)
            .map(|i| (i.wrapping_mul(2_654_435_761) % 10_007) as f32 / 10_007.0 - 0.3)
            .collect()
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let data = values(600 * 1000);
        let run = |threads: usize| -> Vec<Vec<u8>> {
            let device = Device::cpu_with_threads(threads);
            let flat = device.from_slice(&data, &[data.len()]).unwrap();
            let x = device.from_slice(&data, &[600, 1000]).unwrap();
            let xt = x.transpose(0, 1).unwrap();
            let results: Vec<crate::Result<Tensor>> = vec![
                flat.sum(&[0], false),
                flat.reduce(ReduceOp::LogSumExp, &[0], false),
                x.sum(&[1], false),
                x.sum(&[0], false),
                x.reduce(ReduceOp::Mean, &[0], false),
                xt.sum(&[0], false),
                xt.reduce(ReduceOp::Max, &[1], false),
            ];
            results
                .into_iter()
                .map(|t| t.and_then(|t| t.to_bytes()).unwrap())
                .collect()
        };
        let one = run(1);
        for threads in [2, 3, 5] {
            assert!(run(threads) == one, "{threads} threads differ from one");
        }
    }

    #[test]
    fn sums_of_16m_f32_keep_f32_accuracy() {
        let (rows, cols) = (4096, 4096);
        let data: Vec<f32> = values(rows * cols).iter().map(|v| v + 0.3).collect();
        let device = Device::cpu();
        let x = device.from_slice(&data, &[rows * cols]).unwrap();
        // The oracle: plain f64 sums.
        let exact: f64 = data.iter().map(|&v| v as f64).sum();
        let got = x.sum(&[0], false).unwrap().to_scalar().unwrap();
        assert!(((got - exact) / exact).abs() < 2e-7, "{got} vs {exact}");

        let matrix = x.reshape(&[rows, cols]).unwrap();
        let by_row = matrix.sum(&[1], false).unwrap().to_vec::<f32>().unwrap();
        let by_column = matrix.sum(&[0], false).unwrap().to_vec::<f32>().unwrap();
        for i in [0, 1, 2047, 4095] {
            let row: f64 = data[i * cols..(i + 1) * cols]
                .iter()
                .map(|&v| v as f64)
                .sum();
            let column: f64 = (0..rows).map(|r| data[r * cols + i] as f64).sum();
            assert!(((by_row[i] as f64 - row) / row).abs() < 2e-7);
            assert!(((by_column[i] as f64 - column) / column).abs() < 2e-7);
        }
    }
}
