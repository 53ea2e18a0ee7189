//! The UDP socket a link runs on.
//!
//! Linux gives a UDP socket about 208 KiB of receive buffer by default. A
//! QUIC endpoint whose task is busy for a moment (two cores, TLS, HTTP on
//! the same machine) then drops datagrams of a bulk transfer, and every
//! drop costs a loss-recovery round and a halved congestion window: the
//! benchmark counted ~14,000 `RcvbufErrors` in one bulk run. Both ends
//! therefore ask for [`BUFFER_BYTES`]; the kernel caps the request at
//! `net.core.rmem_max` / `wmem_max`, and [`Bound`] reports what it granted.

use std::io;
use std::net::{SocketAddr, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

/// Receive and send buffer requested for a link socket.
pub const BUFFER_BYTES: usize = 8 * 1024 * 1024;

/// Below this granted receive buffer, bulk transfers are likely to drop
/// datagrams; callers should warn and name the sysctl.
pub const LOW_BUFFER_BYTES: usize = 1024 * 1024;

/// A bound socket and the buffer sizes the kernel granted.
#[derive(Debug)]
pub struct Bound {
    /// The socket, ready for `quinn::Endpoint::new`.
    pub socket: UdpSocket,
    /// Granted receive buffer (as the kernel reports it).
    pub recv_buffer: usize,
    /// Granted send buffer.
    pub send_buffer: usize,
}

impl Bound {
    /// What to log when the receive buffer is below [`LOW_BUFFER_BYTES`].
    pub fn warning(&self) -> Option<String> {
        (self.recv_buffer < LOW_BUFFER_BYTES).then(|| {
            format!(
                "UDP receive buffer is {} bytes (asked for {BUFFER_BYTES}): bulk transfers may \
                 drop datagrams; raise net.core.rmem_max",
                self.recv_buffer
            )
        })
    }
}

/// Binds a UDP socket on `addr` (IPv6 sockets accept only IPv6) and asks
/// for [`BUFFER_BYTES`] of receive and send buffer. Failing to enlarge a
/// buffer is not an error: the granted size is in the result.
pub fn bind_udp(addr: SocketAddr) -> io::Result<Bound> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    let _ = socket.set_recv_buffer_size(BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(BUFFER_BYTES);
    socket.bind(&addr.into())?;
    let recv_buffer = socket.recv_buffer_size()?;
    let send_buffer = socket.send_buffer_size()?;
    Ok(Bound {
        socket: socket.into(),
        recv_buffer,
        send_buffer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn sysctl(name: &str) -> Option<usize> {
        std::fs::read_to_string(format!("/proc/sys/net/core/{name}"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    #[test]
    fn asks_for_larger_buffers_up_to_the_kernel_cap() {
        let bound = bind_udp(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).expect("bind");
        let local = bound.socket.local_addr().expect("local addr");
        assert!(local.ip().is_loopback());
        assert_ne!(local.port(), 0);
        // Linux grants min(request, cap), doubled for bookkeeping; without
        // the request the socket would keep net.core.rmem_default.
        if let Some(cap) = sysctl("rmem_max") {
            assert!(
                bound.recv_buffer >= BUFFER_BYTES.min(cap),
                "granted {} with rmem_max {cap}",
                bound.recv_buffer
            );
        }
        if let Some(cap) = sysctl("wmem_max") {
            assert!(bound.send_buffer >= BUFFER_BYTES.min(cap));
        }
    }

    #[test]
    fn a_small_buffer_is_reported() {
        let bound = bind_udp(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).expect("bind");
        let small = Bound {
            recv_buffer: 212_992,
            ..bound
        };
        let warning = small.warning().expect("a warning");
        assert!(warning.contains("212992") && warning.contains("net.core.rmem_max"));
        let big = Bound {
            recv_buffer: LOW_BUFFER_BYTES,
            ..small
        };
        assert_eq!(big.warning(), None);
    }

    #[test]
    fn a_taken_port_is_an_error() {
        let first = bind_udp(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).expect("bind");
        let addr = first.socket.local_addr().expect("addr");
        assert!(bind_udp(addr).is_err());
    }
}
