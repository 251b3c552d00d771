//! Unit tests of the CPU quant kernels: hand-checkable products, bit-exact agreement of the
//! quantizer with the reference, and bad views rejected with an error.

use half::f16;

use crate::layout::Layout;
use crate::reference::{evaluate, HostTensor};
use crate::{DType, Device, Op, Tensor};

/// A Q8_0 weight `[n, k]` with scale 1 and quant `w[j][c] = ((j + 3c) % 17) − 8`.
fn q8_0_weight(n: usize, k: usize) -> (Vec<u8>, Vec<i32>) {
    let mut bytes = Vec::new();
    let mut values = Vec::new();
    for j in 0..n {
        for block in 0..k / 32 {
            bytes.extend(f16::from_f32(1.0).to_le_bytes());
            for c in block * 32..(block + 1) * 32 {
                let q = ((j + 3 * c) % 17) as i32 - 8;
                bytes.push(q as i8 as u8);
                values.push(q);
            }
        }
    }
    (bytes, values)
}

/// Activations that 8-bit quantization keeps exactly: integers with ±127 in every block.
fn exact_x(rows: usize, k: usize) -> Vec<f32> {
    (0..rows * k)
        .map(|i| {
            if i % 32 == 0 {
                -127.0
            } else {
                ((i * 13) % 201) as f32 - 100.0
            }
        })
        .collect()
}

#[test]
fn qmatmul_of_integers_is_exact() {
    for n in [37, 3] {
        qmatmul_of_integers_is_exact_for(n);
    }
}

fn qmatmul_of_integers_is_exact_for(n: usize) {
    let device = Device::cpu();
    let k = 96;
    let (bytes, w) = q8_0_weight(n, k);
    let weight = device.from_bytes(&bytes, &[n, k], DType::Q8_0).unwrap();
    for rows in [1, 3, 19] {
        let x = exact_x(rows, k);
        let out: Vec<f32> = device
            .from_slice(&x, &[rows, k])
            .unwrap()
            .qmatmul(&weight)
            .unwrap()
            .to_vec()
            .unwrap();
        for r in 0..rows {
            for j in 0..n {
                let want: i32 = (0..k).map(|c| x[r * k + c] as i32 * w[j * k + c]).sum();
                assert_eq!(out[r * n + j], want as f32, "rows {rows}: out[{r}, {j}]");
            }
        }
    }
    // f16 activations and output: the exact f32 result, rounded once to f16.
    let x: Vec<f16> = (0..k)
        .map(|c| {
            f16::from_f32(if c % 32 == 0 {
                127.0
            } else {
                (c % 5) as f32 - 2.0
            })
        })
        .collect();
    let out: Vec<f16> = device
        .from_slice(&x, &[1, k])
        .unwrap()
        .qmatmul(&weight)
        .unwrap()
        .to_vec()
        .unwrap();
    for j in 0..n {
        let want: f32 = (0..k).map(|c| x[c].to_f32() * w[j * k + c] as f32).sum();
        assert_eq!(out[j], f16::from_f32(want), "f16 out[{j}]");
    }
}

#[test]
fn cpu_quantize_is_bitwise_the_reference() {
    let device = Device::cpu();
    let (rows, k) = (9, 1024);
    let values: Vec<f32> = (0..rows * k)
        .map(|i| ((i * 7919) % 2003) as f32 / 1001.0 - 1.0 + (i % 97) as f32 * 0.013)
        .collect();
    // Stored transposed, read through a permuted view (inner stride `rows`).
    let stored: Vec<f32> = (0..k * rows)
        .map(|i| values[(i % rows) * k + i / rows])
        .collect();
    let x = device
        .from_slice(&stored, &[k, rows])
        .unwrap()
        .permute(&[1, 0])
        .unwrap();
    let host = HostTensor::from_values(
        &[rows, k],
        DType::F32,
        values.iter().map(|&v| v as f64).collect(),
    );
    for dtype in [DType::Q8_0, DType::Q4_0, DType::Q4_1] {
        let cpu = x.quantize(dtype).unwrap().to_bytes().unwrap();
        let reference = evaluate(&Op::Quantize { dtype }, std::slice::from_ref(&host)).unwrap();
        assert!(cpu == reference[0].to_bytes(), "{dtype} blocks differ");
    }
}

#[test]
fn views_that_split_blocks_are_errors() {
    let device = Device::cpu();
    let (bytes, _) = q8_0_weight(4, 64);
    let stored = device.from_bytes(&bytes, &[4, 64], DType::Q8_0).unwrap();
    // A raw view starting 16 weights into a block (the public view methods refuse this).
    let layout = Layout::from_parts(vec![3, 64], vec![64, 1], 16).unwrap();
    let split = Tensor::from_parts(stored.buffer().clone(), layout, DType::Q8_0, device.clone());
    let x = device.from_slice(&[0.5f32; 64], &[1, 64]).unwrap();
    let error = x.qmatmul(&split).unwrap_err().to_string();
    assert!(error.contains("partial blocks"), "{error}");
    let error = split.dequantize(DType::F32).unwrap_err().to_string();
    assert!(error.contains("partial blocks"), "{error}");
    // Rows past the end of the buffer.
    let layout = Layout::from_parts(vec![5, 64], vec![64, 1], 0).unwrap();
    let long = Tensor::from_parts(stored.buffer().clone(), layout, DType::Q8_0, device);
    assert!(x.qmatmul(&long).is_err());
}

#[test]
fn empty_reductions_give_zeros() {
    let device = Device::cpu();
    let x = device.from_slice::<f32>(&[], &[3, 0]).unwrap();
    let w = device.from_bytes(&[], &[5, 0], DType::Q4_0).unwrap();
    let out: Vec<f32> = x.qmatmul(&w).unwrap().to_vec().unwrap();
    assert_eq!(out, vec![0.0; 15]);
}
