//! End-to-end tests live in `tests/`; they need the ground (`tests/ground/up`).
