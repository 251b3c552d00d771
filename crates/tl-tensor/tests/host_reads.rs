//! Reads to the host: a read awaited later gives what a read now gives, for any view.

use tl_tensor::{DType, Device, TensorError};

#[test]
fn a_read_awaited_later_equals_a_read_now() {
    let device = Device::cpu();
    let values: Vec<i64> = (0..12).map(|v| v * 7 - 20).collect();
    let t = device.from_slice(&values, &[3, 4]).unwrap();
    let transposed = t.permute(&[1, 0]).unwrap();
    let later = transposed.to_vec_later::<i64>().unwrap();
    // Work enqueued after the read does not change what it returns.
    t.write_slice(&[0i64; 12]).unwrap();
    let values = &values;
    let expected: Vec<i64> = (0..4)
        .flat_map(|c| (0..3).map(move |r| values[r * 4 + c]))
        .collect();
    assert_eq!(later.wait().unwrap(), expected);
    assert_eq!(t.to_vec::<i64>().unwrap(), vec![0i64; 12]);
}

#[test]
fn a_read_of_the_wrong_element_type_is_an_error() {
    let device = Device::cpu();
    let t = device.zeros(&[2], DType::F32).unwrap();
    let error = t.to_vec_later::<i64>().err().expect("a dtype mismatch");
    assert!(
        matches!(error, TensorError::DTypeMismatch { .. }),
        "{error:?}"
    );
}
