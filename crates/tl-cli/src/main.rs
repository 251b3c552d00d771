//! The `tl` binary.
fn main() {}
