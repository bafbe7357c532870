//! `trainer serve`: a saved model behind a small HTTP server (axum on tokio). The model
//! directory is loaded once; one worker thread owns the model and answers the handlers in
//! batches ([`worker`]); [`api`] is the JSON API, [`pages`] the drawing page and the report,
//! built from the run's files ([`run_files`]). This file only wires them together.
//!
//! It listens where `--addr` says (loopback by default), prints `serving on http://ADDR` as its
//! first line, and stops on Ctrl-C: open requests finish first, and a second Ctrl-C stops
//! without waiting for them.

mod api;
mod pages;
mod run_files;
mod worker;

use std::future::IntoFuture;
use std::net::SocketAddr;

use axum::extract::DefaultBodyLimit;

use crate::cli::ServeArgs;
use crate::console;
use crate::error::Error;
use crate::model_dir::ModelDir;

pub use api::BODY_LIMIT;

pub fn command(args: ServeArgs) -> Result<(), Error> {
    let backend = args.backend.get();
    let device = backend.device();
    backend.probe(&device)?;
    let ModelDir {
        config,
        input,
        model,
    } = ModelDir::load(&args.model, &device)?;
    let summary = model::summary(&config)?;
    let files = run_files::RunFiles::read(&args.model);
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
    let listener = std::net::TcpListener::bind(args.addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|source| Error::Listen {
            addr: args.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Listen {
        addr: args.addr,
        source,
    })?;
    let (inference, worker) = worker::start(model, input.batcher(), device)
        .map_err(|e| Error::Serve(format!("cannot start the inference thread: {e}")))?;
    let app = api::router(inference, &info)
        .merge(pages::router(files, &info.network, classes))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Serve(format!("cannot start the async runtime: {e}")))?;

    console::progress(format!("serving on http://{addr}"));
    console::progress(ready);
    let served = runtime.block_on(serve(listener, app, addr));
    // The router, and with it the last handle on the worker, is gone: the worker ends.
    drop(runtime);
    let _ = worker.join();
    served?;
    console::progress("stopped");
    Ok(())
}

async fn serve(
    listener: std::net::TcpListener,
    app: axum::Router,
    addr: SocketAddr,
) -> Result<(), Error> {
    let failed = |e: std::io::Error| Error::Serve(format!("http://{addr}: {e}"));
    let listener = tokio::net::TcpListener::from_std(listener).map_err(failed)?;
    let server = axum::serve(listener, app).with_graceful_shutdown(interrupted());
    tokio::select! {
        served = server.into_future() => served.map_err(failed),
        // The first Ctrl-C lets open requests finish; a second one stops waiting for them.
        () = async { interrupted().await; interrupted().await } => Ok(()),
    }
}

/// Resolves on Ctrl-C (SIGINT). Where the handler cannot be installed, it never resolves:
/// the server then stops only when killed.
async fn interrupted() {
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("warning: Ctrl-C cannot stop the server ({e})");
        std::future::pending::<()>().await;
    }
}
