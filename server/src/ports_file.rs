//! Go's ports file, `<ports_file_dir>/<exe>_<pid>.ports`: a JSON object
//! listing the URLs of the server's listeners, written once they are bound
//! and removed at shutdown.

use crate::error;
use crate::net::join_host_port;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// The bound listeners worth advertising.
#[derive(Debug, Clone, Copy)]
pub struct Listeners {
    pub nats: SocketAddr,
    pub monitoring: Option<SocketAddr>,
    /// The monitoring port serves HTTPS.
    pub monitoring_tls: bool,
    pub profile: Option<SocketAddr>,
}

/// Go's `Ports`; the field order is the JSON order.
#[derive(serde::Serialize, Debug, PartialEq)]
struct Ports {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    nats: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    monitoring: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    profile: Vec<String>,
}

pub fn path(dir: &str) -> PathBuf {
    let exe = std::env::args().next().unwrap_or_default();
    let exe = exe.rsplit('/').next().unwrap_or_default();
    Path::new(dir).join(format!("{exe}_{}.ports", std::process::id()))
}

pub fn write(dir: &str, l: &Listeners) {
    let ports = Ports {
        nats: urls("nats", Some(l.nats)),
        monitoring: urls(
            if l.monitoring_tls { "https" } else { "http" },
            l.monitoring,
        ),
        profile: urls("http", l.profile),
    };
    let path = path(dir);
    let body = serde_json::to_string(&ports).unwrap_or_default();
    if let Err(e) = std::fs::write(&path, body) {
        error!(
            "Error writing ports file ({}): open {}: {}",
            path.display(),
            path.display(),
            crate::logging::os_error_text(&e)
        );
    }
}

pub fn remove(dir: &str) {
    let path = path(dir);
    if let Err(e) = std::fs::remove_file(&path) {
        error!(
            "Error cleaning up ports file {}: remove {}: {}",
            path.display(),
            path.display(),
            crate::logging::os_error_text(&e)
        );
    }
}

/// `scheme://host:port` for a listener; a wildcard listener is listed once
/// per address of the machine's interfaces, as Go does.
fn urls(scheme: &str, addr: Option<SocketAddr>) -> Vec<String> {
    let Some(addr) = addr else {
        return Vec::new();
    };
    let ips = if addr.ip().is_unspecified() {
        interface_ips()
    } else {
        vec![addr.ip().to_canonical()]
    };
    ips.iter()
        .map(|ip| {
            format!(
                "{scheme}://{}",
                join_host_port(&ip.to_string(), i64::from(addr.port()))
            )
        })
        .collect()
}

/// The machine's addresses grouped by interface (in index order), IPv4
/// before IPv6 within an interface: the order Go lists them in.
fn interface_ips() -> Vec<IpAddr> {
    let mut found: Vec<(u32, u8, IpAddr)> = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills head with a list we free below; every
    // pointer is checked for null and only read while the list is alive.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return Vec::new();
        }
        let mut cur = head;
        while !cur.is_null() {
            let ifa = &*cur;
            cur = ifa.ifa_next;
            if ifa.ifa_addr.is_null() {
                continue;
            }
            let index = libc::if_nametoindex(ifa.ifa_name);
            match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sa = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    let ip = std::net::Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr));
                    found.push((index, 4, IpAddr::V4(ip)));
                }
                libc::AF_INET6 => {
                    let sa = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    let ip = std::net::Ipv6Addr::from(sa.sin6_addr.s6_addr);
                    found.push((index, 6, IpAddr::V6(ip)));
                }
                _ => {}
            }
        }
        libc::freeifaddrs(head);
    }
    found.sort_by_key(|(index, family, _)| (*index, *family));
    found.into_iter().map(|(_, _, ip)| ip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_for_bound_addresses() {
        let a: SocketAddr = "127.0.0.1:4222".parse().unwrap();
        assert_eq!(urls("nats", Some(a)), vec!["nats://127.0.0.1:4222"]);
        let v6: SocketAddr = "[::1]:8222".parse().unwrap();
        assert_eq!(urls("http", Some(v6)), vec!["http://[::1]:8222"]);
        assert!(urls("http", None).is_empty());
    }

    #[test]
    fn wildcard_lists_loopback() {
        let any: SocketAddr = "[::]:4222".parse().unwrap();
        assert!(urls("nats", Some(any)).contains(&"nats://127.0.0.1:4222".to_string()));
    }

    #[test]
    fn json_leaves_out_missing_listeners() {
        let p = Ports {
            nats: vec!["nats://127.0.0.1:1".into()],
            monitoring: Vec::new(),
            profile: vec!["http://127.0.0.1:2".into()],
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"nats":["nats://127.0.0.1:1"],"profile":["http://127.0.0.1:2"]}"#
        );
    }
}
