//! CPU kernel: `SwiGlu`, `silu(gate) · up` elementwise over two views of one shape.

use rayon::prelude::*;

use super::rows::RowReader;
use crate::cpu::element::FloatElement;
use crate::cpu::{input_slice, output_slice};
use crate::error::Result;
use crate::tensor::Tensor;

/// Rows shorter than this many elements are grouped into one rayon task.
const MIN_TASK_ELEMENTS: usize = 16 * 1024;

pub(super) fn run<T: FloatElement>(gate: &Tensor, up: &Tensor, output: &Tensor) -> Result<()> {
    let out = output_slice::<T>(output)?;
    let gate_reader = RowReader::new(input_slice::<T>(gate)?, gate.layout());
    let up_reader = RowReader::new(input_slice::<T>(up)?, up.layout());
    let len = gate_reader.len();
    if out.is_empty() || len == 0 {
        return Ok(());
    }
    let rows_per_task = (MIN_TASK_ELEMENTS / len).max(1);
    out.par_chunks_mut(rows_per_task * len)
        .enumerate()
        .for_each_init(
            || (vec![0.0f32; len], vec![0.0f32; len]),
            |(g, u), (task, chunk)| {
                for (i, dst) in chunk.chunks_mut(len).enumerate() {
                    let row = task * rows_per_task + i;
                    gate_reader.read(row, g);
                    up_reader.read(row, u);
                    for ((d, &g), &u) in dst.iter_mut().zip(g.iter()).zip(u.iter()) {
                        *d = T::from_f32(g / (1.0 + (-g).exp()) * u);
                    }
                }
            },
        );
    Ok(())
}
