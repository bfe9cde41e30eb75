//! Trace assembly (placeholder).
