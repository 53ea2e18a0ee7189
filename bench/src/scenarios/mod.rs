//! The six scenarios of issue #4, one module each, and their shared parts.

pub mod bed;
pub mod bulk;
pub mod compare;
pub mod connectors;
pub mod hold;
pub mod overhead;
pub mod rawquic;
pub mod reconnect;
pub mod relayproc;
pub mod stdio;
pub mod streams;
