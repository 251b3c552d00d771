//! GGUF block formats (Q4_0, Q4_1, Q8_0, Q4_K, Q6_K): block codecs shared by the CPU kernels.
