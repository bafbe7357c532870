//! MNIST data (placeholder).
