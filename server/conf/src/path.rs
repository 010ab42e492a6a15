//! Lexical path handling with the semantics of Go's `path/filepath`
//! (`Dir`, `Join`, `Clean`) on Unix, so that include paths and the file
//! names attached to values read exactly as nats-server prints them.
//! In particular, joining an absolute include path onto a directory does not
//! discard the directory, unlike `Path::join`.

use std::path::{Path, PathBuf};

/// The directory part of `path`, cleaned; `.` when there is none.
pub(crate) fn dir(path: &Path) -> PathBuf {
    let bytes = to_bytes(path);
    let cut = bytes.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    from_bytes(clean(&bytes[..cut]))
}

/// `dir` and `name` joined with a separator, then cleaned.
pub(crate) fn join(dir: &Path, name: &[u8]) -> PathBuf {
    let mut joined = to_bytes(dir);
    if joined.is_empty() {
        if name.is_empty() {
            return PathBuf::new();
        }
    } else {
        joined.push(b'/');
    }
    joined.extend_from_slice(name);
    from_bytes(clean(&joined))
}

/// Shortest equivalent path by purely lexical processing.
pub(crate) fn clean(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    let rooted = path[0] == b'/';
    let mut out: Vec<u8> = Vec::with_capacity(path.len());
    // Length of `out` that `..` may not remove.
    let mut floor = 0;
    if rooted {
        out.push(b'/');
        floor = 1;
    }
    for element in path.split(|&b| b == b'/') {
        match element {
            b"" | b"." => {}
            b".." => {
                if out.len() > floor {
                    let keep = out[floor..]
                        .iter()
                        .rposition(|&b| b == b'/')
                        .map_or(floor, |i| floor + i);
                    out.truncate(keep);
                } else if !rooted {
                    if !out.is_empty() {
                        out.push(b'/');
                    }
                    out.extend_from_slice(b"..");
                    floor = out.len();
                }
            }
            name => {
                if out.len() > usize::from(rooted) {
                    out.push(b'/');
                }
                out.extend_from_slice(name);
            }
        }
    }
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

#[cfg(unix)]
fn to_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn to_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().into_owned().into_bytes()
}

#[cfg(unix)]
pub(crate) fn from_bytes(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

#[cfg(not(unix))]
pub(crate) fn from_bytes(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> String {
        String::from_utf8(clean(s.as_bytes())).unwrap()
    }

    #[test]
    fn clean_matches_go() {
        assert_eq!(c(""), ".");
        assert_eq!(c("a/b/../c"), "a/c");
        assert_eq!(c("./a.conf"), "a.conf");
        assert_eq!(c("/../a"), "/a");
        assert_eq!(c("../../a"), "../../a");
        assert_eq!(c("a/../.."), "..");
        assert_eq!(c("//a//b/"), "/a/b");
        assert_eq!(c("a/b/.."), "a");
        assert_eq!(c("abc/def/../../.."), "..");
        assert_eq!(c("/"), "/");
    }

    #[test]
    fn dir_and_join_match_go() {
        assert_eq!(dir(Path::new("a.conf")), PathBuf::from("."));
        assert_eq!(dir(Path::new("")), PathBuf::from("."));
        assert_eq!(
            dir(Path::new("/etc/nats/a.conf")),
            PathBuf::from("/etc/nats")
        );
        assert_eq!(dir(Path::new("/a.conf")), PathBuf::from("/"));
        assert_eq!(join(Path::new("."), b"b.conf"), PathBuf::from("b.conf"));
        assert_eq!(
            join(Path::new("conf"), b"./inc/x.conf"),
            PathBuf::from("conf/inc/x.conf")
        );
        assert_eq!(
            join(Path::new("conf"), b"/abs/x.conf"),
            PathBuf::from("conf/abs/x.conf")
        );
        assert_eq!(join(Path::new("."), b""), PathBuf::from("."));
    }
}
