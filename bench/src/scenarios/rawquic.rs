//! The raw ceiling of the bulk scenario: a bare quinn connection between
//! two in-process endpoints with the link's TLS and transport settings
//! (the relay's certificate, CA bundle and CRL, TLS 1.3, ALPN, the same
//! idle/keep-alive/stream limits as `relay/src/server.rs` and
//! `connector/src/lib.rs`). Like a relayed answer, each transfer is one
//! bidirectional stream opened by the relay side, answered with `n` bytes
//! by the connector side.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use quinn::{Connection, Endpoint, VarInt};
use tokio::task::JoinHandle;

use crate::error::{BenchError, Result};
use crate::fixture::Fixture;
use crate::load::Target;

/// The relay's idle timeout default and keep-alive (idle / 4).
const RELAY_IDLE: Duration = Duration::from_secs(10);
/// The connector's idle timeout and keep-alive defaults.
const CONNECTOR_IDLE: Duration = Duration::from_secs(8);
const CONNECTOR_KEEPALIVE: Duration = Duration::from_secs(2);

/// A connected pair of endpoints.
#[derive(Debug)]
pub struct RawQuic {
    /// The relay-side connection (opens the streams, reads the bytes).
    conn: Connection,
    server: Endpoint,
    client: Endpoint,
    responder: JoinHandle<()>,
}

fn quic_err(e: impl std::fmt::Display) -> BenchError {
    BenchError::Quic(e.to_string())
}

impl RawQuic {
    /// Connects the pair; the connector side answers every stream with
    /// `size` bytes.
    pub async fn connect(fx: &Fixture, size: usize) -> Result<Self> {
        let alpn = sallyport_protocol::ALPN;
        let server_tls = sallyport_pki::tls::quic_server_config(
            &fx.relay_cert,
            &fx.relay_key,
            &fx.bundle,
            Some(&fx.crl),
            alpn,
        )?;
        let mut server_cfg = quinn::ServerConfig::with_crypto(Arc::new(
            quinn::crypto::rustls::QuicServerConfig::try_from(server_tls).map_err(quic_err)?,
        ));
        let mut t = quinn::TransportConfig::default();
        t.max_idle_timeout(Some(RELAY_IDLE.try_into().map_err(quic_err)?))
            .keep_alive_interval(Some(RELAY_IDLE / 4))
            .max_concurrent_bidi_streams(VarInt::from_u32(4))
            .max_concurrent_uni_streams(VarInt::from_u32(0));
        server_cfg.transport_config(Arc::new(t));
        let client_tls = sallyport_pki::tls::quic_client_config(
            &fx.connector_cert,
            &fx.connector_key,
            &fx.bundle,
            alpn,
        )?;
        let mut client_cfg = quinn::ClientConfig::new(Arc::new(
            quinn::crypto::rustls::QuicClientConfig::try_from(client_tls).map_err(quic_err)?,
        ));
        let mut t = quinn::TransportConfig::default();
        t.max_idle_timeout(Some(CONNECTOR_IDLE.try_into().map_err(quic_err)?))
            .keep_alive_interval(Some(CONNECTOR_KEEPALIVE))
            .max_concurrent_bidi_streams(VarInt::from_u32(1024))
            .max_concurrent_uni_streams(VarInt::from_u32(0));
        client_cfg.transport_config(Arc::new(t));

        let local = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let server = link_endpoint(local, Some(server_cfg))
            .map_err(|e| BenchError::io("bind the raw QUIC server", e))?;
        let server_addr = server
            .local_addr()
            .map_err(|e| BenchError::io("raw QUIC address", e))?;
        let client = link_endpoint(local, None)
            .map_err(|e| BenchError::io("bind the raw QUIC client", e))?;
        let connecting = client
            .connect_with(client_cfg, server_addr, "127.0.0.1")
            .map_err(quic_err)?;
        let accept = async {
            let incoming = server
                .accept()
                .await
                .ok_or_else(|| BenchError::Quic("server endpoint closed".into()))?;
            incoming.await.map_err(quic_err)
        };
        let (client_conn, server_conn) =
            tokio::try_join!(async { connecting.await.map_err(quic_err) }, accept)?;
        let payload = Bytes::from(vec![b'x'; size]);
        let responder = tokio::spawn(respond(client_conn, payload));
        Ok(Self {
            conn: server_conn,
            server,
            client,
            responder,
        })
    }

    /// Closes both endpoints.
    pub async fn close(self) {
        self.conn.close(VarInt::from_u32(0), b"done");
        self.responder.abort();
        self.client.close(VarInt::from_u32(0), b"done");
        let _ = tokio::time::timeout(Duration::from_secs(2), self.server.wait_idle()).await;
    }
}

/// The connector side: answers each stream's 1-byte request with the
/// payload.
async fn respond(conn: Connection, payload: Bytes) {
    while let Ok((mut send, mut recv)) = conn.accept_bi().await {
        let payload = payload.clone();
        tokio::spawn(async move {
            let mut req = [0u8; 1];
            if recv.read_exact(&mut req).await.is_ok() && send.write_chunk(payload).await.is_ok() {
                let _ = send.finish();
            }
        });
    }
}

impl Target for RawQuic {
    type Session = ();

    async fn open(&self) -> Result<()> {
        Ok(())
    }

    async fn call(&self, _: &mut ()) -> Result<u64> {
        let (mut send, mut recv) = self.conn.open_bi().await.map_err(quic_err)?;
        send.write_all(b"?").await.map_err(quic_err)?;
        send.finish().map_err(quic_err)?;
        let mut total = 0u64;
        while let Some(chunk) = recv.read_chunk(usize::MAX, true).await.map_err(quic_err)? {
            total += chunk.bytes.len() as u64;
        }
        Ok(total)
    }

    async fn close(&self, (): ()) {}
}

/// An endpoint on the same kind of socket the relay and connector use
/// (enlarged buffers), so the ceiling rides the same transport.
fn link_endpoint(
    addr: SocketAddr,
    server: Option<quinn::ServerConfig>,
) -> std::io::Result<Endpoint> {
    let bound = sallyport_protocol::socket::bind_udp(addr)?;
    let runtime =
        quinn::default_runtime().ok_or_else(|| std::io::Error::other("no async runtime"))?;
    Endpoint::new(
        quinn::EndpointConfig::default(),
        server,
        bound.socket,
        runtime,
    )
}
