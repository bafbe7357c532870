//! The JSON API: `POST /api/predict` and `GET /api/model`, and the JSON errors every bad
//! request gets (`{"error": "..."}` with a 4xx status saying what is wrong; 503 with
//! `Retry-After` when the memory budget for uploads is spent).

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use data::{IMAGE_PIXELS, PictureError};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};

use super::budget::Budget;
use super::worker::Inference;
use crate::evaluate;

/// The largest request body accepted, in bytes (a photo from a phone fits; the drawn canvas is
/// a few KiB).
pub const BODY_LIMIT: usize = 8 << 20;

/// What a 503 asks the client to wait before trying again, in seconds: about the time the
/// largest picture takes to decode.
const RETRY_AFTER_SECS: u64 = 2;

/// What `GET /api/model` says about the model being served.
#[derive(Debug, Serialize)]
pub struct ModelInfo {
    /// `lenet (caffe2)`, `mlp (mxnet, customized)`, ...
    pub network: String,
    pub layers: Vec<Layer>,
    pub parameters: usize,
    pub dataset: &'static str,
    pub classes: [&'static str; 10],
    /// The side of the images the network sees (28, or 32 when resized).
    pub input_size: usize,
    /// Fraction 0-1 on the test set, from `metrics.json` when the directory has one.
    pub test_accuracy: Option<f64>,
    /// The backend serving the model.
    pub backend: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Layer {
    pub layer: String,
    pub output_shape: Vec<usize>,
    pub parameters: usize,
}

#[derive(Debug, Serialize)]
struct Prediction {
    predicted: usize,
    label: &'static str,
    probabilities: Vec<f32>,
}

/// `{"pixels": [...]}`: an image already in MNIST form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pixels {
    pixels: Vec<f64>,
}

#[derive(Clone)]
struct Api {
    inference: Inference,
    classes: [&'static str; 10],
    /// `ModelInfo`, encoded once.
    model: Bytes,
    /// Memory for the bodies and decodes in flight.
    uploads: Budget,
    /// The longest a request body may take to arrive.
    read_timeout: Duration,
}

/// A request the server will not answer as asked: the status and a one-line reason.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = json(self.status, &serde_json::json!({ "error": self.message }));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        response
    }
}

/// The API's routes; a request body must arrive within `read_timeout`.
pub fn router(inference: Inference, model: &ModelInfo, read_timeout: Duration) -> Router {
    let api = Api {
        inference,
        classes: model.classes,
        model: Bytes::from(encode(model)),
        uploads: Budget::new(),
        read_timeout,
    };
    Router::new()
        .route("/api/predict", post(predict))
        .route("/api/model", get(model_info))
        .with_state(api)
}

/// Any path that is not a route.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such page: {}", uri.path()),
    )
}

/// A route asked with the wrong method (`GET /api/predict`).
pub async fn method_not_allowed(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} does not take this method (POST /api/predict, GET everything else)",
            uri.path()
        ),
    )
}

async fn model_info(State(api): State<Api>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        api.model.clone(),
    )
        .into_response()
}

async fn predict(State(api): State<Api>, request: Request) -> Result<Response, ApiError> {
    // A body announced as too large is refused before any of it is read.
    let announced = content_length(request.headers());
    if announced.is_some_and(|n| n > BODY_LIMIT as u64) {
        return Err(too_large());
    }
    // Room for the body is reserved before it is read: the largest allowed without a length.
    let Some(mut room) = api.uploads.try_body(announced.unwrap_or(BODY_LIMIT as u64)) else {
        // Read and drop the body, so that the client, still sending, gets the answer rather
        // than a closed connection.
        let mut body = request.into_body();
        let drain = async { while let Some(Ok(_)) = body.frame().await {} };
        let _ = tokio::time::timeout(api.read_timeout, drain).await;
        return Err(busy());
    };
    let is_json = is_json(request.headers());
    // A whole-body deadline: a client trickling bytes cannot hold the request open.
    let body = tokio::time::timeout(api.read_timeout, Bytes::from_request(request, &()))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body took longer than {} s to arrive",
                    api.read_timeout.as_secs_f64()
                ),
            )
        })?
        .map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => too_large(),
            status => ApiError::new(status, rejection.body_text()),
        })?;
    if body.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the body is empty: send a PNG, JPEG, BMP or PGM image, or JSON {\"pixels\": [784 values 0-255]}",
        ));
    }
    let pixels = if is_json {
        pixels_from_json(&body)?
    } else {
        if !api.uploads.try_decode(&body, &mut room) {
            return Err(busy());
        }
        // Decoding is CPU work: keep it off the threads that serve connections. The room is
        // held until the body and the decoded picture are gone, even if the client has left.
        tokio::task::spawn_blocking(move || {
            let pixels = data::decode_picture(&body);
            drop((body, room));
            pixels
        })
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the image decoder failed on this body",
            )
        })?
        .map_err(picture_error)?
    };
    let probabilities = api
        .inference
        .classify(pixels)
        .await
        .map_err(|message| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message))?;
    let (predicted, _) = evaluate::argmax(&probabilities);
    Ok(json(
        StatusCode::OK,
        &Prediction {
            predicted,
            label: api.classes[predicted % 10],
            probabilities,
        },
    ))
}

fn busy() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the server is busy with other uploads; try again in {RETRY_AFTER_SECS} s"),
    )
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is larger than {} MiB", BODY_LIMIT >> 20),
    )
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// `Content-Type: application/json` (with or without parameters); anything else is an image.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

fn picture_error(error: PictureError) -> ApiError {
    let status = match error {
        PictureError::Decode(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        PictureError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        PictureError::Preprocess(_) | PictureError::NotDigitSized { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        PictureError::Read(_) => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, error.to_string())
}

/// The pixels of `{"pixels": [...]}`, used as given: 784 whole numbers 0-255, row by row.
fn pixels_from_json(body: &[u8]) -> Result<[u8; IMAGE_PIXELS], ApiError> {
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, message);
    let parsed: Pixels = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            bad(format!(
                "expected JSON {{\"pixels\": [784 values 0-255]}}: {e}"
            ))
        } else {
            bad(format!("the body is not valid JSON: {e}"))
        }
    })?;
    let count = parsed.pixels.len();
    if count != IMAGE_PIXELS {
        return Err(bad(format!(
            "expected {IMAGE_PIXELS} pixels (28x28, row by row), got {count}"
        )));
    }
    let mut pixels = [0u8; IMAGE_PIXELS];
    for (i, (&value, pixel)) in parsed.pixels.iter().zip(&mut pixels).enumerate() {
        if !(0.0..=255.0).contains(&value) || value.fract() != 0.0 {
            return Err(bad(format!(
                "pixels[{i}] is {value}; each pixel must be a whole number 0-255"
            )));
        }
        *pixel = value as u8;
    }
    if pixels.iter().all(|&p| p == 0) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the pixels are all 0: there is no ink to classify",
        ));
    }
    Ok(pixels)
}

fn encode(value: &impl Serialize) -> Vec<u8> {
    // These types always encode (NaN becomes null); the fallback keeps the answer JSON anyway.
    serde_json::to_vec(value)
        .unwrap_or_else(|_| br#"{"error": "the answer could not be encoded"}"#.to_vec())
}

fn json(status: StatusCode, value: &impl Serialize) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        encode(value),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(body: &str) -> StatusCode {
        match pixels_from_json(body.as_bytes()) {
            Ok(_) => StatusCode::OK,
            Err(e) => e.status,
        }
    }

    fn pixels(values: &str, count: usize) -> String {
        format!("{{\"pixels\": [{}]}}", vec![values; count].join(","))
    }

    #[test]
    fn json_pixels_are_checked_for_shape_count_range_and_ink() {
        assert_eq!(status_of(&pixels("7", 784)), StatusCode::OK);
        assert_eq!(status_of(&pixels("7", 783)), StatusCode::BAD_REQUEST);
        assert_eq!(status_of(&pixels("256", 784)), StatusCode::BAD_REQUEST);
        assert_eq!(status_of(&pixels("-1", 784)), StatusCode::BAD_REQUEST);
        assert_eq!(status_of(&pixels("0.5", 784)), StatusCode::BAD_REQUEST);
        assert_eq!(status_of(&pixels("\"7\"", 784)), StatusCode::BAD_REQUEST);
        assert_eq!(
            status_of(&pixels("0", 784)),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status_of("{\"pixels\": [1], \"x\": 2}"),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(status_of("{\"pixels\": "), StatusCode::BAD_REQUEST);
        let error = pixels_from_json(pixels("255", 10).as_bytes()).unwrap_err();
        assert_eq!(
            error.message,
            "expected 784 pixels (28x28, row by row), got 10"
        );
        let error = pixels_from_json(b"nonsense").unwrap_err();
        assert!(
            error.message.starts_with("the body is not valid JSON"),
            "{}",
            error.message
        );
    }

    #[test]
    fn only_application_json_is_read_as_json() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            is_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(!with("image/png"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
