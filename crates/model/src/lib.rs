//! Networks (placeholder).
