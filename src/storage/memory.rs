//! In-memory storage (placeholder).
