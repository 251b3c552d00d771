//! The host side of checking for programs run from a file: `load(...)` shapes come from
//! the files themselves, found relative to the program's directory.

use super::tensor_files::{peek_shape, FileError};
use crate::environment::{Environment, TensorInfo};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

type LoadKey = (String, Option<String>);

#[derive(Debug, Default)]
pub struct FileEnvironment {
    base: PathBuf,
    shapes: RefCell<HashMap<LoadKey, Option<TensorInfo>>>,
    failures: RefCell<HashMap<LoadKey, FileError>>,
    /// Tensors the host supplies by name.
    host: HashMap<String, TensorInfo>,
}

impl FileEnvironment {
    /// Loads resolve against `base` (the directory of the program's file).
    pub fn new(base: &Path) -> FileEnvironment {
        FileEnvironment {
            base: base.to_path_buf(),
            shapes: RefCell::default(),
            failures: RefCell::default(),
            host: HashMap::new(),
        }
    }

    /// Also answers for tensors the host supplies.
    pub fn with_host(mut self, host: HashMap<String, TensorInfo>) -> FileEnvironment {
        self.host = host;
        self
    }

    /// Why `load(path, name)` could not be sized, if reading its file failed.
    pub fn failure(&self, path: &str, name: Option<&str>) -> Option<FileError> {
        self.failures
            .borrow()
            .get(&(path.to_string(), name.map(str::to_string)))
            .cloned()
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Where `path` of a `load` or `save` is on disk.
    pub fn resolve(&self, path: &str) -> PathBuf {
        resolve(&self.base, path)
    }
}

/// `path` relative to `base` unless it is absolute.
pub fn resolve(base: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

impl Environment for FileEnvironment {
    fn tensor(&self, name: &str) -> Option<TensorInfo> {
        self.host.get(name).cloned()
    }

    fn load(&self, path: &str, name: Option<&str>) -> Option<TensorInfo> {
        let key = (path.to_string(), name.map(str::to_string));
        if let Some(known) = self.shapes.borrow().get(&key) {
            return known.clone();
        }
        // A file that cannot be read leaves the shape to run time, where reading it again
        // reports the error at the `load`.
        let info = match peek_shape(&self.resolve(path), name) {
            Ok(shape) => Some(TensorInfo::f32(&shape)),
            Err(error) => {
                self.failures.borrow_mut().insert(key.clone(), error);
                None
            }
        };
        self.shapes.borrow_mut().insert(key, info.clone());
        info
    }
}
