//! Golden test of the GGUF block formats against gguf-py (llama.cpp's Python package): the
//! files under tests/data/quant/ were written by scripts/reference/quant_golden.py. Both the
//! naive reference and the CPU backend must reproduce them.

use std::path::PathBuf;

use tl_tensor::reference::{evaluate, HostData, HostTensor};
use tl_tensor::{DType, Device, Op};

fn data(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/quant")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

const FORMATS: [DType; 5] = [
    DType::Q4_0,
    DType::Q4_1,
    DType::Q8_0,
    DType::Q4_K,
    DType::Q6_K,
];

/// Every format decodes to gguf-py's values bit for bit. gguf-py computes in f32 where each
/// value is one rounding of an exact expression (the scale products are exact in f32), so the
/// reference's exact f64 values, rounded to f32, must agree exactly too.
#[test]
fn dequantize_matches_gguf_py() {
    let device = Device::cpu();
    for dtype in FORMATS {
        let blocks = data(&format!("dequantize_{dtype}.blocks"));
        let expected = f32s(&data(&format!("dequantize_{dtype}.f32")));
        let shape = [blocks.len() / dtype.block_bytes(), dtype.block_size()];
        assert_eq!(shape[0] * shape[1], expected.len(), "{dtype}");

        let host = HostTensor {
            shape: shape.to_vec(),
            dtype,
            data: HostData::Blocks(blocks.clone()),
        };
        let reference = evaluate(&Op::Dequantize { dtype: DType::F32 }, &[host]).unwrap();
        let reference = reference[0].values();
        let tensor = device.from_bytes(&blocks, &shape, dtype).unwrap();
        let cpu: Vec<f32> = tensor.dequantize(DType::F32).unwrap().to_vec().unwrap();

        for (i, &want) in expected.iter().enumerate() {
            assert_eq!(
                (reference[i] as f32).to_bits(),
                want.to_bits(),
                "reference {dtype} value {i}: {} vs gguf-py {want}",
                reference[i]
            );
            assert_eq!(
                cpu[i].to_bits(),
                want.to_bits(),
                "cpu {dtype} value {i}: {} vs gguf-py {want}",
                cpu[i]
            );
        }
    }
}

/// Q8_0, Q4_0 and Q4_1 blocks are gguf-py's (that is, ggml's reference quantizers') byte
/// for byte, from the f32 input and from the same values stored as f16 where they fit.
#[test]
fn quantize_matches_gguf_py() {
    let device = Device::cpu();
    for dtype in [DType::Q8_0, DType::Q4_0, DType::Q4_1] {
        let input = f32s(&data(&format!("quantize_{dtype}.f32")));
        let expected = data(&format!("quantize_{dtype}.blocks"));
        let shape = [input.len() / 32, 32];

        let host = HostTensor::from_values(
            &shape,
            DType::F32,
            input.iter().map(|&v| v as f64).collect(),
        );
        let reference = evaluate(&Op::Quantize { dtype }, &[host]).unwrap();
        assert_eq!(reference[0].dtype, dtype);
        assert_blocks_equal(dtype, "reference", &reference[0].to_bytes(), &expected);

        let tensor = device.from_slice(&input, &shape).unwrap();
        let cpu = tensor.quantize(dtype).unwrap().to_bytes().unwrap();
        assert_blocks_equal(dtype, "cpu", &cpu, &expected);
    }
}

fn assert_blocks_equal(dtype: DType, who: &str, got: &[u8], want: &[u8]) {
    assert_eq!(got.len(), want.len(), "{who} {dtype}: byte count");
    let size = dtype.block_bytes();
    for (b, (g, w)) in got.chunks(size).zip(want.chunks(size)).enumerate() {
        assert_eq!(g, w, "{who} {dtype}: block {b} differs from gguf-py's");
    }
}

/// QMatMul with gguf-py's blocks as weights and activations that 8-bit quantization keeps
/// exactly (integers in [-127, 127] times 2^-6, every 32-block holding ±127): the result is
/// the exact dot product of gguf-py's decoded weights with the activations, up to f32
/// accumulation.
#[test]
fn qmatmul_equals_the_dot_product_with_gguf_py_weights() {
    let device = Device::cpu();
    for dtype in FORMATS {
        let blocks = data(&format!("dequantize_{dtype}.blocks"));
        let weights = f32s(&data(&format!("dequantize_{dtype}.f32")));
        let k = 256;
        let n = weights.len() / k;
        for rows in [1, 3] {
            let x: Vec<f32> = (0..rows * k)
                .map(|i| {
                    let q = if i % 32 == 7 {
                        127
                    } else {
                        (i * 7919 % 255) as i32 - 127
                    };
                    q as f32 / 64.0
                })
                .collect();
            let w = device.from_bytes(&blocks, &[n, k], dtype).unwrap();
            let xs = device.from_slice(&x, &[rows, k]).unwrap();
            let got: Vec<f32> = xs.qmatmul(&w).unwrap().to_vec().unwrap();
            for r in 0..rows {
                for j in 0..n {
                    let (x_row, w_row) = (&x[r * k..(r + 1) * k], &weights[j * k..(j + 1) * k]);
                    let exact: f64 = x_row
                        .iter()
                        .zip(w_row)
                        .map(|(&a, &b)| a as f64 * b as f64)
                        .sum();
                    let magnitude: f64 = x_row
                        .iter()
                        .zip(w_row)
                        .map(|(&a, &b)| (a as f64 * b as f64).abs())
                        .sum();
                    let got = got[r * n + j] as f64;
                    assert!(
                        (got - exact).abs() <= 1e-5 * magnitude,
                        "{dtype} [{rows} rows] out[{r}, {j}]: {got} vs {exact}"
                    );
                }
            }
        }
    }
}
