//! The Streamable HTTP bridge (being written).
