//! The TensorLogic language: syntax, checking, einsum planning, evaluation.
