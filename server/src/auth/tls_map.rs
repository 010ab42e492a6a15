//! `verify_and_map`: the user a client authenticates as is named by its TLS
//! certificate, as the Go server finds it. The certificate's e-mail
//! addresses, then its DNS names, then its URIs are looked up as user
//! names; then its subject, first as a distinguished name compared with
//! every user name that parses as one (in order, then in any order of its
//! RDNs), then as Go's string of the subject with the domain components
//! added, then without them.

use crate::core::connection::TlsState;
use crate::core::kind::Transport;
use crate::options::User;
use natsd_proto::quote::go_quote;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// Go's short names of the attribute types a DN may hold; a subject with
/// any other attribute is not compared as a DN.
const DN_TYPES: [(&str, &str); 10] = [
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.17", "POSTALCODE"),
    ("0.9.2342.19200300.100.1.25", "DC"),
];

/// The attribute types Go's subject string shows, in the order it builds
/// them before reversing; the last two hold one value (the last one seen).
const SUBJECT_ORDER: [(&str, &str); 9] = [
    ("2.5.4.6", "C"),
    ("2.5.4.8", "ST"),
    ("2.5.4.7", "L"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.17", "POSTALCODE"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
];

const DC: &str = "0.9.2342.19200300.100.1.25";

/// One `type=value` of a DN.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Attr {
    kind: String,
    value: String,
}

impl Attr {
    /// Types compare without case, values exactly.
    fn same(&self, other: &Attr) -> bool {
        self.kind.eq_ignore_ascii_case(&other.kind) && self.value == other.value
    }
}

/// A distinguished name: RDNs, each of one or more attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dn {
    rdns: Vec<Vec<Attr>>,
}

fn rdn_has_all(rdn: &[Attr], attrs: &[Attr]) -> bool {
    attrs.iter().all(|a| rdn.iter().any(|m| m.same(a)))
}

fn rdn_equal(a: &[Attr], b: &[Attr]) -> bool {
    a.len() == b.len() && rdn_has_all(a, b) && rdn_has_all(b, a)
}

impl Dn {
    /// RFC 4517 distinguishedNameMatch: the same RDNs in the same order
    /// (the attributes of one RDN in any order).
    pub fn equal(&self, other: &Dn) -> bool {
        self.rdns.len() == other.rdns.len()
            && self
                .rdns
                .iter()
                .zip(&other.rdns)
                .all(|(a, b)| rdn_equal(a, b))
    }

    /// The same RDNs in any order.
    pub fn rdns_match(&self, other: &Dn) -> bool {
        self.rdns.len() == other.rdns.len()
            && self
                .rdns
                .iter()
                .all(|a| other.rdns.iter().any(|b| rdn_equal(a, b)))
    }

    /// Parses an RFC 4514 string the way the Go server does (its copy of
    /// go-ldap's parser), quirks included: a value starting with `#` is
    /// refused, a second `=` starts the value again, and a last RDN with
    /// an empty value is dropped.
    pub fn parse(s: &str) -> Result<Dn, String> {
        let b = s.as_bytes();
        let mut dn = Dn::default();
        let mut rdn: Vec<Attr> = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut kind = String::new();
        let mut escaping = false;
        let mut trailing_spaces = 0usize;
        let take = |buf: &mut Vec<u8>, trailing: &mut usize| {
            let keep = buf.len() - *trailing;
            let s = String::from_utf8_lossy(&buf[..keep]).into_owned();
            buf.clear();
            *trailing = 0;
            s
        };
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if escaping {
                trailing_spaces = 0;
                escaping = false;
                if matches!(
                    c,
                    b' ' | b'"' | b'#' | b'+' | b',' | b';' | b'<' | b'=' | b'>' | b'\\'
                ) {
                    buf.push(c);
                    i += 1;
                    continue;
                }
                if i + 1 == b.len() {
                    return Err("got corrupted escaped character".into());
                }
                let hex = std::str::from_utf8(&b[i..i + 2])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .filter(|_| b[i].is_ascii_hexdigit() && b[i + 1].is_ascii_hexdigit());
                match hex {
                    Some(byte) => buf.push(byte),
                    None => {
                        return Err(format!(
                            "failed to decode escaped character: encoding/hex: invalid byte: {}",
                            go_rune_q(if b[i].is_ascii_hexdigit() {
                                b[i + 1]
                            } else {
                                b[i]
                            })
                        ))
                    }
                }
                i += 2;
                continue;
            }
            match c {
                b'\\' => {
                    trailing_spaces = 0;
                    escaping = true;
                }
                b'=' => {
                    kind = take(&mut buf, &mut trailing_spaces);
                    if b.get(i + 1) == Some(&b'#') {
                        return Err("unsupported BER encoding".into());
                    }
                }
                b',' | b'+' => {
                    if kind.is_empty() {
                        return Err("incomplete type, value pair".into());
                    }
                    let value = take(&mut buf, &mut trailing_spaces);
                    rdn.push(Attr {
                        kind: std::mem::take(&mut kind),
                        value,
                    });
                    if c == b',' {
                        dn.rdns.push(std::mem::take(&mut rdn));
                    }
                }
                b' ' if buf.is_empty() => {}
                _ => {
                    if c == b' ' {
                        trailing_spaces += 1;
                    } else {
                        trailing_spaces = 0;
                    }
                    buf.push(c);
                }
            }
            i += 1;
        }
        if !buf.is_empty() {
            if kind.is_empty() {
                return Err("DN ended with incomplete type, value pair".into());
            }
            let value = take(&mut buf, &mut trailing_spaces);
            rdn.push(Attr { kind, value });
            dn.rdns.push(rdn);
        }
        Ok(dn)
    }
}

/// Go's `%q` of one byte as a rune.
fn go_rune_q(b: u8) -> String {
    if b.is_ascii_graphic() || b == b' ' {
        format!("U+{:04X} '{}'", b, b as char)
    } else {
        format!("U+{b:04X}")
    }
}

/// What a client certificate offers to name a user.
#[derive(Debug, Clone, Default)]
pub struct CertNames {
    emails: Vec<String>,
    dns_names: Vec<String>,
    uris: Vec<String>,
    /// The subject has at least one attribute.
    has_subject: bool,
    /// Go's string of the subject (its known attributes, Go's order).
    subject: String,
    /// The subject as a DN, in reverse order; None when it holds a type
    /// a DN does not know or a value that is not a string.
    dn: Option<Dn>,
    /// The subject's domain components, `DC=a,DC=b`, in certificate order.
    dcs: String,
}

impl CertNames {
    /// Reads a DER certificate; None when it does not parse.
    pub fn of(der: &[u8]) -> Option<CertNames> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let mut names = CertNames::default();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for g in &san.value.general_names {
                match g {
                    GeneralName::RFC822Name(e) => names.emails.push(e.to_string()),
                    GeneralName::DNSName(d) => names.dns_names.push(d.to_string()),
                    GeneralName::URI(u) => names.uris.push(u.to_string()),
                    _ => {}
                }
            }
        }
        let mut known: Vec<Vec<String>> = vec![Vec::new(); SUBJECT_ORDER.len()];
        let mut dn = Some(Dn::default());
        let mut dcs = Vec::new();
        for rdn in cert.subject().iter() {
            let mut attrs = Vec::new();
            for atv in rdn.iter() {
                names.has_subject = true;
                let oid = atv.attr_type().to_id_string();
                let value = atv.as_str().ok();
                if let Some(v) = value {
                    if let Some(i) = SUBJECT_ORDER.iter().position(|(o, _)| *o == oid) {
                        known[i].push(v.to_string());
                    }
                    if oid == DC {
                        dcs.push(format!("DC={v}"));
                    }
                }
                match (DN_TYPES.iter().find(|(o, _)| *o == oid), value) {
                    (Some((_, short)), Some(v)) => attrs.push(Attr {
                        kind: short.to_string(),
                        value: v.to_string(),
                    }),
                    _ => dn = None,
                }
            }
            if let Some(dn) = dn.as_mut() {
                if !attrs.is_empty() {
                    attrs.reverse();
                    dn.rdns.push(attrs);
                }
            }
        }
        if let Some(dn) = dn.as_mut() {
            dn.rdns.reverse();
        }
        names.dn = dn;
        names.dcs = dcs.join(",");
        // CN and SERIALNUMBER keep their last value.
        for single in &mut known[7..] {
            if single.len() > 1 {
                let last = single.pop().expect("not empty");
                *single = vec![last];
            }
        }
        names.subject = SUBJECT_ORDER
            .iter()
            .zip(known)
            .rev()
            .filter(|(_, v)| !v.is_empty())
            .map(|((_, short), v)| {
                v.iter()
                    .map(|val| format!("{short}={}", escape(val)))
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect::<Vec<_>>()
            .join(",");
        Some(names)
    }
}

/// Go's escaping of a value in a subject string.
fn escape(v: &str) -> String {
    let n = v.len();
    let mut out = String::with_capacity(n);
    for (i, c) in v.char_indices() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (c == ' ' && (i == 0 || i == n - 1))
            || (c == '#' && i == 0);
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The user a certificate maps to, among `users` that allow `transport`,
/// with Go's debug lines (prefixed by `label`). `tls` is what the
/// client's handshake agreed on, if it made one.
pub fn find_user<'a>(
    users: &'a [User],
    transport: &Transport,
    tls: Option<&TlsState>,
    label: &str,
) -> Option<&'a User> {
    let Some(tls) = tls else {
        crate::debug!("{label} - User required in cert, no TLS connection state");
        return None;
    };
    let Some(leaf) = tls.peer_leaf.as_deref() else {
        crate::debug!("{label} - User required in cert, no peer certificates found");
        return None;
    };
    if tls.peer_certs.len() > 1 {
        crate::debug!("{label} - Multiple peer certificates found, selecting first");
    }
    let Some(names) = CertNames::of(leaf) else {
        crate::debug!("{label} - User required in cert, none found");
        return None;
    };
    let allowed = |u: &User| super::allows(&u.allowed_connection_types, transport);
    let by_name = |name: &str| -> Option<&'a User> {
        users
            .iter()
            .rev()
            .find(|u| u.username == name)
            .filter(|u| allowed(u))
    };
    if names.emails.is_empty() && !names.has_subject && names.uris.is_empty() {
        crate::debug!("{label} - User required in cert, none found");
        return None;
    }
    let found = |how: &str, u: &User| {
        crate::debug!(
            "{label} - Using {how} for auth [{}]",
            go_quote(u.username.as_bytes())
        );
    };
    for (how, list) in [
        ("email found in cert", &names.emails),
        ("SAN found in cert", &names.dns_names),
        ("URI found in cert", &names.uris),
    ] {
        if let Some(u) = list.iter().find_map(|n| by_name(n)) {
            found(how, u);
            return Some(u);
        }
    }
    let subject_q = go_quote(names.subject.as_bytes());
    if let Some(cert_dn) = &names.dn {
        let candidates: Vec<(&User, Dn)> = users
            .iter()
            .filter(|u| allowed(u))
            .filter_map(|u| Dn::parse(&u.username).ok().map(|d| (u, d)))
            .collect();
        let matched = candidates
            .iter()
            .find(|(_, d)| d.equal(cert_dn))
            .or_else(|| candidates.iter().find(|(_, d)| d.rdns_match(cert_dn)));
        if let Some((u, _)) = matched {
            found("DistinguishedNameMatch", u);
            return Some(u);
        }
        crate::debug!("{label} - DistinguishedNameMatch could not be used for auth [{subject_q}]");
    }
    if !names.dcs.is_empty() {
        let with_dcs = format!("{},{}", names.subject, names.dcs);
        if let Some(u) = by_name(&with_dcs) {
            found("RDNSequence", u);
            return Some(u);
        }
        crate::debug!(
            "{label} - RDNSequence could not be used for auth [{}]",
            go_quote(with_dcs.as_bytes())
        );
    }
    if let Some(u) = by_name(&names.subject) {
        found("certificate subject", u);
        return Some(u);
    }
    crate::debug!("{label} - User in cert [{subject_q}], not found");
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_like_go() {
        let d = dn("cn=Jim\\2C \\22Hasse Hö\\22 Hansson!,dc=dummy,dc=com");
        assert_eq!(d.rdns.len(), 3);
        assert_eq!(d.rdns[0][0].value, "Jim, \"Hasse Hö\" Hansson!");
        let d = dn("  CN = a b ,  OU=x+O=y");
        assert_eq!(d.rdns[0][0].kind, "CN");
        assert_eq!(d.rdns[0][0].value, "a b");
        assert_eq!(d.rdns[1].len(), 2);
        let d = dn("CN=trailing\\ ");
        assert_eq!(d.rdns[0][0].value, "trailing ");
        assert_eq!(dn("").rdns.len(), 0);
        assert_eq!(
            dn("  CN  =  Lu\\C4\\8Di\\C4\\87  ").rdns[0][0].value,
            "Lučić"
        );
        let d = dn(r"   \ \ A\ \    =   \ \ 1\ \    +   \ \ B\ \    =   \ \ 2\ \    ");
        assert_eq!(d.rdns.len(), 1);
        assert_eq!(d.rdns[0][1].kind, "  B  ");
        assert_eq!(d.rdns[0][1].value, "  2  ");
        // An empty last value drops its RDN.
        assert_eq!(dn("CN=a,OU=").rdns.len(), 1);
    }

    #[test]
    fn parse_errors_like_go() {
        for (s, e) in [
            ("*", "DN ended with incomplete type, value pair"),
            (
                "cn=Jim\\0Test",
                "failed to decode escaped character: encoding/hex: invalid byte: U+0054 'T'",
            ),
            ("cn=Jim\\0", "got corrupted escaped character"),
            (
                "DC=example,=net",
                "DN ended with incomplete type, value pair",
            ),
            ("1=#0402486", "unsupported BER encoding"),
            ("test,DC=example,DC=com", "incomplete type, value pair"),
        ] {
            assert_eq!(Dn::parse(s).unwrap_err(), e, "{s}");
        }
    }

    #[test]
    fn equality_and_reordering() {
        let a = dn("CN=John Doe,DC=DEV+O=users,DC=OpenSSL,DC=org");
        assert!(a.equal(&dn("cn=John Doe, O=users+dc=DEV, DC=OpenSSL, DC=org")));
        assert!(!a.equal(&dn("CN=John Doe,DC=DEV,DC=OpenSSL,DC=org")));
        assert!(!a.equal(&dn("CN=john doe,DC=DEV+O=users,DC=OpenSSL,DC=org")));
        let reordered = dn("DC=org,DC=OpenSSL,O=users+DC=DEV,CN=John Doe");
        assert!(!a.equal(&reordered));
        assert!(reordered.rdns_match(&a));
        assert!(!dn("DC=org,DC=OpenSSL,O=users,CN=John Doe").rdns_match(&a));
    }

    fn pem(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../conformance/src/kit/certs/map/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path).unwrap();
        let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    }

    #[test]
    fn certificate_names() {
        let n = CertNames::of(&pem("rdn-a.pem")).unwrap();
        assert_eq!(
            n.subject,
            "CN=localhost,OU=NATS,O=NATS,L=Los Angeles,ST=CA,C=US"
        );
        assert_eq!(n.dcs, "DC=foo1,DC=foo2");
        assert!(n.dn.unwrap().equal(&dn(
            "DC=foo2,DC=foo1,CN=localhost,OU=NATS,O=NATS,L=Los Angeles,ST=CA,C=US"
        )));
        let e = CertNames::of(&pem("rdn-e.pem")).unwrap();
        assert_eq!(e.subject, "CN=jdoe,OU=Users+OU=Organic Units");
        let f = CertNames::of(&pem("rdn-f.pem")).unwrap();
        assert_eq!(f.subject, "CN=John Doe,O=users");
        assert!(f
            .dn
            .unwrap()
            .equal(&dn("CN=John Doe,DC=DEV+O=users,DC=OpenSSL,DC=org")));
        let s = CertNames::of(&pem("san-dev-email.pem")).unwrap();
        assert_eq!(s.emails, ["admin@app.nats.dev", "root@app.nats.dev"]);
        assert_eq!(s.dns_names, ["app.nats.dev"]);
        let v = CertNames::of(&pem("svid-a.pem")).unwrap();
        assert_eq!(v.uris, ["spiffe://localhost/my-nats-service/user-a"]);
        assert_eq!(v.subject, "O=SPIRE,C=US");
    }
}
