//! MNIST from an HTTPS mirror: `<base><name>.gz`, unpacked and verified in memory before
//! anything is written.

use std::io::Read;
use std::path::Path;

use super::error::FetchError;
use super::sources::{MNIST_FILE_NAMES, Sources};
use super::verify::sha256_bytes;

/// The largest MNIST .gz is 9.9 MB and the largest raw file 47 MB; these bound a misbehaving
/// server.
const MAX_GZ_BYTES: u64 = 64 << 20;
const MAX_RAW_BYTES: u64 = 256 << 20;

/// Downloads, gunzips and verifies each missing file from one mirror; returns what is still
/// missing. Stops at the mirror's first failure (an unreachable mirror costs one connect
/// timeout, not four).
pub(crate) fn fetch(
    sources: &Sources,
    base: &str,
    dir: &Path,
    missing: &[usize],
    attempts: &mut Vec<String>,
    report: &mut dyn FnMut(&str),
) -> Result<Vec<usize>, FetchError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(sources.connect_timeout))
        .timeout_global(Some(sources.download_timeout))
        .build()
        .into();
    let mut still = Vec::new();
    let mut failed = false;
    for &i in missing {
        if failed {
            still.push(i);
            continue;
        }
        let name = MNIST_FILE_NAMES[i];
        let url = format!("{base}{name}.gz");
        report(&format!("downloading {url}"));
        let result = download_gz(&agent, &url).and_then(|raw| {
            let found = sha256_bytes(&raw);
            if found == sources.mnist_sha256[i] {
                Ok(raw)
            } else {
                Err(format!(
                    "checksum mismatch for {name} (expected {}, found {found})",
                    sources.mnist_sha256[i]
                ))
            }
        });
        match result {
            Ok(raw) => {
                let path = dir.join(name);
                files::write_atomic(&path, &raw).map_err(FetchError::io(&path))?;
                report(&format!(
                    "verified {} (sha256 {})",
                    path.display(),
                    sources.mnist_sha256[i]
                ));
            }
            Err(why) => {
                report(&format!("failed: {url}: {why}"));
                attempts.push(format!("{url}: {why}"));
                failed = true;
                still.push(i);
            }
        }
    }
    Ok(still)
}

fn download_gz(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>, String> {
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    let gz = response
        .body_mut()
        .with_config()
        .limit(MAX_GZ_BYTES)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    flate2::read::MultiGzDecoder::new(gz.as_slice())
        .take(MAX_RAW_BYTES)
        .read_to_end(&mut raw)
        .map_err(|e| format!("not a valid gzip file: {e}"))?;
    Ok(raw)
}
