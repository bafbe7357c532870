//! Pictures (placeholder).
