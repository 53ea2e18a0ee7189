//! Opening a TCP connection to an upstream host: every address it resolves
//! to, in the spirit of Happy Eyeballs (RFC 8305), so that one unreachable
//! address (a broken IPv6 route, say) does not cost the whole connect
//! timeout.
//!
//! The addresses are tried in the resolver's order with the two families
//! alternating; the next attempt starts when the previous one failed or
//! [`ATTEMPT_DELAY`] after it started, and the first connection wins (the
//! others are dropped, which closes them).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::net::TcpStream;
use url::Host;

/// Time an attempt has before the next address is tried alongside it.
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Connects to `host:port`; the error is the last attempt's.
pub(super) async fn connect(host: &Host<String>, port: u16) -> io::Result<TcpStream> {
    let addrs = match host {
        Host::Domain(name) => tokio::net::lookup_host((name.as_str(), port))
            .await?
            .collect(),
        Host::Ipv4(ip) => vec![SocketAddr::from((*ip, port))],
        Host::Ipv6(ip) => vec![SocketAddr::from((*ip, port))],
    };
    race(alternate_families(addrs)).await
}

/// Tries `addrs` as the module describes.
async fn race(addrs: Vec<SocketAddr>) -> io::Result<TcpStream> {
    let mut next = addrs.into_iter();
    let mut attempts = FuturesUnordered::new();
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        "the host name resolved to no address",
    );
    loop {
        if attempts.is_empty() {
            match next.next() {
                Some(addr) => attempts.push(TcpStream::connect(addr)),
                None => return Err(last),
            }
        }
        tokio::select! {
            Some(done) = attempts.next() => match done {
                Ok(stream) => return Ok(stream),
                Err(e) => {
                    last = e;
                    if let Some(addr) = next.next() {
                        attempts.push(TcpStream::connect(addr));
                    }
                }
            },
            () = tokio::time::sleep(ATTEMPT_DELAY), if next.len() > 0 => {
                if let Some(addr) = next.next() {
                    attempts.push(TcpStream::connect(addr));
                }
            }
        }
    }
}

/// The addresses with IPv6 and IPv4 alternating, starting with the
/// family of the first; each family keeps the resolver's order.
fn alternate_families(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let first_v6 = addrs.first().is_some_and(SocketAddr::is_ipv6);
    let (mut same, mut other): (Vec<_>, Vec<_>) =
        addrs.into_iter().partition(|a| a.is_ipv6() == first_v6);
    let mut out = Vec::with_capacity(same.len() + other.len());
    same.reverse();
    other.reverse();
    while !same.is_empty() || !other.is_empty() {
        out.extend(same.pop());
        out.extend(other.pop());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    #[test]
    fn families_alternate_in_resolver_order() {
        let got = alternate_families(vec![
            addr("[::1]:1"),
            addr("[::2]:1"),
            addr("[::3]:1"),
            addr("127.0.0.1:1"),
            addr("127.0.0.2:1"),
        ]);
        let want = [
            "[::1]:1",
            "127.0.0.1:1",
            "[::2]:1",
            "127.0.0.2:1",
            "[::3]:1",
        ];
        assert_eq!(got, want.map(addr).to_vec());
        assert_eq!(alternate_families(vec![]), vec![]);
    }

    /// A loopback port with nothing listening (connecting is refused).
    fn closed_port() -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address")
    }

    #[tokio::test]
    async fn a_refused_address_falls_through_to_the_next() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let open = listener.local_addr().expect("address");
        let stream = race(vec![closed_port(), open]).await.expect("connects");
        assert_eq!(stream.peer_addr().expect("peer"), open);
    }

    /// A loopback address whose connection attempts go unanswered: a
    /// listener that never accepts, its one-connection backlog full, so
    /// the kernel drops further SYNs (as a black-holed route would).
    fn unanswered() -> (socket2::Socket, std::net::TcpStream, SocketAddr) {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        socket.bind(&addr("127.0.0.1:0").into()).expect("bind");
        socket.listen(0).expect("listen");
        let at = socket
            .local_addr()
            .expect("address")
            .as_socket()
            .expect("inet");
        let filler = std::net::TcpStream::connect(at).expect("fills the backlog");
        (socket, filler, at)
    }

    #[tokio::test]
    async fn an_unanswered_address_does_not_hold_up_the_next() {
        let (_listener, _filler, silent) = unanswered();
        let open = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let open_at = open.local_addr().expect("address");
        // Without the staggered start this waits for the kernel's SYN
        // retries (over a minute), far past the bound.
        let stream = tokio::time::timeout(Duration::from_secs(5), race(vec![silent, open_at]))
            .await
            .expect("the second address is tried while the first hangs")
            .expect("connects");
        assert_eq!(stream.peer_addr().expect("peer"), open_at);
    }

    #[tokio::test]
    async fn when_every_address_fails_the_last_error_says_why() {
        let error = race(vec![closed_port(), closed_port()])
            .await
            .expect_err("refused");
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
        let error = race(vec![]).await.expect_err("no address");
        assert!(error.to_string().contains("no address"), "{error}");
    }
}
