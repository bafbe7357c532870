//! `trainer serve`: a saved model behind a small HTTP server (axum on tokio). The model
//! directory is loaded once; one worker thread owns the model and answers the handlers in
//! batches ([`worker`]); [`api`] is the JSON API, [`pages`] the drawing page and the report,
//! built from the run's files ([`run_files`]). This file only wires them together.
//!
//! It listens where `--addr` says (loopback by default), prints `serving on http://ADDR` as its
//! first line, and stops on Ctrl-C: idle connections close at once, requests in progress get
//! [`SHUTDOWN_GRACE`] to finish, and a second Ctrl-C stops without waiting for them.
//!
//! Connections are served by hyper directly (`axum::serve` has no header timeout): a client
//! must send its request headers, and then its body, within the read timeout.

mod api;
mod budget;
mod pages;
mod run_files;
mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::pin;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use burn::tensor::Device;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

use crate::backend::Backend;
use crate::console;
use crate::error::Error;
use crate::run_dir::model_dir::ModelDir;

pub use api::BODY_LIMIT;
pub use budget::BUDGET_MIB;

/// How long requests in progress may run on after Ctrl-C.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// `trainer serve`, resolved: the device is open and probed.
#[derive(Clone, Debug)]
pub struct ServeRun {
    /// A model directory (an artifact directory after training); loaded once at start-up.
    pub model: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    pub addr: SocketAddr,
    /// How long a client has to send its request headers, and again its body.
    pub read_timeout: Duration,
    pub backend: Backend,
    pub device: Device,
}

pub fn run(run: &ServeRun) -> Result<(), Error> {
    let (backend, device, read_timeout) = (run.backend, run.device.clone(), run.read_timeout);
    let ModelDir {
        config,
        input,
        model,
    } = ModelDir::load(&run.model, &device)?;
    let summary = model::summary(&config)?;
    let files = run_files::RunFiles::read(&run.model);
    let classes = input.dataset.class_names();
    let info = api::ModelInfo {
        network: summary.name.clone(),
        layers: summary
            .layers
            .iter()
            .map(|l| api::Layer {
                layer: l.layer.clone(),
                output_shape: l.output_shape.clone(),
                parameters: l.params,
            })
            .collect(),
        parameters: model.num_params(),
        dataset: input.dataset.name(),
        classes,
        input_size: input.batcher().output_size(),
        test_accuracy: files.metrics.as_ref().and_then(|m| m.test_accuracy),
        backend: backend.name(),
    };
    let ready = format!(
        "{} ({} parameters) trained on {}, on {}; Ctrl-C stops",
        info.network, info.parameters, info.dataset, info.backend
    );

    // The listener first, so a taken port is an error before any thread starts.
    let listener = std::net::TcpListener::bind(run.addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|source| Error::Listen {
            addr: run.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Listen {
        addr: run.addr,
        source,
    })?;
    let (inference, worker) = worker::start(model, input.batcher(), device)
        .map_err(|e| Error::Serve(format!("cannot start the inference thread: {e}")))?;
    let app = api::router(inference, &info, read_timeout)
        .merge(pages::router(files, &info.network, classes))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Images are decoded on the blocking threads: no more at once than there are cores,
        // which is all the CPU there is to decode them with.
        .max_blocking_threads(cores)
        .build()
        .map_err(|e| Error::Serve(format!("cannot start the async runtime: {e}")))?;

    console::progress(format!("serving on http://{addr}"));
    console::progress(ready);
    let served = runtime.block_on(serve(listener, app, addr, read_timeout));
    // Connections still open after the grace period are dropped with their tasks, and with
    // them the last handles on the worker: it ends. A decode still running is not waited for.
    runtime.shutdown_timeout(Duration::from_millis(100));
    let _ = worker.join();
    served?;
    console::progress("stopped");
    Ok(())
}

async fn serve(
    listener: std::net::TcpListener,
    app: axum::Router,
    addr: SocketAddr,
    read_timeout: Duration,
) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|e| Error::Serve(format!("http://{addr}: {e}")))?;
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(read_timeout);
    let graceful = GracefulShutdown::new();
    let mut stop = pin!(interrupted());
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        // A connection's error is the client's business (it left, or was too slow).
        tokio::spawn(connection);
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        // Connections still busy (or still sending headers) after the grace period are dropped.
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {}
        // A second Ctrl-C stops waiting for them.
        () = interrupted() => {}
    }
    Ok(())
}

/// After a failed accept: a client that left is no matter; otherwise (out of file descriptors,
/// say) wait a little for connections to close, as hyper's own server did.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        console::note(format!("warning: cannot accept a connection ({error})"));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Resolves on Ctrl-C (SIGINT). Where the handler cannot be installed, it never resolves:
/// the server then stops only when killed.
async fn interrupted() {
    if let Err(e) = tokio::signal::ctrl_c().await {
        console::note(format!("warning: Ctrl-C cannot stop the server ({e})"));
        std::future::pending::<()>().await;
    }
}
