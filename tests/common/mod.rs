//! Helpers for the end-to-end tests: run the real `trainer` binary on fixture data the tests write.

#![allow(dead_code)] // Each test binary uses its own subset.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use data::MnistItem;

pub fn trainer() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trainer"));
    // Fixture runs must never reach for the network or a user's cache.
    command.env_remove("MNIST_DATA_DIR");
    command
}

pub fn run(args: &[&str]) -> Output {
    trainer()
        .args(args)
        .output()
        .expect("the trainer binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A learnable toy digit: class `k` is a thick horizontal bar at a class-specific height,
/// with a little position jitter so no two images are alike.
pub fn toy_item(label: u8, seed: u32) -> MnistItem {
    let mut image = [0u8; 784];
    let jitter = (seed.wrapping_mul(2_654_435_761) >> 28) as usize % 3;
    let row = 2 + 2 * label as usize + jitter / 2;
    let (left, right) = (3 + jitter, 24 - jitter);
    for r in row..row + 3 {
        for c in left..right {
            image[r * 28 + c] = 200 + ((c * 7 + seed as usize) % 56) as u8;
        }
    }
    MnistItem { image, label }
}

pub fn toy_items(n: usize, offset: u32) -> Vec<MnistItem> {
    (0..n)
        .map(|i| toy_item((i % 10) as u8, offset + i as u32))
        .collect()
}

/// Writes train/test TSV fixtures and a small, fast config that trains on them.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Fixture {
    pub fn new(train: usize, extra_config: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let train_path = dir.path().join("train.tsv");
        let test_path = dir.path().join("test.tsv");
        data::write_tsv(&train_path, &toy_items(train, 0)).expect("write train fixture");
        data::write_tsv(&test_path, &toy_items(200, 1_000_000)).expect("write test fixture");
        let config = dir.path().join("toy.toml");
        let text = format!(
            r#"
[model]
kind = "mlp"
hidden = [32]

[data]
validation = 100
tsv = {{ train = "{}", test = "{}" }}

[training]
epochs = 2
batch_size = 32

[optimizer]
kind = "sgd"
lr = 0.1
momentum = 0.9

[schedule]
kind = "step"
every_epochs = 1
gamma = 0.5
{extra_config}
"#,
            train_path.display(),
            test_path.display()
        );
        std::fs::write(&config, text).expect("write config");
        Self { dir, config }
    }

    pub fn artifacts(&self) -> PathBuf {
        self.dir.path().join("artifacts")
    }

    pub fn train(&self, extra_args: &[&str]) -> Output {
        let config = self.config.to_str().unwrap();
        let artifacts = self.artifacts();
        let mut args = vec![
            "--config",
            config,
            "--artifacts",
            artifacts.to_str().unwrap(),
        ];
        args.extend_from_slice(extra_args);
        run(&args)
    }
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "trainer failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout(output),
        stderr(output)
    );
}

/// Every file under `dir` (recursively) with its bytes: taken before a command that must not
/// change anything, compared after.
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        for entry in std::fs::read_dir(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                pending.push(entry.path());
            } else if entry.file_name() == "trainer.lock" {
                // Each command that locks the directory records itself there, even one that
                // then changes nothing: who last held the lock is not part of the run.
            } else if !kind.is_file() {
                // A link or a FIFO a test planted: recorded by name (reading a FIFO would block).
                files.insert(entry.path(), Vec::new());
            } else {
                let bytes = std::fs::read(entry.path()).unwrap_or_default();
                files.insert(entry.path(), bytes);
            }
        }
    }
    files
}

/// Asserts that every file `before` listed is still there with the same bytes, and that no
/// file appeared.
pub fn assert_unchanged(before: &std::collections::BTreeMap<PathBuf, Vec<u8>>, dir: &Path) {
    let after = snapshot(dir);
    for (path, bytes) in before {
        match after.get(path) {
            None => panic!("{} was deleted", path.display()),
            Some(now) => assert!(now == bytes, "{} was changed", path.display()),
        }
    }
    for path in after.keys() {
        assert!(before.contains_key(path), "{} appeared", path.display());
    }
}

/// A failure as the user should see it: exit code 1, one `error:` line that contains every
/// needle, and no panic text.
pub fn assert_clean_failure(output: &Output, needles: &[&str]) {
    let err = stderr(output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected exit code 1\nstderr:\n{err}\nstdout:\n{}",
        stdout(output)
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "a panic reached the user:\n{err}"
    );
    // The last one: a Vulkan driver may print its own `error:` lines first (Mesa, when
    // XDG_RUNTIME_DIR is unset), and the program's error is what it prints last.
    let error = err
        .lines()
        .rfind(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in:\n{err}"));
    for needle in needles {
        assert!(error.contains(needle), "expected {needle:?} in: {error}");
    }
}
