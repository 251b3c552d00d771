//! What the host tells the language about the world outside the program text: tensors it
//! supplies by name, and the shapes of the tensors `load(...)` calls will produce. The
//! language itself never touches files.

use std::collections::HashMap;
use tl_tensor::DType;

/// Shape and element type of a tensor known before the program runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorInfo {
    pub shape: Vec<usize>,
    pub dtype: DType,
}

impl TensorInfo {
    pub fn new(shape: &[usize], dtype: DType) -> TensorInfo {
        TensorInfo {
            shape: shape.to_vec(),
            dtype,
        }
    }

    pub fn f32(shape: &[usize]) -> TensorInfo {
        TensorInfo::new(shape, DType::F32)
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }
}

/// The host's side of checking: every method may answer "don't know", and then the checker
/// treats the shape as decided at run time.
pub trait Environment {
    /// A tensor the host supplies under `name` (an input such as `X`, or a model weight
    /// under a dotted name such as `w.attn_q`).
    fn tensor(&self, name: &str) -> Option<TensorInfo> {
        let _ = name;
        None
    }

    /// The tensor that `load(path)` or `load(path, name)` will produce.
    fn load(&self, path: &str, name: Option<&str>) -> Option<TensorInfo> {
        let _ = (path, name);
        None
    }
}

/// An environment that supplies nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct EmptyEnvironment;

impl Environment for EmptyEnvironment {}

/// An environment from tables, for tests, the REPL and hosts that know shapes up front.
#[derive(Clone, Debug, Default)]
pub struct MapEnvironment {
    pub tensors: HashMap<String, TensorInfo>,
    pub loads: HashMap<(String, Option<String>), TensorInfo>,
}

impl MapEnvironment {
    pub fn new() -> MapEnvironment {
        MapEnvironment::default()
    }

    /// Adds a host tensor of f32 elements.
    pub fn with_tensor(mut self, name: &str, shape: &[usize]) -> MapEnvironment {
        self.tensors
            .insert(name.to_string(), TensorInfo::f32(shape));
        self
    }

    /// Declares the shape `load(path, name)` will have.
    pub fn with_load(mut self, path: &str, name: Option<&str>, shape: &[usize]) -> MapEnvironment {
        self.loads.insert(
            (path.to_string(), name.map(str::to_string)),
            TensorInfo::f32(shape),
        );
        self
    }
}

impl Environment for MapEnvironment {
    fn tensor(&self, name: &str) -> Option<TensorInfo> {
        self.tensors.get(name).cloned()
    }

    fn load(&self, path: &str, name: Option<&str>) -> Option<TensorInfo> {
        self.loads
            .get(&(path.to_string(), name.map(str::to_string)))
            .cloned()
    }
}
