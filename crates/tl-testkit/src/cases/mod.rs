//! The case table, one file per op group.

mod creation;
mod elementwise;
mod index;
mod linear;
mod matmul;
mod movement;
mod nn;
mod quant;
mod reduce;
mod sample;

use crate::case::Case;

/// Every conformance case.
pub fn all() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(creation::cases());
    cases.extend(movement::cases());
    cases.extend(elementwise::cases());
    cases.extend(reduce::cases());
    cases.extend(index::cases());
    cases.extend(matmul::cases());
    cases.extend(nn::cases());
    cases.extend(quant::cases());
    cases.extend(sample::cases());
    // Appended last: a case's seed is its index, so cases added in the middle would give
    // every later case new inputs.
    cases.extend(movement::tiled_copy_cases());
    cases.extend(nn::decode_attention_cases());
    cases.extend(linear::cases());
    cases.extend(nn::prefill_attention_cases());
    cases.extend(linear::many_rows_cases());
    cases.extend(quant::block_pair_cases());
    cases.extend(linear::many_quantized_rows_cases());
    cases.extend(sample::greedy_row_cases());
    cases.extend(linear::more_pair_format_cases());
    cases
}
