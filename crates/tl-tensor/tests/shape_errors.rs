//! Invalid op applications return typed errors that name the op and both shapes, or the
//! argument at fault.

use tl_tensor::{DType, Device, TensorError};

#[test]
fn incompatible_broadcast_names_op_and_shapes() {
    let device = Device::cpu();
    let a = device.zeros(&[2, 3], DType::F32).unwrap();
    let b = device.zeros(&[4], DType::F32).unwrap();
    let error = a.add(&b).unwrap_err();
    assert!(matches!(error, TensorError::Broadcast { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("binary.add") && text.contains("[2, 3]") && text.contains("[4]"),
        "{text}"
    );
}

#[test]
fn matmul_inner_mismatch_names_op_and_shapes() {
    let device = Device::cpu();
    let a = device.zeros(&[2, 3], DType::F32).unwrap();
    let b = device.zeros(&[4, 5], DType::F32).unwrap();
    let text = a.matmul(&b).unwrap_err().to_string();
    assert!(
        text.contains("matmul") && text.contains("[2, 3]") && text.contains("[4, 5]"),
        "{text}"
    );
}

#[test]
fn bad_axis_names_op_and_rank() {
    let device = Device::cpu();
    let a = device.zeros(&[2, 3], DType::F32).unwrap();
    let error = a.softmax(2).unwrap_err();
    assert!(
        matches!(
            error,
            TensorError::BadAxis {
                axis: 2,
                rank: 2,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("softmax"));
}

#[test]
fn dtype_mismatch_is_an_error() {
    let device = Device::cpu();
    let a = device.zeros(&[2], DType::F32).unwrap();
    let b = device.zeros(&[2], DType::F16).unwrap();
    assert!(matches!(
        a.add(&b).unwrap_err(),
        TensorError::DTypeMismatch { .. }
    ));
}

#[test]
fn host_data_of_the_wrong_size_is_an_error() {
    let device = Device::cpu();
    let error = device.from_slice(&[1f32, 2.0, 3.0], &[2, 2]).unwrap_err();
    assert!(
        matches!(
            error,
            TensorError::HostDataSize {
                expected: 16,
                got: 12,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn tensors_on_different_devices_do_not_mix() {
    let (first, second) = (Device::cpu_with_threads(1), Device::cpu_with_threads(1));
    let a = first.zeros(&[2], DType::F32).unwrap();
    let b = second.zeros(&[2], DType::F32).unwrap();
    assert!(matches!(
        a.add(&b).unwrap_err(),
        TensorError::DeviceMismatch { .. }
    ));
}

#[test]
fn run_into_writes_a_dense_window_in_place_and_rejects_bad_targets() {
    use tl_tensor::Op;
    let device = Device::cpu();
    let cache = device.zeros(&[4, 3], DType::F32).unwrap();
    let row = device.from_slice(&[1f32, 2., 3.], &[1, 3]).unwrap();
    let window = cache.narrow(0, 2, 1).unwrap();
    device
        .run_into(&Op::Contiguous, &[&row], &[&window])
        .unwrap();
    assert_eq!(
        cache.to_vec::<f32>().unwrap(),
        vec![0., 0., 0., 0., 0., 0., 1., 2., 3., 0., 0., 0.]
    );
    let column = cache.narrow(1, 0, 1).unwrap();
    assert!(
        device
            .run_into(&Op::Contiguous, &[&row], &[&column])
            .is_err(),
        "shape mismatch"
    );
    assert!(
        device
            .run_into(&Op::Contiguous, &[&window], &[&window])
            .is_err(),
        "aliasing"
    );
}

#[test]
fn sampling_parameters_out_of_range_are_each_named() {
    let device = Device::cpu();
    let logits = device.zeros(&[1, 8], DType::F32).unwrap();
    let uniform = device.zeros(&[1], DType::F32).unwrap();
    let sample = |temperature: f64, top_p: f64, min_p: f64| {
        let op = tl_tensor::Op::Sample {
            temperature,
            top_k: 0,
            top_p,
            min_p,
        };
        device.run1(&op, &[&logits, &uniform])
    };
    assert!(sample(0.7, 0.9, 0.05).is_ok());
    let text = sample(0.7, 1.5, 0.05).unwrap_err().to_string();
    assert!(
        text.contains("sample") && text.contains("top_p 1.5 is outside (0, 1]"),
        "{text}"
    );
    assert!(
        !text.contains("temperature") && !text.contains("min_p"),
        "{text}"
    );
    let text = sample(f64::INFINITY, 0.9, -1.0).unwrap_err().to_string();
    assert!(
        text.contains("temperature inf is not finite")
            && text.contains("min_p -1 is outside [0, 1]"),
        "{text}"
    );
}
