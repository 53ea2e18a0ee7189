//! The relay's QUIC endpoint: its socket, its TLS and transport settings,
//! and the keys that let a restarted relay reset its predecessor's links.

use std::sync::Arc;

use quinn::VarInt;
use tracing::warn;

use crate::config::QuicConfig;
use crate::error::RelayError;

/// Binds the QUIC listener on a socket with enlarged buffers.
pub(crate) fn bind_endpoint(q: &QuicConfig) -> Result<quinn::Endpoint, RelayError> {
    let bind_error = |source| RelayError::Bind {
        what: "QUIC",
        addr: q.listen,
        source,
    };
    let bound = sallyport_protocol::socket::bind_udp(q.listen).map_err(bind_error)?;
    if let Some(warning) = bound.warning() {
        warn!(listen = %q.listen, "{warning}");
    }
    let runtime = quinn::default_runtime()
        .ok_or_else(|| bind_error(std::io::Error::other("no async runtime for QUIC")))?;
    quinn::Endpoint::new(
        endpoint_config(q)?,
        Some(server_config(q)?),
        bound.socket,
        runtime,
    )
    .map_err(bind_error)
}

/// The QUIC listener on an abstract socket (an in-memory network in tests),
/// with the TLS and transport settings of [`bind_endpoint`].
#[cfg(feature = "test-support")]
pub(crate) fn endpoint_on(
    q: &QuicConfig,
    socket: Arc<dyn quinn::AsyncUdpSocket>,
) -> Result<quinn::Endpoint, RelayError> {
    let bind_error = |source| RelayError::Bind {
        what: "QUIC",
        addr: q.listen,
        source,
    };
    let runtime = quinn::default_runtime()
        .ok_or_else(|| bind_error(std::io::Error::other("no async runtime for QUIC")))?;
    quinn::Endpoint::new_with_abstract_socket(
        endpoint_config(q)?,
        Some(server_config(q)?),
        socket,
        runtime,
    )
    .map_err(bind_error)
}

/// The endpoint's stateless-reset key is derived from the relay's private
/// key file, so a restarted relay can reset its predecessor's connections:
/// connectors notice at once instead of after their idle timeout.
fn endpoint_config(q: &QuicConfig) -> Result<quinn::EndpointConfig, RelayError> {
    let secret = std::fs::read(&q.key).map_err(|source| RelayError::ReadKey {
        path: q.key.clone(),
        source,
    })?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"sallyport-stateless-reset-v1\0");
    ctx.update(&secret);
    let material = ctx.finish();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, material.as_ref());
    let mut config = quinn::EndpointConfig::new(Arc::new(key));
    // Connection ids are validated with a keyed hash; the key must survive
    // a restart too, or the new process drops the old ids unanswered.
    let mut cid_key = [0u8; 8];
    cid_key.copy_from_slice(&material.as_ref()[..8]);
    let cid_key = u64::from_le_bytes(cid_key);
    config.cid_generator(move || {
        Box::new(quinn_proto::HashedConnectionIdGenerator::from_key(cid_key))
    });
    Ok(config)
}

/// TLS (client certificates required) and transport settings of the link.
pub(crate) fn server_config(q: &QuicConfig) -> Result<quinn::ServerConfig, RelayError> {
    let tls = sallyport_pki::tls::quic_server_config(
        &q.cert,
        &q.key,
        &q.trust_bundle,
        q.crl.as_deref(),
        sallyport_protocol::ALPN,
    )?;
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| RelayError::tls("QUIC cipher suites", e))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(q.idle_timeout)
        .map_err(|e| RelayError::tls("idle timeout", e))?;
    transport.max_idle_timeout(Some(idle));
    transport.keep_alive_interval(Some(q.idle_timeout / 4));
    // Connectors open only the control stream; data streams are the relay's.
    transport.max_concurrent_bidi_streams(VarInt::from_u32(4));
    transport.max_concurrent_uni_streams(VarInt::from_u32(0));
    server.transport_config(Arc::new(transport));
    Ok(server)
}

/// The trust domain of the relay's own certificate, e.g. `acme.internal`.
pub(crate) fn trust_domain_of(cert: &std::path::Path) -> Option<String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let der = CertificateDer::from_pem_file(cert).ok()?;
    let id = sallyport_pki::tls::spiffe_id_of(&der).ok()?;
    Some(id.trust_domain().to_string())
}
