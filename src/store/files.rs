//! Schedule files: one JSON file per schedule, holding the schedule item's fields
//! plus `Groups` (group items without `ScheduleName`) and `Exceptions` (exception
//! items without `ScheduleName` and `ExceptionUuid`). The format lives in the core
//! ([`scheduler_core::schedule::file`]); this reads a folder of them.

use std::path::{Path, PathBuf};

pub use scheduler_core::schedule::file::{FileException, FileGroup, parse_into};

use super::Items;
use crate::schedule::ScheduleError;

/// Reads every `*.json` file of `dir`, in name order. A file that cannot be read is
/// reported in [`Items::errors`] and contributes nothing.
pub fn load_dir(dir: &Path) -> std::io::Result<Items> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut items = Items::default();
    for path in paths {
        let text = std::fs::read_to_string(&path)?;
        let file = path
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
        if let Err((name, problem)) = parse_into(&text, &mut items) {
            // A file too broken to name its schedule goes by its file name.
            let stem = path
                .file_stem()
                .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
            items.errors.push(ScheduleError::new(
                name.unwrap_or(stem),
                format!("{file}: {problem}"),
            ));
        }
    }
    Ok(items)
}
