//! Test certificates for scenarios that configure TLS. They were made once
//! with openssl (EC P-256 keys, valid for 100 years from 2026): a CA, a
//! server certificate for `localhost` and 127.0.0.1 signed by it, its key
//! in PKCS #8 and in SEC 1 form, another EC key with a self-signed
//! certificate for `localhost` only (no IP address), an Ed25519 key
//! (which matches no certificate), and a second CA (`noip-ca.pem`) with a
//! server certificate it signed for `localhost` only, not a CA itself.

use super::Ctx;
use anyhow::Result;

/// File name and contents of each certificate and key.
pub const FILES: &[(&str, &str)] = &[
    ("ca.pem", include_str!("certs/ca.pem")),
    ("server-cert.pem", include_str!("certs/server-cert.pem")),
    ("server-key.pem", include_str!("certs/server-key.pem")),
    (
        "server-key-sec1.pem",
        include_str!("certs/server-key-sec1.pem"),
    ),
    ("other-key.pem", include_str!("certs/other-key.pem")),
    ("other-cert.pem", include_str!("certs/other-cert.pem")),
    ("ed25519-key.pem", include_str!("certs/ed25519-key.pem")),
    ("noip-ca.pem", include_str!("certs/noip-ca.pem")),
    ("noip-cert.pem", include_str!("certs/noip-cert.pem")),
    ("noip-key.pem", include_str!("certs/noip-key.pem")),
];

/// Writes every file into the scenario's folder, which is the working
/// folder of the binaries it runs: a config names them by file name.
pub fn write_all(ctx: &Ctx) -> Result<()> {
    for (name, contents) in FILES {
        ctx.write_file(name, contents)?;
    }
    Ok(())
}

/// The certificates of the `verify_and_map` scenarios (`certs/map/`, made
/// by its `make.sh`): a CA of their own (`mapca.pem`, its key beside it)
/// that signs client certificates sharing one key (`client-key.pem`), each
/// with the subject, e-mail, DNS and URI names a Go test maps to a user.
pub const MAP_FILES: &[(&str, &str)] = &[
    ("mapca.pem", include_str!("certs/map/mapca.pem")),
    ("mapca-key.pem", include_str!("certs/map/mapca-key.pem")),
    ("client-key.pem", include_str!("certs/map/client-key.pem")),
    ("id.pem", include_str!("certs/map/id.pem")),
    ("cn-nats.pem", include_str!("certs/map/cn-nats.pem")),
    ("cn-core.pem", include_str!("certs/map/cn-core.pem")),
    ("san-none.pem", include_str!("certs/map/san-none.pem")),
    ("san-dev.pem", include_str!("certs/map/san-dev.pem")),
    ("san-prod.pem", include_str!("certs/map/san-prod.pem")),
    (
        "san-dev-email.pem",
        include_str!("certs/map/san-dev-email.pem"),
    ),
    ("rdn-a.pem", include_str!("certs/map/rdn-a.pem")),
    ("rdn-b.pem", include_str!("certs/map/rdn-b.pem")),
    ("rdn-c.pem", include_str!("certs/map/rdn-c.pem")),
    ("rdn-d.pem", include_str!("certs/map/rdn-d.pem")),
    ("rdn-e.pem", include_str!("certs/map/rdn-e.pem")),
    ("rdn-f.pem", include_str!("certs/map/rdn-f.pem")),
    ("svid-a.pem", include_str!("certs/map/svid-a.pem")),
    ("svid-b.pem", include_str!("certs/map/svid-b.pem")),
];
