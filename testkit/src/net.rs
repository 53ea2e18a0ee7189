//! An in-memory UDP network: sockets that implement
//! [`quinn::AsyncUdpSocket`], so the real quinn and rustls stacks run
//! between endpoints of one process without the kernel.
//!
//! Datagrams are delivered in order and never lost, unless a socket is
//! [`Network::cut`] off: then what it sends and what is sent to it is
//! dropped, as on a broken path.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use tokio::sync::mpsc;

/// A set of sockets that can reach each other by address.
#[derive(Debug, Clone, Default)]
pub struct Network {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    sockets: HashMap<SocketAddr, mpsc::UnboundedSender<Datagram>>,
    cut: HashSet<SocketAddr>,
}

#[derive(Debug)]
struct Datagram {
    from: SocketAddr,
    contents: Bytes,
}

impl Network {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section is one map operation: a panic cannot
        // leave the maps inconsistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A socket bound to `addr`; it replaces any socket bound there before.
    pub fn bind(&self, addr: SocketAddr) -> Arc<MemSocket> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().sockets.insert(addr, tx);
        Arc::new(MemSocket {
            addr,
            network: self.clone(),
            rx: Mutex::new(rx),
        })
    }

    /// Drops every datagram from or to `addr` from now on.
    pub fn cut(&self, addr: SocketAddr) {
        self.lock().cut.insert(addr);
    }

    fn deliver(&self, from: SocketAddr, to: SocketAddr, contents: Bytes) {
        let inner = self.lock();
        if inner.cut.contains(&from) || inner.cut.contains(&to) {
            return;
        }
        if let Some(tx) = inner.sockets.get(&to) {
            // A closed receiver is a socket that is gone: UDP drops.
            let _ = tx.send(Datagram { from, contents });
        }
    }
}

/// One socket of a [`Network`].
pub struct MemSocket {
    addr: SocketAddr,
    network: Network,
    rx: Mutex<mpsc::UnboundedReceiver<Datagram>>,
}

impl fmt::Debug for MemSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemSocket")
            .field("addr", &self.addr)
            .finish()
    }
}

/// Always writable: the network never pushes back.
#[derive(Debug)]
struct Writable;

impl UdpPoller for Writable {
    fn poll_writable(self: Pin<&mut Self>, _cx: &mut Context) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncUdpSocket for MemSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(Writable)
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        // One datagram per `segment_size` bytes (GSO), or the whole buffer.
        let size = transmit
            .segment_size
            .unwrap_or(transmit.contents.len())
            .max(1);
        for segment in transmit.contents.chunks(size) {
            self.network.deliver(
                self.addr,
                transmit.destination,
                Bytes::copy_from_slice(segment),
            );
        }
        Ok(())
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let mut rx = self.rx.lock().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        while n < bufs.len().min(meta.len()) {
            let datagram = if n == 0 {
                match rx.poll_recv(cx) {
                    Poll::Ready(Some(d)) => d,
                    // The network keeps a sender while the socket is bound.
                    Poll::Ready(None) | Poll::Pending => return Poll::Pending,
                }
            } else {
                match rx.try_recv() {
                    Ok(d) => d,
                    Err(_) => break,
                }
            };
            let len = datagram.contents.len().min(bufs[n].len());
            bufs[n][..len].copy_from_slice(&datagram.contents[..len]);
            meta[n] = RecvMeta {
                addr: datagram.from,
                len,
                stride: len,
                ecn: None,
                dst_ip: Some(self.addr.ip()),
            };
            n += 1;
        }
        Poll::Ready(Ok(n))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }

    fn may_fragment(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::net::IpAddr;

    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    fn transmit<'a>(to: SocketAddr, contents: &'a [u8], segment: Option<usize>) -> Transmit<'a> {
        Transmit {
            destination: to,
            ecn: None,
            contents,
            segment_size: segment,
            src_ip: None,
        }
    }

    /// Receives up to `n` datagrams that are already queued.
    async fn recv(socket: &MemSocket, n: usize) -> Vec<(SocketAddr, Vec<u8>, Option<IpAddr>)> {
        let mut storage = vec![[0u8; 64]; n];
        let mut meta = vec![RecvMeta::default(); n];
        let mut bufs: Vec<IoSliceMut<'_>> =
            storage.iter_mut().map(|b| IoSliceMut::new(b)).collect();
        let got = poll_fn(|cx| socket.poll_recv(cx, &mut bufs, &mut meta))
            .await
            .expect("recv");
        (0..got)
            .map(|i| {
                (
                    meta[i].addr,
                    bufs[i][..meta[i].len].to_vec(),
                    meta[i].dst_ip,
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn datagrams_arrive_in_order_split_at_their_segment_size() {
        let net = Network::new();
        let (a, b) = (net.bind(addr("10.0.0.1:1")), net.bind(addr("10.0.0.2:2")));
        a.try_send(&transmit(addr("10.0.0.2:2"), b"abcdef", Some(4)))
            .expect("send");
        a.try_send(&transmit(addr("10.0.0.2:2"), b"g", None))
            .expect("send");
        let got = recv(&b, 8).await;
        let from = addr("10.0.0.1:1");
        let to = Some(addr("10.0.0.2:2").ip());
        assert_eq!(
            got,
            [
                (from, b"abcd".to_vec(), to),
                (from, b"ef".to_vec(), to),
                (from, b"g".to_vec(), to)
            ]
        );
    }

    #[tokio::test]
    async fn a_cut_socket_neither_sends_nor_receives() {
        let net = Network::new();
        let (a, b) = (net.bind(addr("10.0.0.1:1")), net.bind(addr("10.0.0.2:2")));
        let c = net.bind(addr("10.0.0.3:3"));
        net.cut(addr("10.0.0.2:2"));
        a.try_send(&transmit(addr("10.0.0.2:2"), b"to b", None))
            .expect("send");
        b.try_send(&transmit(addr("10.0.0.3:3"), b"from b", None))
            .expect("send");
        // Nowhere to go is dropped too, as UDP does.
        a.try_send(&transmit(addr("10.0.0.9:9"), b"nobody", None))
            .expect("send");
        a.try_send(&transmit(addr("10.0.0.3:3"), b"to c", None))
            .expect("send");
        // Only the last one arrived: c's first datagram is a's.
        let got = recv(&c, 4).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, b"to c");
    }
}
