//! Writing a run directory's text files: JSON, TOML or plain text, each atomically.

use std::path::Path;

use serde::Serialize;

use crate::error::Error;

/// Writes `value` as pretty JSON, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Json {
        path: path.to_path_buf(),
        message: format!("cannot encode: {e}"),
    })?;
    write_text(path, &text)
}

/// Writes `value` as TOML, atomically.
pub fn write_toml<T: Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let text = toml::to_string_pretty(value)
        .map_err(|e| Error::Usage(format!("cannot encode {} as TOML: {e}", path.display())))?;
    write_text(path, &text)
}

pub fn write_text(path: &Path, text: &str) -> Result<(), Error> {
    files::write_atomic(path, text.as_bytes()).map_err(Error::io(path))
}
