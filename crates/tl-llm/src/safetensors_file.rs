//! Memory-mapped safetensors files, alone or sharded through `model.safetensors.index.json`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};
use tl_tensor::DType;

use crate::error::{LlmError, Result};
use crate::mapped_bytes::{map_bytes, map_file};

/// One tensor of a safetensors file.
#[derive(Clone, Debug, PartialEq)]
pub struct SafetensorsTensorInfo {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub file_offset: usize,
    pub byte_len: usize,
}

/// One validated, memory-mapped `.safetensors` file.
pub struct SafetensorsFile {
    path: PathBuf,
    map: Arc<Mmap>,
    tensors: BTreeMap<String, SafetensorsTensorInfo>,
}

impl std::fmt::Debug for SafetensorsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SafetensorsFile")
            .field("path", &self.path)
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

impl SafetensorsFile {
    pub fn open(path: impl AsRef<Path>) -> Result<SafetensorsFile> {
        let path = path.as_ref();
        let map = map_file(path, 8, |len| header_too_short(path, len as usize))?;
        let len = map.len();
        SafetensorsFile::from_map_len(path.to_path_buf(), map, len)
    }

    /// Parses safetensors bytes held in memory (tests, fuzzing); `label` names them in errors.
    pub fn from_bytes(label: impl Into<PathBuf>, bytes: &[u8]) -> Result<SafetensorsFile> {
        let label = label.into();
        let map = map_bytes(&label, bytes)?;
        SafetensorsFile::from_map_len(label, map, bytes.len())
    }

    /// Validates the first `len` bytes of `map` (an anonymous map is never empty, so it may
    /// be longer than the data it holds).
    fn from_map_len(path: PathBuf, map: Arc<Mmap>, len: usize) -> Result<SafetensorsFile> {
        if len < 8 {
            return Err(header_too_short(&path, len));
        }
        let label = path.display().to_string();
        let (header_len, metadata) =
            SafeTensors::read_metadata(&map[..len]).map_err(|e| LlmError::Safetensors {
                path: label.clone(),
                field: "header".into(),
                detail: e.to_string(),
            })?;
        let data_start = 8 + header_len;
        let mut tensors = BTreeMap::new();
        for (name, info) in metadata.tensors() {
            let dtype =
                dtype_from_safetensors(info.dtype).ok_or_else(|| LlmError::Safetensors {
                    path: label.clone(),
                    field: format!("tensor `{name}` dtype"),
                    detail: format!(
                        "{:?} is not supported (F32, F16, BF16, I32, I64, U8, BOOL)",
                        info.dtype
                    ),
                })?;
            let (start, end) = info.data_offsets;
            tensors.insert(
                name.clone(),
                SafetensorsTensorInfo {
                    name,
                    shape: info.shape.clone(),
                    dtype,
                    file_offset: data_start + start,
                    byte_len: end - start,
                },
            );
        }
        Ok(SafetensorsFile { path, map, tensors })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn map(&self) -> &Arc<Mmap> {
        &self.map
    }

    pub fn tensors(&self) -> impl Iterator<Item = &SafetensorsTensorInfo> {
        self.tensors.values()
    }

    pub fn tensor_info(&self, name: &str) -> Option<&SafetensorsTensorInfo> {
        self.tensors.get(name)
    }

    pub fn tensor_bytes(&self, info: &SafetensorsTensorInfo) -> &[u8] {
        &self.map[info.file_offset..info.file_offset + info.byte_len]
    }
}

/// The error for `len` bytes, too few to hold the 8-byte header length.
fn header_too_short(path: &Path, len: usize) -> LlmError {
    LlmError::Safetensors {
        path: path.display().to_string(),
        field: "header length".into(),
        detail: format!("the file has {len} bytes, fewer than the 8-byte header length"),
    }
}

fn dtype_from_safetensors(dtype: Dtype) -> Option<DType> {
    Some(match dtype {
        Dtype::F32 => DType::F32,
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        Dtype::I32 => DType::I32,
        Dtype::I64 => DType::I64,
        Dtype::U8 => DType::U8,
        Dtype::BOOL => DType::Bool,
        _ => return None,
    })
}

/// All safetensors files of a model, with each tensor name resolved to its file.
#[derive(Debug)]
pub struct SafetensorsSet {
    files: Vec<SafetensorsFile>,
    tensor_file: HashMap<String, usize>,
}

impl SafetensorsSet {
    /// Opens the weights of a Hugging Face folder: the shards listed by
    /// `model.safetensors.index.json` when present, else every `*.safetensors` file.
    pub fn open_folder(dir: &Path) -> Result<SafetensorsSet> {
        let index_path = dir.join("model.safetensors.index.json");
        let paths: Vec<PathBuf> = if index_path.is_file() {
            shard_paths_from_index(dir, &index_path)?
        } else {
            let mut found = Vec::new();
            let entries = std::fs::read_dir(dir).map_err(|e| LlmError::io(dir, &e))?;
            for entry in entries {
                let entry = entry.map_err(|e| LlmError::io(dir, &e))?;
                let path = entry.path();
                if path.extension().is_some_and(|ext| ext == "safetensors") {
                    found.push(path);
                }
            }
            found.sort();
            found
        };
        if paths.is_empty() {
            return Err(LlmError::Safetensors {
                path: dir.display().to_string(),
                field: "files".into(),
                detail: "the folder has no *.safetensors file".into(),
            });
        }
        let files = paths
            .iter()
            .map(SafetensorsFile::open)
            .collect::<Result<Vec<_>>>()?;
        SafetensorsSet::from_files(files)
    }

    pub fn from_files(files: Vec<SafetensorsFile>) -> Result<SafetensorsSet> {
        let mut tensor_file = HashMap::new();
        for (i, file) in files.iter().enumerate() {
            for info in file.tensors() {
                if let Some(previous) = tensor_file.insert(info.name.clone(), i) {
                    return Err(LlmError::Safetensors {
                        path: file.path().display().to_string(),
                        field: format!("tensor `{}`", info.name),
                        detail: format!("also present in {}", files[previous].path().display()),
                    });
                }
            }
        }
        Ok(SafetensorsSet { files, tensor_file })
    }

    pub fn files(&self) -> &[SafetensorsFile] {
        &self.files
    }

    /// The tensor and the file that holds it.
    pub fn find(&self, name: &str) -> Option<(&SafetensorsFile, &SafetensorsTensorInfo)> {
        let file = &self.files[*self.tensor_file.get(name)?];
        Some((file, file.tensor_info(name)?))
    }

    pub fn tensors(&self) -> impl Iterator<Item = &SafetensorsTensorInfo> {
        self.files.iter().flat_map(|f| f.tensors())
    }
}

fn shard_paths_from_index(dir: &Path, index_path: &Path) -> Result<Vec<PathBuf>> {
    let label = index_path.display().to_string();
    let text = std::fs::read_to_string(index_path).map_err(|e| LlmError::io(index_path, &e))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| LlmError::Json {
        path: label.clone(),
        field: "index".into(),
        detail: e.to_string(),
    })?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| LlmError::Json {
            path: label.clone(),
            field: "weight_map".into(),
            detail: "missing or not an object".into(),
        })?;
    let mut names: Vec<&str> = Vec::new();
    for (tensor, file) in map {
        let file = file.as_str().ok_or_else(|| LlmError::Json {
            path: label.clone(),
            field: format!("weight_map.{tensor}"),
            detail: "not a file name".into(),
        })?;
        // A shard name with a path separator could point outside the model folder.
        if file.contains('/') || file.contains('\\') || file == ".." {
            return Err(LlmError::Json {
                path: label.clone(),
                field: format!("weight_map.{tensor}"),
                detail: format!("`{file}` is not a plain file name"),
            });
        }
        if !names.contains(&file) {
            names.push(file);
        }
    }
    names.sort_unstable();
    Ok(names.into_iter().map(|n| dir.join(n)).collect())
}
