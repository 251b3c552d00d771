//! Unit tests of the CPU quant kernels against hand-checkable values and the reference.
