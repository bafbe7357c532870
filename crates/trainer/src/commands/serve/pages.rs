//! The pages: `/` (draw a digit) with its script and stylesheet, all compiled into the binary,
//! and `/report` (the trained run at a glance) with its pictures, built once at start-up. No
//! route takes a path parameter: only the fixed picture names of [`super::run_files`] exist.

use std::fmt::Write;

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::run_files::{Metrics, RunFiles};

const INDEX: &str = include_str!("assets/index.html");
const REPORT: &str = include_str!("assets/report.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");

/// Where the report's content goes in `assets/report.html`.
const REPORT_SLOT: &str = "<!-- report -->";

/// Everything the pages need, from the same origin only: no inline script, no other host.
const POLICY: &str = "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The pages' routes. `network` and `classes` describe the model being served.
pub fn router(files: RunFiles, network: &str, classes: [&'static str; 10]) -> Router {
    let report = REPORT.replace(REPORT_SLOT, &report(&files, network, &classes));
    let mut router = Router::new()
        .route("/", get(|| async { html(INDEX) }))
        .route(
            "/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    SCRIPT,
                )
            }),
        )
        .route(
            "/style.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }),
        )
        .route("/report", get(move || async move { html(report) }));
    for picture in files.pictures {
        let png: Bytes = picture.png;
        router = router.route(
            &format!("/report/{}", picture.name),
            get(move || async move { ([(header::CONTENT_TYPE, "image/png")], png) }),
        );
    }
    router
}

fn html(page: impl Into<String>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
        ],
        page.into(),
    )
}

/// The report's content: the numbers of `metrics.json`, then the pictures that exist.
fn report(files: &RunFiles, network: &str, classes: &[&str; 10]) -> String {
    let mut out = String::new();
    match &files.metrics {
        Some(metrics) => numbers(&mut out, metrics, network, classes),
        None => out.push_str(
            "<p class=\"muted\">The model directory has no readable metrics.json (training writes one).</p>\n",
        ),
    }
    if files.pictures.is_empty() {
        out.push_str(
            "<p class=\"muted\">The model directory has no pictures (training draws them).</p>\n",
        );
    }
    for picture in &files.pictures {
        let _ = writeln!(
            out,
            "<figure><img src=\"/report/{name}\" alt=\"{caption}\"><figcaption>{caption} ({name})</figcaption></figure>",
            name = picture.name,
            caption = picture.caption
        );
    }
    out
}

fn numbers(out: &mut String, metrics: &Metrics, network: &str, classes: &[&str; 10]) {
    let mut rows: Vec<(&str, String)> = vec![("network", escape(network))];
    if let Some(dataset) = &metrics.dataset {
        rows.push(("dataset", escape(dataset)));
    }
    if let Some(accuracy) = metrics.test_accuracy {
        let images = metrics
            .test_images
            .map(|n| format!(" on {n} test images"))
            .unwrap_or_default();
        rows.push(("test accuracy", format!("{:.2}%{images}", accuracy * 100.0)));
    }
    if let Some(epochs) = metrics.epochs {
        rows.push(("epochs", epochs.to_string()));
    }
    if let Some(seconds) = metrics.wall_seconds {
        rows.push(("last training command", format!("{seconds:.0} s")));
    }
    if let Some(rate) = metrics.train_images_per_sec {
        rows.push(("training speed", format!("{rate:.0} images/s")));
    }
    if let Some(backend) = &metrics.backend {
        rows.push(("trained with", escape(backend)));
    }
    out.push_str("<table class=\"numbers\">\n");
    for (name, value) in rows {
        let _ = writeln!(out, "<tr><th>{name}</th><td>{value}</td></tr>");
    }
    out.push_str("</table>\n");

    if metrics.per_class_accuracy.len() == classes.len() {
        out.push_str("<table class=\"classes\">\n<tr><th>class</th><th>test accuracy</th></tr>\n");
        for (name, accuracy) in classes.iter().zip(&metrics.per_class_accuracy) {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"number\">{:.2}%</td></tr>",
                escape(name),
                accuracy * 100.0
            );
        }
        out.push_str("</table>\n");
    }
}

/// Text for HTML: the names come from files on disk, so they are escaped like any input.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_shows_what_exists_and_escapes_names() {
        let files = RunFiles {
            metrics: Some(Metrics {
                test_accuracy: Some(0.9876),
                dataset: Some("<mnist>".into()),
                per_class_accuracy: vec![0.5; 10],
                ..Metrics::default()
            }),
            pictures: Vec::new(),
        };
        let page = report(&files, "mlp & co", &data::DatasetKind::Mnist.class_names());
        assert!(page.contains("98.76%"), "{page}");
        assert!(
            page.contains("mlp &amp; co") && page.contains("&lt;mnist&gt;"),
            "{page}"
        );
        assert!(page.contains("no pictures"), "{page}");
        assert_eq!(page.matches("50.00%").count(), 10, "{page}");
        assert!(REPORT.contains(REPORT_SLOT));
    }
}
