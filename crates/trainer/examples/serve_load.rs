//! Load on a running `trainer serve`: requests/s and p50/p99 latency of `POST /api/predict`
//! with 1 and 32 concurrent clients (blocking clients, one thread each, keep-alive), for a
//! drawn 280x280 PNG (what the page sends: decoded and prepared like `trainer predict`) and for
//! raw JSON pixels (the model alone).
//!
//! ```sh
//! cargo run --release -p trainer -- serve --model artifacts/lenet &
//! cargo run --release -p trainer --example serve_load -- http://127.0.0.1:8080
//! ```
//!
//! With `--abuse SHAPE`, 64 clients instead send the costliest picture there is, back to back
//! without heeding `Retry-After`: a 64-megapixel 16-bit RGBA PNG of transparent pixels but two
//! black ones in opposite corners (a few hundred KiB to send; `square` is 8192x8192, `strip`
//! 67108864x1). The answers are counted by status, and with `--pid` the server's peak resident
//! memory (`VmHWM`) is read from /proc before and after.
//!
//! ```sh
//! cargo run --release -p trainer --example serve_load -- http://127.0.0.1:8080 --abuse strip --pid PID
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

#[derive(Parser)]
struct Args {
    /// The server, e.g. http://127.0.0.1:8080.
    url: String,
    /// Seconds measured per row (after one second of warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Send the costliest 64-megapixel picture of this shape instead of measuring throughput.
    #[arg(long, value_name = "SHAPE")]
    abuse: Option<Shape>,
    /// Clients with --abuse.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// The server's process id, to read its peak memory with --abuse (Linux).
    #[arg(long)]
    pid: Option<u32>,
}

/// The shape of the 64-megapixel picture sent with --abuse.
#[derive(Clone, Copy, ValueEnum)]
enum Shape {
    /// 8192x8192.
    Square,
    /// 67108864x1: the resize's scratch image is as large as it gets.
    Strip,
}

/// One kind of request body.
struct Body {
    name: &'static str,
    content_type: &'static str,
    bytes: Vec<u8>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let url = args.url.trim_end_matches('/');
    let model: serde_json::Value = agent()
        .get(format!("{url}/api/model"))
        .call()
        .and_then(|mut r| r.body_mut().read_to_vec())
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
        .map_err(|e| format!("{url}/api/model: {e}"))?;
    let predict = format!("{url}/api/predict");
    if let Some(shape) = args.abuse {
        return abuse(args, &predict, shape);
    }
    let bodies = [drawing()?, pixels()];
    for body in &bodies {
        let status = send(&agent(), &predict, body)?;
        if status != 200 {
            return Err(format!("{predict} answered {status} to the {}", body.name));
        }
    }
    println!(
        "POST /api/predict on {url}: {} on {}, {} s per row",
        model["network"].as_str().unwrap_or("?"),
        model["backend"].as_str().unwrap_or("?"),
        args.seconds
    );
    println!(
        "{:<22} {:>7} {:>10} {:>8} {:>8} {:>7}",
        "body", "clients", "requests/s", "p50 ms", "p99 ms", "errors"
    );
    for body in &bodies {
        for clients in [1, 32] {
            let row = measure(&predict, body, clients, Duration::from_secs(args.seconds));
            println!(
                "{:<22} {:>7} {:>10.0} {:>8.1} {:>8.1} {:>7}",
                body.name, clients, row.per_second, row.p50_ms, row.p99_ms, row.errors
            );
        }
    }
    Ok(())
}

struct Row {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

/// `clients` threads send `body` back to back; latencies after the warm-up second count.
fn measure(url: &str, body: &Body, clients: usize, duration: Duration) -> Row {
    let start = Instant::now() + Duration::from_secs(1);
    let end = start + duration;
    let (latencies, errors) = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(move || {
                    let agent = agent();
                    let (mut latencies, mut errors) = (Vec::new(), 0);
                    loop {
                        let sent = Instant::now();
                        if sent >= end {
                            break;
                        }
                        let ok = matches!(send(&agent, url, body), Ok(200));
                        if sent >= start {
                            latencies.push(sent.elapsed());
                            errors += usize::from(!ok);
                        }
                    }
                    (latencies, errors)
                })
            })
            .collect();
        threads
            .into_iter()
            .fold((Vec::new(), 0), |(mut all, e), t| {
                let (latencies, errors) = t.join().unwrap_or_default();
                all.extend(latencies);
                (all, e + errors)
            })
    });
    let mut ms: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let at = |q: usize| ms.get((ms.len() * q / 100).min(ms.len().saturating_sub(1)));
    Row {
        per_second: ms.len() as f64 / duration.as_secs_f64(),
        p50_ms: at(50).copied().unwrap_or(f64::NAN),
        p99_ms: at(99).copied().unwrap_or(f64::NAN),
        errors,
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Sends `body` and reads the whole answer; the status, or why there was none.
fn send(agent: &ureq::Agent, url: &str, body: &Body) -> Result<u16, String> {
    let mut response = agent
        .post(url)
        .header("Content-Type", body.content_type)
        .send(&body.bytes[..])
        .map_err(|e| format!("{url}: {e}"))?;
    response
        .body_mut()
        .read_to_vec()
        .map_err(|e| format!("{url}: {e}"))?;
    Ok(response.status().as_u16())
}

/// `args.clients` clients send the costliest picture of `shape` for `args.seconds` seconds.
fn abuse(args: &Args, url: &str, shape: Shape) -> Result<(), String> {
    let side = 1u32 << 13;
    let (width, height) = match shape {
        Shape::Square => (side, side),
        Shape::Strip => (side * side, 1),
    };
    let body = Body {
        name: "64-megapixel png",
        content_type: "image/png",
        bytes: sparse_png(width, height).map_err(|e| format!("encoding the picture: {e}"))?,
    };
    let peak = |when: &str| {
        if let Some(pid) = args.pid {
            match peak_rss_mib(pid) {
                Some(mib) => println!("server peak RSS {when}: {mib} MiB"),
                None => println!("server peak RSS {when}: unknown (no /proc/{pid}/status)"),
            }
        }
    };
    println!(
        "{} clients, {width}x{height} 16-bit RGBA PNG of {} bytes, {} s",
        args.clients,
        body.bytes.len(),
        args.seconds
    );
    peak("before");
    let end = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let statuses = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..args.clients)
            .map(|_| {
                scope.spawn(|| {
                    let agent = agent();
                    let mut statuses = BTreeMap::<String, usize>::new();
                    while Instant::now() < end {
                        let status = match send(&agent, url, &body) {
                            Ok(status) => status.to_string(),
                            Err(e) => format!("failed ({e})"),
                        };
                        *statuses.entry(status).or_default() += 1;
                    }
                    statuses
                })
            })
            .collect();
        let mut all = BTreeMap::<String, usize>::new();
        for thread in threads {
            for (status, n) in thread.join().unwrap_or_default() {
                *all.entry(status).or_default() += n;
            }
        }
        all
    });
    println!(
        "answers in {:.1} s: {statuses:?}",
        started.elapsed().as_secs_f64()
    );
    peak("after");
    Ok(())
}

/// The peak resident memory of process `pid`, in MiB (`VmHWM`).
fn peak_rss_mib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib >> 10)
}

/// A `width`x`height` 16-bit RGBA PNG, transparent but for opaque black pixels in the first
/// and last corners, so that the ink spans the whole picture. Written row by row: the pixels
/// are never held, and a zero row compresses about 1000 to 1.
fn sparse_png(width: u32, height: u32) -> std::io::Result<Vec<u8>> {
    const PIXEL: usize = 8;
    let ink = [0, 0, 0, 0, 0, 0, 0xff, 0xff];
    let mut idat = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 16];
    let row_bytes = width as usize * PIXEL;
    for y in 0..height {
        idat.write_all(&[0])?; // filter: none
        let mut left = row_bytes;
        if y == 0 {
            idat.write_all(&ink)?;
            left -= PIXEL;
        }
        let last = if y == height - 1 { PIXEL } else { 0 };
        left -= last;
        while left > 0 {
            let n = left.min(zeros.len());
            idat.write_all(&zeros[..n])?;
            left -= n;
        }
        if last > 0 {
            idat.write_all(&ink)?;
        }
    }
    let idat = idat.finish()?;
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
    Ok(png)
}

/// A "7" in black strokes on a white 280x280 canvas, as the page sends it.
fn drawing() -> Result<Body, String> {
    let mut image = image::GrayImage::from_pixel(280, 280, image::Luma([255]));
    let mut line = |(x0, y0): (f32, f32), (x1, y1): (f32, f32)| {
        for step in 0..=200 {
            let t = step as f32 / 200.0;
            let (cx, cy) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
            for dy in -10..=10 {
                for dx in -10..=10 {
                    if dx * dx + dy * dy <= 100 {
                        let (x, y) = (cx as i32 + dx, cy as i32 + dy);
                        image.put_pixel(x as u32, y as u32, image::Luma([0]));
                    }
                }
            }
        }
    };
    line((70.0, 60.0), (210.0, 60.0));
    line((210.0, 60.0), (120.0, 235.0));
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| format!("encoding the drawing: {e}"))?;
    Ok(Body {
        name: "png drawing 280x280",
        content_type: "image/png",
        bytes,
    })
}

/// A 28x28 "1" in MNIST form, as JSON pixels.
fn pixels() -> Body {
    let pixels: Vec<u8> = (0..784)
        .map(|i| {
            if (13..16).contains(&(i % 28)) && (4..24).contains(&(i / 28)) {
                255
            } else {
                0
            }
        })
        .collect();
    Body {
        name: "json pixels 28x28",
        content_type: "application/json",
        bytes: serde_json::json!({ "pixels": pixels })
            .to_string()
            .into_bytes(),
    }
}
