//! The `sallyport pki …` command line: [`PkiArgs`] and [`run`].
//!
//! The binary flattens [`PkiArgs`] under its `pki` subcommand and calls
//! [`run`]. Every command prints the paths it wrote to stdout.

use std::io::{self, Write};
use std::net::IpAddr;
use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};

use crate::error::{PkiError, Result};
use crate::identity::{TrustDomain, WorkloadName};
use crate::issue::{CLIENT_DEFAULT_DAYS, CONNECTOR_DEFAULT_DAYS, RELAY_DEFAULT_DAYS};
use crate::revoke::RevocationReason;
use crate::serial::Serial;
use crate::token::Ttl;

/// Manage the Sallyport PKI: CA, certificates, revocation, API keys, tokens.
#[derive(Debug, Args)]
pub struct PkiArgs {
    /// The PKI command to run.
    #[command(subcommand)]
    pub command: PkiCommand,
}

/// The PKI directory, shared by most commands.
#[derive(Debug, Clone, Args)]
pub struct DirArg {
    /// PKI directory (created 0700 by `init`). Holds ca.pem/ca.key,
    /// bundle.pem, crl.pem, revoked.toml, token.key/token.pub, pki.toml and
    /// every issued certificate; private keys are written mode 0600.
    #[arg(long, value_name = "DIR", default_value = "pki")]
    pub dir: PathBuf,
}

/// `sallyport pki <command>`.
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create a new PKI directory (CA, trust bundle, CRL, token key).
    ///
    /// Writes a self-signed ECDSA P-256 CA valid ~10 years (ca.pem,
    /// ca.key 0600), the trust bundle (bundle.pem), an empty CRL signed by the
    /// CA (crl.pem, revoked.toml), an Ed25519 token signing key pair
    /// (token.key 0600, token.pub) and pki.toml. Refuses to overwrite any of
    /// them without --force.
    Init(InitArgs),
    /// Issue a relay, connector or client certificate.
    ///
    /// Each gets a fresh ECDSA P-256 key (mode 0600) and a random 128-bit
    /// serial, and is signed by the current CA (DIR/ca.pem). The PEM holds the
    /// leaf only; peers trust it through DIR/bundle.pem.
    #[command(subcommand)]
    Issue(IssueCommand),
    /// Show what a certificate file holds.
    ///
    /// Subject, issuer, serial, validity, SANs, SPIFFE ID,
    /// key usages and SHA-256 fingerprint, with a warning when it expires soon.
    /// Does not check the signature; use `verify` for that.
    Inspect(InspectArgs),
    /// Check a certificate the way the relay does.
    ///
    /// Checks that it chains to a CA in DIR/bundle.pem, is within its
    /// validity window and is not revoked by DIR/crl.pem — the checks the relay
    /// makes. Exits non-zero when it is not trusted.
    Verify(VerifyArgs),
    /// Revoke a certificate and re-sign the CRL.
    ///
    /// Revokes by file or by serial: records it in DIR/revoked.toml
    /// and re-signs DIR/crl.pem. Relays reject it once they reload crl.pem.
    Revoke(RevokeArgs),
    /// Re-sign the CRLs in DIR/crl.pem.
    ///
    /// Writes a new CRL per CA (new thisUpdate, nextUpdate in 30 days, next CRL
    /// number). Run it from a timer well within 30 days.
    Crl(DirArg),
    /// Manage the certificate authority.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Generate a static API key for a remote client.
    ///
    /// The key (`sp_` + 64 hex digits from 32 random bytes) is printed once and
    /// stored nowhere; paste the printed `[[api_key]]` entry, which holds only
    /// the key's SHA-256, into relay.toml. Writes no file.
    Apikey(ApiKeyArgs),
    /// Mint a bearer token (JWT) for a remote MCP client.
    ///
    /// Signs a JWT with DIR/token.key (Ed25519, alg EdDSA) and prints it alone
    /// on stdout, e.g. `TOKEN=$(sallyport pki token ...)`. Whoever holds
    /// token.key can mint tokens for any subject and group: keep it on the
    /// security team's machine or in a vault, never on the relay. The relay
    /// needs only DIR/token.pub (`[auth] token_public_key = "pki/token.pub"`)
    /// and accepts the token when `aud` names its public_url or the exact
    /// endpoint URL, `iss` is `sallyport:<trust-domain>` (or its `[auth]
    /// token_issuer`), and the token has not expired. A token cannot be
    /// revoked one by one: keep --ttl short (default 1h, at most 90d);
    /// replacing token.key and token.pub (the relay's copy too) invalidates
    /// them all. The token is a secret: do not paste it into tickets or logs.
    Token(TokenArgs),
}

/// `pki init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    #[allow(missing_docs, reason = "documented on DirArg, which clap shows")]
    pub dir: DirArg,
    /// SPIFFE trust domain: a lowercase DNS-like name such as acme.internal.
    /// Every issued identity is `spiffe://<trust-domain>/...`
    #[arg(long, value_name = "NAME")]
    pub trust_domain: TrustDomain,
    /// Replace existing PKI files. This creates a NEW CA: certificates issued
    /// before no longer verify.
    #[arg(long)]
    pub force: bool,
}

/// `pki issue <kind>`.
#[derive(Debug, Subcommand)]
pub enum IssueCommand {
    /// Relay server certificate (relay.pem, relay.key).
    ///
    /// Writes DIR/relay.pem and DIR/relay.key (0600), EKU
    /// serverAuth, SANs from --dns/--ip plus URI `spiffe://<trust-domain>/relay`.
    Relay(IssueRelayArgs),
    /// Connector client certificate (`connector-<NAME>.pem`, `.key`).
    ///
    /// Writes `DIR/connector-<NAME>.pem` and `.key` (0600),
    /// EKU clientAuth, URI SAN `spiffe://<trust-domain>/connector/<NAME>`.
    Connector(IssueNamedArgs<CONNECTOR_DEFAULT_DAYS>),
    /// Remote-client certificate for mTLS (`client-<NAME>.pem`, `.key`).
    ///
    /// Writes `DIR/client-<NAME>.pem` and `.key`
    /// (0600), EKU clientAuth, URI SAN `spiffe://<trust-domain>/client/<NAME>`.
    Client(IssueNamedArgs<CLIENT_DEFAULT_DAYS>),
}

/// `pki issue relay`.
#[derive(Debug, Args)]
pub struct IssueRelayArgs {
    #[command(flatten)]
    #[allow(missing_docs, reason = "documented on DirArg, which clap shows")]
    pub dir: DirArg,
    /// DNS name connectors dial, e.g. relay.acme.com (repeatable).
    #[arg(long = "dns", value_name = "NAME")]
    pub dns: Vec<String>,
    /// IP address connectors dial, e.g. 127.0.0.1 (repeatable).
    #[arg(long = "ip", value_name = "ADDR")]
    pub ip: Vec<IpAddr>,
    /// Lifetime in days, 1 to 825 (not_before is back-dated 5 minutes for
    /// clock skew; the certificate may not outlive the CA).
    #[arg(long, value_name = "DAYS", default_value_t = RELAY_DEFAULT_DAYS)]
    pub days: u32,
    /// Replace an existing relay.pem / relay.key.
    #[arg(long)]
    pub force: bool,
}

/// `pki issue connector|client <NAME>`.
#[derive(Debug, Args)]
pub struct IssueNamedArgs<const DEFAULT_DAYS: u32> {
    /// Name: 1-63 chars of a-z 0-9 - _ . (starting with a-z or 0-9).
    #[arg(value_name = "NAME")]
    pub name: WorkloadName,
    #[command(flatten)]
    #[allow(missing_docs, reason = "documented on DirArg, which clap shows")]
    pub dir: DirArg,
    /// Lifetime in days, 1 to 825 (not_before is back-dated 5 minutes for
    /// clock skew; the certificate may not outlive the CA).
    #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_DAYS)]
    pub days: u32,
    /// Replace an existing certificate and key of that name.
    #[arg(long)]
    pub force: bool,
}

/// `pki inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// PEM certificate file (the first certificate in it is shown).
    #[arg(value_name = "CERT")]
    pub cert: PathBuf,
}

/// `pki verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    #[allow(missing_docs, reason = "documented on DirArg, which clap shows")]
    pub dir: DirArg,
    /// PEM certificate file to verify.
    #[arg(value_name = "CERT")]
    pub cert: PathBuf,
}

/// `pki revoke`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["cert", "serial"])))]
pub struct RevokeArgs {
    #[command(flatten)]
    #[allow(missing_docs, reason = "documented on DirArg, which clap shows")]
    pub dir: DirArg,
    /// PEM certificate file to revoke (listed in its issuing CA's CRL).
    #[arg(value_name = "CERT")]
    pub cert: Option<PathBuf>,
    /// Revoke by serial number (hex, ':' allowed) when the file is lost; the
    /// serial is listed in the CRL of every CA (serials are 128 random bits).
    #[arg(long, value_name = "HEX")]
    pub serial: Option<Serial>,
    /// RFC 5280 reason code recorded in the CRL.
    #[arg(long, value_enum, default_value_t = RevocationReason::Unspecified)]
    pub reason: RevocationReason,
}

/// `pki ca <command>`.
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Replace the issuing CA, keeping the old one trusted for an overlap.
    ///
    /// The old CA moves to
    /// `DIR/ca-<id>.pem` and `ca-<id>.key` (0600), a new ca.pem/ca.key is
    /// written, bundle.pem holds new + old so certificates from either verify,
    /// and crl.pem is re-signed by both. Distribute bundle.pem, re-issue, then
    /// `ca retire` the old CA.
    Rotate(DirArg),
    /// Stop trusting an old CA.
    ///
    /// Removes it from DIR/bundle.pem (its `ca-<id>.*` files stay on disk)
    /// and re-sign crl.pem. Certificates it issued stop verifying.
    Retire(RetireArgs),
}

/// `pki ca retire`.
#[derive(Debug, Args)]
pub struct RetireArgs {
    #[command(flatten)]
    #[allow(missing_docs, reason = "documented on DirArg, which clap shows")]
    pub dir: DirArg,
    /// CA id: the first 16 hex digits of its serial, as in `ca-<id>.pem`.
    #[arg(value_name = "ID")]
    pub id: String,
}

/// `pki apikey`.
#[derive(Debug, Args)]
pub struct ApiKeyArgs {
    /// Subject the key authenticates as (the `sub` seen by policy and audit).
    #[arg(long = "sub", value_name = "SUBJECT")]
    pub sub: String,
    /// Group the subject belongs to (repeatable, or comma-separated).
    #[arg(long = "groups", value_name = "GROUP", value_delimiter = ',')]
    pub groups: Vec<String>,
}

/// `pki token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    #[allow(missing_docs, reason = "documented on DirArg, which clap shows")]
    pub dir: DirArg,
    /// Audience: the relay's public_url (e.g. `https://relay.acme.com`) or an
    /// exact endpoint URL (`https://relay.acme.com/mcp/contracts`). Repeatable;
    /// several make `aud` an array.
    #[arg(long = "aud", value_name = "URL", required = true)]
    pub aud: Vec<String>,
    /// Subject: the user or service the token speaks for (the `sub` that
    /// policy bindings and the audit log see).
    #[arg(long = "sub", value_name = "SUBJECT")]
    pub sub: String,
    /// Group the subject belongs to, for policy bindings (repeatable, or
    /// comma-separated).
    #[arg(long = "groups", value_name = "GROUP", value_delimiter = ',')]
    pub groups: Vec<String>,
    /// The agent acting for the subject (`agent` claim), e.g. claude.
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// Lifetime: a whole number and a unit, s, m, h or d (30s, 15m, 1h, 7d);
    /// at most 90d.
    #[arg(long, value_name = "TTL", default_value = crate::token::DEFAULT_TTL)]
    pub ttl: Ttl,
    /// Issuer (`iss`); default `sallyport:<trust-domain>`. Set it only if the
    /// relay's `[auth] token_issuer` says the same.
    #[arg(long, value_name = "ISSUER")]
    pub iss: Option<String>,
}

/// Runs a `sallyport pki` command, printing what it wrote to stdout.
pub fn run(args: PkiArgs) -> Result<()> {
    let stdout = io::stdout();
    execute(args, &mut stdout.lock())
}

/// Like [`run`], printing to `out`.
pub fn execute(args: PkiArgs, out: &mut dyn Write) -> Result<()> {
    let mut text = String::new();
    let result = commands::dispatch(args.command, &mut text);
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| PkiError::Output { source })?;
    result
}

mod commands;
#[cfg(test)]
mod tests;
