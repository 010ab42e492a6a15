//! Imports and exports between accounts, as configured: what each
//! account's `exports` and `imports` blocks say ([`parse`]), and what Go
//! makes of them once every account is known ([`resolve`]): which imports
//! are authorized, the subjects and transforms they use, and the errors
//! (missing accounts, cycles, duplicates) Go reports at start-up, at `-t`
//! and at reload. The runtime side is `core::imports`.

pub mod parse;
pub mod resolve;

use natsd_proto::mapping::Transform;
use std::time::Duration;

/// Go's default response threshold of a service export.
pub const DEFAULT_RESPONSE_THRESHOLD: Duration = Duration::from_secs(120);

/// A stream or a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Stream,
    Service,
}

impl LinkKind {
    pub fn noun(self) -> &'static str {
        match self {
            LinkKind::Stream => "stream",
            LinkKind::Service => "service",
        }
    }
}

/// How many responses a service request may get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseType {
    #[default]
    Singleton,
    Streamed,
    Chunked,
}

impl ResponseType {
    /// Go's name (`/accountz`, `$SYS.REQ.ACCOUNT.*.INFO`).
    pub fn go_name(self) -> &'static str {
        match self {
            ResponseType::Singleton => "Singleton",
            ResponseType::Streamed => "Streamed",
            ResponseType::Chunked => "Chunked",
        }
    }
}

/// Which requests of a service export have their latency measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// This percentage (1 to 100) of requests.
    Percent(u8),
    /// Requests whose headers ask for a trace (`sampling: headers`).
    Headers,
}

/// A service export's latency tracking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyConfig {
    pub sampling: Sampling,
    /// Where the latency advisories are published, in the exporting
    /// account.
    pub subject: String,
}

/// One export item as written.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportConfig {
    pub kind: LinkKind,
    pub subject: String,
    /// The accounts it is exported to; empty: every account.
    pub accounts: Vec<String>,
    /// `account_token_position`: the subject token that must be the
    /// importing account's name (0: none).
    pub token_position: u32,
    pub response: ResponseType,
    pub threshold: Option<Duration>,
    pub latency: Option<LatencyConfig>,
}

/// One import item as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportConfig {
    pub kind: LinkKind,
    /// The exporting account.
    pub account: String,
    /// The exporter's subject.
    pub subject: String,
    pub to: String,
    pub prefix: String,
    pub share: bool,
}

/// An export as Go keeps it once every item is applied: items of one
/// subject merge into one.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub kind: LinkKind,
    pub subject: String,
    /// None: public. Otherwise the accounts approved by name.
    pub approved: Option<Vec<String>>,
    pub token_position: u32,
    pub response: ResponseType,
    pub threshold: Duration,
    pub latency: Option<LatencyConfig>,
}

/// A stream import Go accepted: messages published on `from` in
/// `account` are delivered to this account's subscribers of `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamImport {
    pub account: String,
    pub from: String,
    pub to: String,
    /// From `from` to `to` when `from` has wildcards and `to` differs.
    pub transform: Option<Transform>,
    /// Deliver on the published subject itself (`to` equals `from`).
    pub use_pub: bool,
}

/// A service import Go accepted: requests published on `from` in this
/// account go to `to` in `account`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceImport {
    pub account: String,
    pub from: String,
    pub to: String,
    /// From `from` to `to` when they have wildcards and differ.
    pub transform: Option<Transform>,
    pub use_pub: bool,
    /// Share the requestor's details with the exporter (`share: true`).
    pub share: bool,
}
