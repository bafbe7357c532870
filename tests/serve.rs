//! `trainer serve` end to end: a model trained on fixture data is served on 127.0.0.1 (port 0,
//! the address read from the server's first line), then
//! - the API answers good requests (an image goes through exactly what `trainer predict` does,
//!   raw pixels are used as given) and refuses bad ones with a 4xx and a JSON error;
//! - many clients at once each get their own answer;
//! - a flood of the costliest pictures gets 503s with `Retry-After` while the server's memory
//!   stays within its decode budget; clients too slow to send headers or a body are dropped;
//! - in headless Chromium, driven through WebDriver, a digit drawn on the canvas with mouse and
//!   touch strokes gets its prediction and bar chart; a blank file picked is refused;
//! - Ctrl-C stops the server cleanly (exit code 0), without waiting for idle or stalled
//!   clients, after the requests in progress.
//!
//! Where Chromium or chromedriver is not installed, the browser test says it is skipped and why,
//! unless `MNIST_BURN_REQUIRE_BROWSER=1` (CI) makes that a failure. The API tests always run.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{Fixture, assert_success, toy_item};
use fantoccini::actions::{
    InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction, TouchActions,
};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::Value;

/// A running `trainer serve`; killed if a test ends without stopping it.
struct Server {
    child: Child,
    stdout: BufReader<ChildStdout>,
    url: String,
}

impl Server {
    fn start(model: &Path) -> Self {
        Self::start_with(model, &[])
    }

    /// Started with these extra flags.
    fn start_with(model: &Path, flags: &[&str]) -> Self {
        let mut child = common::trainer()
            .args(["serve", "--addr", "127.0.0.1:0", "--model"])
            .arg(model)
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the trainer binary runs");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        let _ = stdout.read_line(&mut first);
        let Some(url) = first.trim().strip_prefix("serving on ") else {
            let _ = child.kill();
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("expected `serving on http://...` first, got {first:?}; stderr:\n{err}");
        };
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Self {
            url: url.to_string(),
            child,
            stdout,
        }
    }

    /// `host:port`.
    fn host(&self) -> &str {
        self.url.strip_prefix("http://").unwrap()
    }

    /// The server's peak resident memory so far, in MiB (`VmHWM` in /proc).
    fn peak_rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmHWM in {status}"));
        kib >> 10
    }

    /// Sends Ctrl-C (SIGINT).
    fn send_interrupt(&self) {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Ctrl-C, then the exit status and the rest of stdout.
    fn interrupt(self) -> (ExitStatus, String) {
        self.send_interrupt();
        self.wait()
    }

    /// The exit status (within 30 s) and the rest of stdout.
    fn wait(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the server ignored Ctrl-C");
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut rest = String::new();
        let _ = self.stdout.read_to_string(&mut rest);
        (status, rest)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn trained_fixture() -> Fixture {
    let fixture = Fixture::new(300, "");
    assert_success(&fixture.train(&["--epochs", "1"]));
    fixture
}

/// A status, a content type and a body.
struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts a refusal: this status and a JSON `error` containing `needle`.
    fn assert_error(&self, status: u16, needle: &str) {
        let json = self.json();
        assert_eq!(self.status, status, "{json}");
        assert_eq!(self.content_type, "application/json", "{json}");
        let error = json["error"].as_str().unwrap_or_else(|| panic!("{json}"));
        assert!(error.contains(needle), "expected {needle:?} in {error:?}");
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn answer(mut response: ureq::http::Response<ureq::Body>) -> Answer {
    Answer {
        status: response.status().as_u16(),
        content_type: response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        body: response.body_mut().read_to_vec().expect("read the body"),
    }
}

fn get(url: &str) -> Answer {
    answer(agent().get(url).call().expect("GET"))
}

fn post(url: &str, content_type: &str, body: &[u8]) -> Answer {
    answer(
        agent()
            .post(url)
            .header("Content-Type", content_type)
            .send(body)
            .expect("POST"),
    )
}

fn pixels_json(pixels: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "pixels": pixels })).unwrap()
}

fn png(image: &image::GrayImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

/// A dark "7" on white paper, as a camera or the canvas would give it.
fn seven() -> image::GrayImage {
    let mut image = image::GrayImage::from_pixel(120, 120, image::Luma([255]));
    for i in 0..80u32 {
        for w in 0..8u32 {
            image.put_pixel(20 + i, 20 + w, image::Luma([10])); // the bar
            image.put_pixel(96 - i * 5 / 8 + w, 20 + i, image::Luma([10])); // the stem
        }
    }
    image
}

/// Asserts a good prediction and returns its class.
fn assert_prediction(answer: &Answer) -> usize {
    let json = answer.json();
    assert_eq!(answer.status, 200, "{json}");
    let probabilities: Vec<f64> = json["probabilities"]
        .as_array()
        .unwrap_or_else(|| panic!("{json}"))
        .iter()
        .map(|p| p.as_f64().unwrap())
        .collect();
    assert_eq!(probabilities.len(), 10, "{json}");
    assert!(
        (probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-3,
        "{json}"
    );
    let predicted = json["predicted"].as_u64().unwrap() as usize;
    let best = (0..10)
        .max_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]))
        .unwrap();
    assert_eq!(predicted, best, "{json}");
    assert_eq!(json["label"], predicted.to_string(), "{json}");
    predicted
}

/// POSTs headers announcing `length` bytes and sends no body: a server that checks the length
/// answers at once.
fn announce_body(url: &str, length: usize) -> String {
    let host = url.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /api/predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/png\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

#[test]
fn the_api_answers_and_refuses_clearly() {
    let fixture = trained_fixture();
    let model = fixture.artifacts();
    let server = Server::start(&model);
    let url = &server.url;
    let predict = format!("{url}/api/predict");

    // The model's description.
    let info = get(&format!("{url}/api/model"));
    assert_eq!(info.status, 200);
    let info = info.json();
    assert_eq!(info["network"], "mlp (mxnet, customized)", "{info}");
    assert_eq!(info["parameters"], 784 * 32 + 32 + 32 * 10 + 10, "{info}");
    assert_eq!(info["dataset"], "mnist", "{info}");
    assert_eq!(info["classes"][7], "7", "{info}");
    assert_eq!(info["backend"], "flex", "{info}");
    let metrics = common::read_json(&model.join("metrics.json"));
    assert_eq!(info["test_accuracy"], metrics["test_accuracy"], "{info}");

    // Raw pixels are used as given: the fixture's own digits are recognised.
    for label in [0u8, 3, 9] {
        let item = toy_item(label, 77);
        let answer = post(&predict, "application/json", &pixels_json(&item.image));
        assert_eq!(assert_prediction(&answer), usize::from(label));
    }

    // An image goes through what `trainer predict` does to a file.
    let picture = fixture.dir.path().join("seven.png");
    let bytes = png(&seven());
    std::fs::write(&picture, &bytes).unwrap();
    let predicted = assert_prediction(&post(&predict, "image/png", &bytes));
    let output = common::run(&[
        "predict",
        "--json",
        "--model",
        model.to_str().unwrap(),
        picture.to_str().unwrap(),
    ]);
    assert_success(&output);
    let by_file: Value = serde_json::from_str(&common::stdout(&output)).unwrap();
    assert_eq!(by_file[0]["predicted"], predicted, "{by_file}");
    // No content type at all is taken for an image too.
    let answer = answer(agent().post(&predict).send(&bytes[..]).unwrap());
    assert_eq!(assert_prediction(&answer), predicted);

    // Refusals: a 4xx with a JSON error saying what is wrong.
    let limit = trainer::commands::serve::BODY_LIMIT;
    let response = announce_body(url, limit + 1);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("larger than 8 MiB"), "{response}");
    post(&predict, "image/png", b"hello").assert_error(415, "not a readable PNG");
    post(&predict, "image/png", b"").assert_error(400, "empty");
    let blank = png(&image::GrayImage::from_pixel(280, 280, image::Luma([255])));
    post(&predict, "image/png", &blank).assert_error(422, "blank");
    post(&predict, "application/json", &pixels_json(&[0; 784])).assert_error(422, "no ink");
    post(&predict, "application/json", &pixels_json(&[9; 783]))
        .assert_error(400, "expected 784 pixels (28x28, row by row), got 783");
    let mut too_bright = serde_json::json!({ "pixels": vec![0; 784] });
    too_bright["pixels"][5] = 256.into();
    post(
        &predict,
        "application/json",
        too_bright.to_string().as_bytes(),
    )
    .assert_error(400, "pixels[5] is 256");
    post(&predict, "application/json", b"{\"pixels\": [1, 2").assert_error(400, "not valid JSON");
    post(&predict, "application/json", b"[1, 2, 3]").assert_error(400, "expected JSON {\"pixels\"");
    get(&predict).assert_error(405, "/api/predict");
    get(&format!("{url}/etc/passwd")).assert_error(404, "no such page");
    get(&format!("{url}/report/model.bpk")).assert_error(404, "no such page");

    // The pages: everything from this server, the report's pictures as they are on disk,
    // and a picture the run does not have (an MLP has no filters) simply not there.
    let page = get(url);
    assert_eq!(page.status, 200);
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("<canvas id=\"canvas\""));
    let script = get(&format!("{url}/app.js"));
    assert!(script.content_type.starts_with("text/javascript"));
    for text in [html.as_bytes(), &script.body] {
        let text = String::from_utf8_lossy(text);
        assert!(!text.contains("://"), "nothing from another host: {text}");
    }
    assert!(
        get(&format!("{url}/style.css"))
            .content_type
            .starts_with("text/css")
    );
    let report = String::from_utf8(get(&format!("{url}/report")).body).unwrap();
    assert!(report.contains(&format!(
        "{:.2}%",
        metrics["test_accuracy"].as_f64().unwrap() * 100.0
    )));
    assert!(report.contains("/report/confusion.png") && !report.contains("filters.png"));
    let confusion = get(&format!("{url}/report/confusion.png"));
    assert_eq!(confusion.content_type, "image/png");
    assert_eq!(
        confusion.body,
        std::fs::read(model.join("confusion.png")).unwrap()
    );
    get(&format!("{url}/report/filters.png")).assert_error(404, "no such page");

    let (status, rest) = server.interrupt();
    assert!(status.success(), "{status}");
    assert!(rest.contains("stopped"), "{rest}");
}

#[test]
fn many_clients_at_once_each_get_their_own_answer() {
    let fixture = trained_fixture();
    let server = Server::start(&fixture.artifacts());
    let predict = format!("{}/api/predict", server.url);
    let clients: Vec<_> = (0..24u32)
        .map(|client| {
            let predict = predict.clone();
            std::thread::spawn(move || {
                for round in 0..8u32 {
                    let label = ((client + round) % 10) as u8;
                    let item = toy_item(label, client * 100 + round);
                    let answer = post(&predict, "application/json", &pixels_json(&item.image));
                    assert_eq!(assert_prediction(&answer), usize::from(label));
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("every client gets its own answer");
    }
    let (status, _) = server.interrupt();
    assert!(status.success(), "{status}");
}

/// A `width`x`height` 16-bit RGBA PNG, transparent but for opaque black pixels in the first
/// and last corners, so that the ink spans the whole picture: the costliest picture to decode
/// and prepare, yet a few hundred KiB to send. Written row by row (a zero row compresses about
/// 1000 to 1), so the test never holds its pixels.
fn sparse_png(width: u32, height: u32) -> Vec<u8> {
    const PIXEL: usize = 8;
    let ink = [0, 0, 0, 0, 0, 0, 0xff, 0xff];
    let mut idat = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 16];
    for y in 0..height {
        idat.write_all(&[0]).unwrap(); // filter: none
        let mut left = width as usize * PIXEL;
        if y == 0 {
            idat.write_all(&ink).unwrap();
            left -= PIXEL;
        }
        let last = if y == height - 1 { PIXEL } else { 0 };
        left -= last;
        while left > 0 {
            let n = left.min(zeros.len());
            idat.write_all(&zeros[..n]).unwrap();
            left -= n;
        }
        idat.write_all(&ink[..last]).unwrap();
    }
    let idat = idat.finish().unwrap();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[16, 6, 0, 0, 0]); // 16 bits, RGBA, deflate, no filter, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", &header[..]),
        (b"IDAT", &idat[..]),
        (b"IEND", &[][..]),
    ] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        png.extend_from_slice(&crc.sum().to_be_bytes());
    }
    png
}

#[test]
fn a_flood_of_huge_pictures_gets_503s_and_memory_stays_within_the_budget() {
    const CLIENTS: usize = 64;
    let fixture = trained_fixture();
    let server = Server::start(&fixture.artifacts());
    let predict = format!("{}/api/predict", server.url);
    assert_prediction(&post(&predict, "image/png", &png(&seven())));
    let before = server.peak_rss_mib();

    // 8192x8192 16-bit RGBA: 64 megapixels, 771 MiB to decode and prepare by the server's
    // reckoning (its budget holds one at a time), 0.5 MiB to send.
    let side = 1 << 13;
    let huge = Arc::new(sparse_png(side, side));
    assert!(huge.len() < 1 << 20, "{} bytes", huge.len());
    let start = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (predict, huge, start) = (predict.clone(), huge.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let response = agent()
                    .post(&predict)
                    .header("Content-Type", "image/png")
                    .send(&huge[..])
                    .expect("every client gets an answer");
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_string());
                (retry_after, answer(response))
            })
        })
        .collect();
    let mut busy = 0;
    for client in clients {
        let (retry_after, answer) = client.join().unwrap();
        if answer.status == 503 {
            answer.assert_error(503, "busy");
            let secs: u64 = retry_after
                .expect("a 503 says when to retry")
                .parse()
                .unwrap();
            assert!(secs >= 1, "Retry-After: {secs}");
            busy += 1;
        } else {
            // Decoded: a prediction, or 422 (two dots shrunk to 28x28 may leave no ink).
            assert!(
                answer.status == 200 || answer.status == 422,
                "{}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            );
        }
    }
    assert!(busy > 0, "the budget holds one of these, not {CLIENTS}");
    assert!(busy < CLIENTS, "the first picture always fits the budget");

    // Still up, and answering as before.
    assert_prediction(&post(&predict, "image/png", &png(&seven())));
    // The uploads in flight hold at most the budget (1 GiB); 256 MiB more is left for the
    // estimates' errors, sockets and the allocator's slack.
    let peak = server.peak_rss_mib();
    let bound = before + u64::from(trainer::commands::serve::BUDGET_MIB) + 256;
    assert!(
        peak <= bound,
        "peak RSS {peak} MiB, {before} MiB before the flood: above {bound} MiB"
    );
    let _ = writeln!(
        std::io::stderr(),
        "peak RSS {peak} MiB ({before} MiB before), {busy} of {CLIENTS} answered 503"
    );
    let (status, _) = server.interrupt();
    assert!(status.success(), "{status}");
}

/// Connects and sends `text`; reading times out after 30 s.
fn send_raw(host: &str, text: &str) -> TcpStream {
    let mut stream = TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(text.as_bytes()).unwrap();
    stream
}

/// Everything the server sends until it closes the connection (a reset counts as closed).
fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn clients_too_slow_to_send_a_request_are_dropped() {
    let fixture = trained_fixture();
    let server = Server::start_with(&fixture.artifacts(), &["--read-timeout", "1"]);
    let host = server.host();

    // Half a header, then nothing: the connection is closed once the timeout is up.
    let started = Instant::now();
    let mut stalled = send_raw(host, "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Le");
    let said = read_until_closed(&mut stalled);
    let waited = started.elapsed();
    assert!(!said.contains("200 OK"), "{said}");
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(10)).contains(&waited),
        "dropped after {waited:?}"
    );

    // All the headers but only part of the body: 408 once the body is overdue.
    let started = Instant::now();
    let mut stalled = send_raw(
        host,
        "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n\
         Content-Length: 100\r\n\r\nPNG",
    );
    let said = read_until_closed(&mut stalled);
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
    assert!(said.contains("took longer than 1 s"), "{said}");
    assert!(started.elapsed() < Duration::from_secs(10), "{said}");

    // Other clients are served as before.
    let item = toy_item(4, 5);
    let answer = post(
        &format!("{}/api/predict", server.url),
        "application/json",
        &pixels_json(&item.image),
    );
    assert_eq!(assert_prediction(&answer), 4);
    let (status, _) = server.interrupt();
    assert!(status.success(), "{status}");
}

#[test]
fn ctrl_c_finishes_requests_in_progress_but_not_stalled_clients() {
    let fixture = trained_fixture();
    // The default read timeout (10 s): the server must not wait for it to stop.
    let server = Server::start(&fixture.artifacts());
    let host = server.host().to_string();

    // An idle connection, one idle after a request (keep-alive), one stalled in its header,
    // and a request in progress: its headers and half its body sent.
    let _idle = TcpStream::connect(&host).unwrap();
    let keep_alive = agent();
    let model = keep_alive
        .get(format!("{}/api/model", server.url))
        .call()
        .unwrap();
    assert_eq!(model.status(), 200);
    let _stalled = send_raw(&host, "GET /api/model HTTP/1.1\r\nHo");
    let body = pixels_json(&toy_item(2, 9).image);
    let (first, rest) = body.split_at(body.len() / 2);
    let mut in_progress = send_raw(
        &host,
        &format!(
            "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{}",
            body.len(),
            String::from_utf8_lossy(first)
        ),
    );
    std::thread::sleep(Duration::from_millis(300));

    let started = Instant::now();
    server.send_interrupt();
    std::thread::sleep(Duration::from_millis(300));
    in_progress.write_all(rest).unwrap();
    let said = read_until_closed(&mut in_progress);
    assert!(said.starts_with("HTTP/1.1 200"), "{said}");
    assert!(said.contains("\"predicted\":2"), "{said}");

    let (status, rest) = server.wait();
    let took = started.elapsed();
    assert!(status.success(), "{status}");
    assert!(rest.contains("stopped"), "{rest}");
    // The stalled client holds the server for the grace period at most, not the read timeout.
    let most = trainer::commands::serve::SHUTDOWN_GRACE + Duration::from_secs(2);
    assert!(
        took < most,
        "stopped after {took:?}, expected under {most:?}"
    );
}

/// Chromium and chromedriver, found on the PATH.
struct BrowserPaths {
    browser: PathBuf,
    driver: PathBuf,
}

fn find_browser() -> Result<BrowserPaths, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let find = |names: &[&str]| {
        std::env::split_paths(&path)
            .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
            .find(|candidate| candidate.is_file())
    };
    let browser = find(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = find(&["chromedriver"]);
    match (browser, driver) {
        (Some(browser), Some(driver)) => Ok(BrowserPaths { browser, driver }),
        (None, _) => Err("no chromium on the PATH".into()),
        (_, None) => Err("no chromedriver on the PATH".into()),
    }
}

/// The browser paths, or `None` (with the reason on stderr) where the browser tests may skip.
fn browser_or_skip(test: &str) -> Option<BrowserPaths> {
    let required = std::env::var_os("MNIST_BURN_REQUIRE_BROWSER").is_some_and(|v| v != "0");
    match find_browser() {
        Ok(paths) => Some(paths),
        Err(why) if !required => {
            // Straight to the stderr handle, past the test harness's capture, so the skip shows.
            let _ = writeln!(
                std::io::stderr(),
                "{test} skipped: {why} (install with `apt-get install chromium chromium-driver`); \
                 set MNIST_BURN_REQUIRE_BROWSER=1 to make this a failure"
            );
            None
        }
        Err(why) => panic!("{why}, and MNIST_BURN_REQUIRE_BROWSER is set"),
    }
}

/// chromedriver in its own process group, which (with the Chromium it starts) is killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start(driver: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", driver.display()));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session with a fresh profile.
async fn open_browser(paths: &BrowserPaths, driver: &Driver, profile: &Path) -> Client {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1000,760",
    ]
    .map(String::from)
    .into_iter()
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<_>>();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": paths.browser, "args": args }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session")
}

enum Pointer {
    Mouse,
    Touch,
}

/// A stroke through `points` (offsets from the canvas centre, in CSS pixels).
async fn stroke(
    client: &Client,
    canvas: &fantoccini::elements::Element,
    pointer: Pointer,
    points: &[(f64, f64)],
) {
    let moves = points
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| PointerAction::MoveToElement {
            element: canvas.clone(),
            duration: Some(Duration::from_millis(if i == 0 { 0 } else { 60 })),
            x,
            y,
        });
    let mut actions: Vec<PointerAction> = Vec::new();
    for (i, step) in moves.enumerate() {
        actions.push(step);
        if i == 0 {
            actions.push(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            });
        }
    }
    actions.push(PointerAction::Up {
        button: MOUSE_BUTTON_LEFT,
    });
    if let Pointer::Touch = pointer {
        let mut finger = TouchActions::new("finger".into());
        for action in actions {
            finger = finger.then(action);
        }
        client
            .perform_actions(finger)
            .await
            .expect("a touch stroke");
    } else {
        let mut mouse = MouseActions::new("mouse".into());
        for action in actions {
            mouse = mouse.then(action);
        }
        client.perform_actions(mouse).await.expect("a mouse stroke");
    }
    client.release_actions().await.expect("release the pointer");
}

/// Waits for the page to show a prediction; returns the shown label and the probabilities
/// of the bar chart.
async fn shown_prediction(client: &Client) -> (String, Vec<f64>) {
    let result = client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#result[data-predicted]"))
        .await
        .expect("the page shows a prediction");
    let label = result.text().await.unwrap();
    let mut probabilities = Vec::new();
    for bar in client.find_all(Locator::Css("#bars li")).await.unwrap() {
        let p = bar
            .attr("data-probability")
            .await
            .unwrap()
            .unwrap_or_default();
        probabilities.push(p.parse::<f64>().unwrap());
    }
    let top = client
        .find(Locator::Css("#bars li.top"))
        .await
        .expect("a highlighted bar");
    assert_eq!(
        top.text().await.unwrap().lines().next(),
        Some(label.as_str())
    );
    (label, probabilities)
}

/// The strokes of a "7", as offsets from the canvas centre.
const SEVEN_BAR: [(f64, f64); 3] = [(-70.0, -80.0), (0.0, -82.0), (70.0, -80.0)];
const SEVEN_STEM: [(f64, f64); 3] = [(68.0, -76.0), (20.0, 10.0), (-10.0, 95.0)];

#[test]
fn a_digit_drawn_in_the_browser_is_predicted() {
    let Some(paths) = browser_or_skip("a_digit_drawn_in_the_browser_is_predicted") else {
        return;
    };
    let fixture = trained_fixture();
    let server = Server::start(&fixture.artifacts());
    let blank = fixture.dir.path().join("blank.png");
    std::fs::write(
        &blank,
        png(&image::GrayImage::from_pixel(50, 50, image::Luma([255]))),
    )
    .unwrap();
    let driver = Driver::start(&paths.driver);
    let profile = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = open_browser(&paths, &driver, profile.path()).await;
        client.goto(&server.url).await.unwrap();
        let canvas = client.find(Locator::Css("#canvas")).await.unwrap();

        // A "7" drawn with the mouse.
        stroke(&client, &canvas, Pointer::Mouse, &SEVEN_BAR).await;
        stroke(&client, &canvas, Pointer::Mouse, &SEVEN_STEM).await;
        let (label, probabilities) = shown_prediction(&client).await;
        assert!(
            label.len() == 1 && label.chars().all(|c| c.is_ascii_digit()),
            "the page shows a digit, not {label:?}"
        );
        assert_eq!(probabilities.len(), 10);
        assert!(
            (probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-3,
            "{probabilities:?}"
        );

        // Clear empties the answer; the same "7" drawn with a finger gets one again.
        client
            .find(Locator::Css("#clear"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let result = client.find(Locator::Css("#result")).await.unwrap();
        assert_eq!(result.text().await.unwrap(), "–");
        assert_eq!(result.attr("data-predicted").await.unwrap(), None);
        stroke(&client, &canvas, Pointer::Touch, &SEVEN_BAR).await;
        stroke(&client, &canvas, Pointer::Touch, &SEVEN_STEM).await;
        assert_eq!(shown_prediction(&client).await.0, label);

        // A blank picture picked from a file is refused, and the page says so.
        let picker = client.find(Locator::Css("#file")).await.unwrap();
        picker.send_keys(blank.to_str().unwrap()).await.unwrap();
        client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::XPath("//p[@id='message'][contains(., 'blank')]"))
            .await
            .expect("the page says the picture is blank");
        assert_eq!(result.text().await.unwrap(), "–");
        client.close().await.unwrap();
    });
    let (status, _) = server.interrupt();
    assert!(status.success(), "{status}");
}

/// Makes `docs/serve.png`: a "7" drawn on the page of a real model. Run by hand with a model
/// trained on MNIST:
/// `MNIST_BURN_SCREENSHOT_MODEL=artifacts/lenet cargo test --release -p trainer --test serve -- --ignored`
#[test]
#[ignore = "makes docs/serve.png from a real model; see its doc comment"]
fn screenshot_for_the_readme() {
    let model = PathBuf::from(
        std::env::var_os("MNIST_BURN_SCREENSHOT_MODEL")
            .expect("set MNIST_BURN_SCREENSHOT_MODEL to a model trained on MNIST"),
    );
    let paths = find_browser().unwrap();
    let server = Server::start(&model);
    let driver = Driver::start(&paths.driver);
    let profile = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let png = runtime.block_on(async {
        let client = open_browser(&paths, &driver, profile.path()).await;
        client.goto(&server.url).await.unwrap();
        let canvas = client.find(Locator::Css("#canvas")).await.unwrap();
        stroke(&client, &canvas, Pointer::Mouse, &SEVEN_BAR).await;
        stroke(&client, &canvas, Pointer::Mouse, &SEVEN_STEM).await;
        let (label, _) = shown_prediction(&client).await;
        assert_eq!(label, "7", "a real MNIST model reads the drawn 7");
        let png = client.screenshot().await.unwrap();
        client.close().await.unwrap();
        png
    });
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/serve.png");
    std::fs::write(&out, png).unwrap();
    let _ = writeln!(std::io::stderr(), "wrote {}", out.display());
}
