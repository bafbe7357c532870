//! Trusting the run directory when more than one thing happens to it: two commands at once,
//! links planted where the program writes, a disk that fills up, FIFOs where files belong,
//! and checkpoint names that claim more than the run has. Every refusal is one `error:` line
//! naming the file, with exit code 1, no panic, and nothing changed.

mod common;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{
    Fixture, assert_clean_failure, assert_success, assert_unchanged, snapshot, stderr, trainer,
};

/// A trained 2-epoch run (checkpoints 1 and 2 kept), on fixture data.
fn trained() -> Fixture {
    let fixture = Fixture::new(300, "[checkpoint]\nkeep = 2\n");
    assert_success(&fixture.train(&[]));
    fixture
}

/// Runs `command`, failing the test (instead of hanging it) if it takes over `limit`.
fn output_within(mut command: Command, limit: Duration) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the trainer binary runs");
    wait_within(child, limit)
}

fn wait_within(mut child: Child, limit: Duration) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!(
                "the command hung for over {limit:?}\nstderr:\n{}",
                stderr(&output)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn train_command(fixture: &Fixture, extra: &[&str]) -> Command {
    let mut command = trainer();
    command
        .arg("--config")
        .arg(&fixture.config)
        .arg("--artifacts")
        .arg(fixture.artifacts())
        .args(extra);
    command
}

/// Takes `dir`'s lock the way another trainer would: `flock` on `trainer.lock`, with a holder.
fn hold_lock(dir: &Path) -> File {
    std::fs::create_dir_all(dir).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join("trainer.lock"))
        .unwrap();
    file.try_lock().unwrap();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    write!(
        file,
        r#"{{"pid": 4242, "command": "trainer --resume", "started": {started}}}"#
    )
    .unwrap();
    file
}

#[test]
fn every_command_is_refused_while_another_holds_the_directory() {
    let fixture = trained();
    let artifacts = fixture.artifacts();
    let before = snapshot(&artifacts);
    let lock = hold_lock(&artifacts);
    let model = artifacts.to_str().unwrap();
    let commands: Vec<(&str, Command)> = vec![
        ("train", train_command(&fixture, &[])),
        (
            "resume",
            train_command(&fixture, &["--resume", "--epochs", "3"]),
        ),
        ("overwrite", train_command(&fixture, &["--overwrite"])),
        ("eval", {
            let mut c = trainer();
            c.args(["eval", "--model", model]);
            c
        }),
    ];
    for (name, command) in commands {
        let output = output_within(command, Duration::from_secs(60));
        assert_clean_failure(&output, &["in use", "pid 4242", "trainer --resume"]);
        assert_unchanged(&before, &artifacts);
        eprintln!("{name}: refused");
    }
    // The kernel drops a lock with its holder, however it ends: then the directory is free.
    drop(lock);
    assert_success(&output_within(
        train_command(&fixture, &["--resume", "--epochs", "3"]),
        Duration::from_secs(120),
    ));
}

#[test]
fn a_lock_file_left_by_a_killed_process_is_taken_over() {
    let fixture = trained();
    // What a SIGKILLed holder leaves: the file naming it, but no lock (the kernel dropped it).
    std::fs::write(
        fixture.artifacts().join("trainer.lock"),
        r#"{"pid": 999999, "command": "trainer (killed)", "started": 0}"#,
    )
    .unwrap();
    assert_success(&fixture.train(&["--resume", "--epochs", "3"]));
}

/// Starts two commands on one directory at the same moment: exactly one may run, the other is
/// refused naming it, and the directory ends whole and from one run.
fn race(fixture: &Fixture, first: &[&str], second: &[&str]) {
    let a = train_command(fixture, first)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = train_command(fixture, second)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let a = wait_within(a, Duration::from_secs(180));
    let b = wait_within(b, Duration::from_secs(180));
    let outcomes = [(first, &a), (second, &b)];
    let winners: Vec<_> = outcomes
        .iter()
        .filter(|(_, o)| o.status.success())
        .collect();
    let losers: Vec<_> = outcomes
        .iter()
        .filter(|(_, o)| !o.status.success())
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{first:?} and {second:?}: exactly one must run\n{}\n---\n{}",
        stderr(&a),
        stderr(&b)
    );
    assert_clean_failure(losers[0].1, &["in use", "pid "]);
    // The directory holds one whole run: its config and run.json agree, and it resumes.
    let artifacts = fixture.artifacts();
    let config = std::fs::read_to_string(artifacts.join("config.toml")).unwrap();
    let run = common::read_json(&artifacts.join("run.json"));
    let seed = run["seed"].as_u64().unwrap();
    assert!(
        config.contains(&format!("seed = {seed}")),
        "{config}\n{run}"
    );
    assert!(artifacts.join("metrics.json").is_file());
    assert!(artifacts.join("model.bpk").is_file());
}

#[test]
fn two_commands_started_together_on_one_directory_never_mix_or_lose_a_run() {
    // Two fresh runs with different seeds.
    let fixture = Fixture::new(300, "");
    race(&fixture, &["--seed", "1"], &["--seed", "2"]);
    // A resume and an overwrite of a trained run, both ways round.
    let fixture = trained();
    race(&fixture, &["--resume", "--epochs", "3"], &["--overwrite"]);
    let fixture = trained();
    race(&fixture, &["--overwrite"], &["--resume", "--epochs", "3"]);
}

#[cfg(unix)]
#[test]
fn links_planted_where_the_program_writes_are_refused_before_anything_changes() {
    let places = [
        "config.toml",
        "metrics.json",
        "checkpoint/model-2.bpk",
        "valid/epoch-1",
        "train/epoch-2/Loss.log",
    ];
    for place in places {
        let fixture = trained();
        let artifacts = fixture.artifacts();
        let outside = fixture.dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("Loss.log"), b"not yours").unwrap();
        let planted = artifacts.join(place);
        if planted.is_dir() {
            std::fs::remove_dir_all(&planted).unwrap();
        } else {
            std::fs::remove_file(&planted).unwrap();
        }
        let target = if place.contains('.') {
            outside.join("Loss.log")
        } else {
            outside.clone()
        };
        std::os::unix::fs::symlink(&target, &planted).unwrap();
        let before = snapshot(&artifacts);
        let outside_before = snapshot(&outside);
        for flags in [&["--resume", "--epochs", "3"][..], &["--overwrite"][..]] {
            let output = output_within(train_command(&fixture, flags), Duration::from_secs(60));
            assert_clean_failure(&output, &["symbolic links or special files", place]);
            assert_unchanged(&before, &artifacts);
            assert_unchanged(&outside_before, &outside);
        }
    }
}

#[test]
fn a_write_that_fails_keeps_the_last_whole_checkpoint_and_names_the_file() {
    let fixture = trained();
    let artifacts = fixture.artifacts();
    let checkpoints = artifacts.join("checkpoint");
    let model_2 = std::fs::read(checkpoints.join("model-2.bpk")).unwrap();
    let size = model_2.len();
    // A file size limit below a checkpoint's size: the epoch-3 checkpoint cannot be written
    // (EFBIG), while the small files (history, logs) can. SIGXFSZ is ignored so that the write
    // fails with an error instead of killing the process, as on a full disk.
    let limit_kib = (size / 1024 / 2).max(8);
    let command = format!(
        "trap '' XFSZ; ulimit -f {}; exec \"$0\" \"$@\"",
        limit_kib * 2 // sh counts 512-byte blocks
    );
    let mut limited = Command::new("sh");
    limited
        .arg("-c")
        .arg(command)
        .arg(env!("CARGO_BIN_EXE_trainer"))
        .arg("--config")
        .arg(&fixture.config)
        .arg("--artifacts")
        .arg(&artifacts)
        .args(["--resume", "--epochs", "4"]);
    limited.env_remove("MNIST_DATA_DIR");
    let output = output_within(limited, Duration::from_secs(120));
    assert_clean_failure(&output, &["checkpoint/", "-3.bpk", "--resume"]);
    // Checkpoints 1 and 2 are whole and untouched; nothing of epoch 3 is left.
    let mut names: Vec<String> = std::fs::read_dir(&checkpoints)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "model-1.bpk",
            "model-2.bpk",
            "optim-1.bpk",
            "optim-2.bpk",
            "scheduler-1.bpk",
            "scheduler-2.bpk"
        ]
    );
    assert_eq!(
        std::fs::read(checkpoints.join("model-2.bpk")).unwrap(),
        model_2
    );
    // With room again, the run continues from checkpoint 2.
    let output = fixture.train(&["--resume", "--epochs", "4"]);
    assert_success(&output);
    let out = common::stdout(&output);
    assert!(
        out.contains("resuming from the checkpoint at epoch 2"),
        "{out}"
    );
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

#[cfg(unix)]
#[test]
fn fifos_where_files_belong_are_refused_without_hanging() {
    use std::os::unix::fs::FileTypeExt;
    for name in [
        "trainer-manifest.json",
        "config.toml",
        "history.json",
        "run.json",
        "checkpoint/model-2.bpk",
    ] {
        let fixture = trained();
        let path = fixture.artifacts().join(name);
        std::fs::remove_file(&path).unwrap();
        mkfifo(&path);
        let before = snapshot(&fixture.artifacts());
        for flags in [&["--resume", "--epochs", "3"][..], &["--overwrite"][..]] {
            let output = output_within(train_command(&fixture, flags), Duration::from_secs(60));
            assert_clean_failure(&output, &[name, "FIFO"]);
            assert_unchanged(&before, &fixture.artifacts());
        }
        assert!(
            std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_fifo(),
            "{name}: the FIFO is still there"
        );
    }
    // A tutorials list.
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.toml");
    mkfifo(&list);
    let mut command = trainer();
    command.arg("tutorials").arg("--list").arg(&list);
    let output = output_within(command, Duration::from_secs(60));
    assert_clean_failure(&output, &["list.toml", "FIFO"]);
}

fn copy_checkpoint(checkpoints: &Path, from: usize, to: &str) -> Vec<PathBuf> {
    ["model", "optim", "scheduler"]
        .iter()
        .map(|part| {
            let dest = checkpoints.join(format!("{part}-{to}.bpk"));
            std::fs::copy(checkpoints.join(format!("{part}-{from}.bpk")), &dest).unwrap();
            dest
        })
        .collect()
}

#[test]
fn checkpoint_names_beyond_the_run_are_refused_at_once() {
    // 200 training images in batches of 32: 7 batches an epoch.
    for crafted in [
        "3-3000000000",
        "2-7",
        "3-1",
        "18446744073709551615",
        "999999",
    ] {
        let fixture = trained();
        let checkpoints = fixture.artifacts().join("checkpoint");
        copy_checkpoint(&checkpoints, 2, crafted);
        let before = snapshot(&fixture.artifacts());
        let started = Instant::now();
        // `--epochs 2`: a mid-epoch checkpoint in epoch 3 lies beyond the run.
        let epochs = if crafted == "3-1" { "2" } else { "4" };
        let output = output_within(
            train_command(&fixture, &["--resume", "--epochs", epochs]),
            Duration::from_secs(60),
        );
        assert_clean_failure(
            &output,
            &[
                &format!("model-{crafted}.bpk"),
                "not a checkpoint of this run",
            ],
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "refusing took {:?}",
            started.elapsed()
        );
        assert_unchanged(&before, &fixture.artifacts());
    }
}

#[test]
fn unclear_inputs_are_named() {
    let fixture = trained();
    let artifacts = fixture.artifacts();

    // A bad `kernels` value names the key.
    let config = fixture.dir.path().join("kernels.toml");
    std::fs::write(&config, "[model]\nkind = \"lenet\"\nkernels = \"fast\"\n").unwrap();
    let mut command = trainer();
    command.arg("--config").arg(&config);
    let output = output_within(command, Duration::from_secs(60));
    // TOML errors show the line in the lines below the `error:` line.
    assert_clean_failure(&output, &["kernels.toml"]);
    let err = stderr(&output);
    assert!(err.contains("`kernels`") && err.contains("fast"), "{err}");

    // A damaged run.json is warned about on resume, and written afresh.
    std::fs::write(artifacts.join("run.json"), b"{ edited").unwrap();
    let output = fixture.train(&["--resume", "--epochs", "3"]);
    assert_success(&output);
    let err = stderr(&output);
    assert!(
        err.lines()
            .any(|l| l.starts_with("warning: ") && l.contains("run.json")),
        "{err}"
    );
    common::read_json(&artifacts.join("run.json"));

    // `eval --probabilities` given a directory: refused, and no temp file beside it.
    let out_dir = fixture.dir.path().join("probabilities");
    std::fs::create_dir(&out_dir).unwrap();
    let before = snapshot(fixture.dir.path());
    let mut command = trainer();
    command
        .args(["eval", "--model"])
        .arg(&artifacts)
        .arg("--output")
        .arg(fixture.dir.path().join("report"))
        .arg("--probabilities")
        .arg(&out_dir);
    let output = output_within(command, Duration::from_secs(60));
    assert_clean_failure(&output, &["probabilities", "directory"]);
    let after = snapshot(fixture.dir.path());
    let appeared: Vec<_> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    assert!(appeared.is_empty(), "left behind: {appeared:?}");

    // `tutorials --only` with a name the list does not have.
    let list = fixture.dir.path().join("list.toml");
    std::fs::write(
        &list,
        format!(
            "[[tutorial]]\nname = \"toy\"\npublished = \"-\"\nconfig = \"{}\"\n",
            fixture.config.display()
        ),
    )
    .unwrap();
    let mut command = trainer();
    command
        .arg("tutorials")
        .arg("--list")
        .arg(&list)
        .args(["--only", "nope"]);
    let output = output_within(command, Duration::from_secs(60));
    assert_clean_failure(&output, &["nope", "toy"]);
}

#[test]
fn a_resume_that_trains_on_unmarks_the_finished_run_first() {
    // A finished run's metrics.json marks it whole; a resume that trains further must remove it
    // before it changes the checkpoints, or a kill would leave old results beside new weights.
    let fixture = trained();
    let artifacts = fixture.artifacts();
    assert!(artifacts.join("metrics.json").is_file());
    let mut child = train_command(&fixture, &["--resume", "--epochs", "40"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let checkpoint_3 = artifacts.join("checkpoint/scheduler-3.bpk");
    let started = Instant::now();
    while !checkpoint_3.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no checkpoint 3"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(
        !artifacts.join("metrics.json").exists(),
        "the old results still mark the run finished"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let output = fixture.train(&["--resume", "--epochs", "40"]);
    assert_success(&output);
    let metrics = common::read_json(&artifacts.join("metrics.json"));
    assert_eq!(metrics["epochs"], 40);
}
