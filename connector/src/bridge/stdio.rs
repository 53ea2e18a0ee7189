//! The stdio bridge (being written).
