//! Loops of ops inside `Device::scoped` (where the CPU pool's other workers wait for jobs
//! awake): the same results as outside it, for any number of threads, nested scopes and a
//! panicking loop included, and every scope returns.

use tl_tensor::{Device, Tensor, UnaryOp};

/// A chain of parallel ops (products large enough to be split across workers, then
/// elementwise and reduction ops), returned to the host.
fn chain(device: &Device, steps: usize) -> Vec<f32> {
    let values: Vec<f32> = (0..256 * 256)
        .map(|i| ((i * 37) % 101) as f32 / 101.0 - 0.5)
        .collect();
    let w = device.from_slice(&values, &[256, 256]).unwrap();
    let mut x: Tensor = device.from_slice(&values[..4 * 256], &[4, 256]).unwrap();
    for _ in 0..steps {
        let y = x.matmul(&w).unwrap();
        x = y.unary(UnaryOp::Tanh).unwrap();
    }
    x.sum(&[1], false).unwrap().to_vec::<f32>().unwrap()
}

#[test]
fn scoped_loops_give_the_results_of_unscoped_ones() {
    for threads in [1, 2, 3, 4, 8] {
        let device = Device::cpu_with_threads(threads);
        let expected = chain(&device, 50);
        assert_eq!(
            device.scoped(|| chain(&device, 50)),
            expected,
            "{threads} threads"
        );
        // A scope inside a scope, as a library called from a decode loop may open.
        let nested = device.scoped(|| device.scoped(|| chain(&device, 50)));
        assert_eq!(nested, expected, "{threads} threads, nested");
    }
}

#[test]
fn a_panicking_scoped_loop_propagates_its_panic_and_the_pool_still_works() {
    let device = Device::cpu_with_threads(3);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        device.scoped(|| {
            chain(&device, 5);
            panic!("stop");
        })
    }));
    assert!(result.is_err());
    assert_eq!(device.scoped(|| chain(&device, 5)), chain(&device, 5));
}
