//! The inference worker: one thread owns the model and answers requests in batches. Whatever
//! is waiting in its channel when it wakes (up to [`MAX_BATCH`]) goes through one forward pass,
//! so many clients at once cost a few large passes instead of many small ones, and no handler
//! ever runs the model on the async runtime's threads.

use std::thread::JoinHandle;

use burn::tensor::Device;
use data::{IMAGE_PIXELS, MnistBatcher};
use model::Classifier;
use tokio::sync::{mpsc, oneshot};

use crate::console;
use crate::evaluate;
use crate::panics;

/// The most images in one forward pass.
pub const MAX_BATCH: usize = 64;

/// Requests that may wait for the worker; beyond this, handlers wait to enqueue (backpressure).
const QUEUE: usize = 1024;

/// One image to classify and where its probabilities go.
struct Job {
    pixels: [u8; IMAGE_PIXELS],
    reply: oneshot::Sender<Result<Vec<f32>, String>>,
}

/// The handlers' side of the worker; cheap to clone.
#[derive(Clone)]
pub struct Inference {
    jobs: mpsc::Sender<Job>,
}

impl Inference {
    /// Class probabilities for one 28x28 MNIST-style image; `Err` says why the model could not
    /// answer (the worker failed or has stopped).
    pub async fn classify(&self, pixels: [u8; IMAGE_PIXELS]) -> Result<Vec<f32>, String> {
        let (reply, answer) = oneshot::channel();
        let stopped = || "the inference worker has stopped".to_string();
        self.jobs
            .send(Job { pixels, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Starts the worker thread. It runs until every [`Inference`] handle is dropped.
pub fn start(
    model: Classifier,
    batcher: MnistBatcher,
    device: Device,
) -> std::io::Result<(Inference, JoinHandle<()>)> {
    let (jobs, queue) = mpsc::channel(QUEUE);
    let thread = std::thread::Builder::new()
        .name("inference".into())
        .spawn(move || run(&model, &batcher, &device, queue))?;
    Ok((Inference { jobs }, thread))
}

fn run(
    model: &Classifier,
    batcher: &MnistBatcher,
    device: &Device,
    mut queue: mpsc::Receiver<Job>,
) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let pixels: Vec<[u8; IMAGE_PIXELS]> = batch.iter().map(|job| job.pixels).collect();
        // A panic inside the backend fails this batch's requests, not the server.
        let answers = panics::quietly(|| {
            evaluate::probabilities(model, batcher.images(&pixels, device))
                .map_err(|e| e.to_string())
        })
        .and_then(|result| result);
        match answers {
            Ok(answers) => {
                for (job, probabilities) in batch.into_iter().zip(answers) {
                    // A client that went away no longer waits for its answer: nothing to do.
                    let _ = job.reply.send(Ok(probabilities));
                }
            }
            Err(message) => {
                console::note(format!("error: inference failed: {message}"));
                for job in batch {
                    let _ = job.reply.send(Err(format!("inference failed: {message}")));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::ModelConfig;

    #[test]
    fn concurrent_requests_each_get_their_own_answer() {
        let device = crate::backend::Backend::preferred().device();
        let config: ModelConfig = toml::from_str("kind = \"mlp\"\nhidden = [8]").unwrap();
        let model = config.init(&device).unwrap();
        let images: Vec<[u8; IMAGE_PIXELS]> = (0..100u8)
            .map(|i| {
                let mut image = [0u8; IMAGE_PIXELS];
                image[usize::from(i) * 7] = 255;
                image
            })
            .collect();
        // The same images one at a time, straight through the model.
        let alone: Vec<Vec<f32>> = images
            .iter()
            .map(|image| {
                let batch = MnistBatcher::default().images(&[*image], &device);
                evaluate::probabilities(&model, batch).unwrap().remove(0)
            })
            .collect();

        let (inference, thread) = start(model, MnistBatcher::default(), device).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread().build().unwrap();
        let batched = runtime.block_on(async {
            let tasks: Vec<_> = images
                .iter()
                .map(|&image| {
                    let inference = inference.clone();
                    tokio::spawn(async move { inference.classify(image).await })
                })
                .collect();
            let mut answers = Vec::new();
            for task in tasks {
                answers.push(task.await.unwrap().unwrap());
            }
            answers
        });
        drop(inference);
        thread.join().unwrap();
        for (one, many) in alone.iter().zip(&batched) {
            for (a, b) in one.iter().zip(many) {
                assert!((a - b).abs() < 1e-5, "{one:?} against {many:?}");
            }
        }
    }
}
