//! `include` and file handling.

use std::fs;
use std::path::{Path, PathBuf};

use natsd_conf::{parse_file, ConfError, Node};

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("natsd-conf-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn include_is_relative_to_the_including_file() {
    let dir = scratch("relative");
    write(
        &dir,
        "sub/users.conf",
        "alice_pw = \"$2a$10$abc\"\nbob_pw = 'b'\n",
    );
    let main = write(
        &dir,
        "main.conf",
        "listen: 127.0.0.1:4222\nauthorization {\n  include ./sub/users.conf\n  users = [\n    {user: alice, password: $alice_pw}\n    {user: bob, password: $bob_pw}\n  ]\n  timeout: 0.5\n}\n",
    );
    let map = parse_file(&main).unwrap();
    assert_eq!(
        map.get("listen").and_then(Node::as_str),
        Some("127.0.0.1:4222")
    );
    let auth = map.get("authorization").and_then(Node::as_map).unwrap();
    assert_eq!(
        auth.keys().collect::<Vec<_>>(),
        vec!["alice_pw", "bob_pw", "users", "timeout"]
    );
    let users = auth.get("users").and_then(Node::as_array).unwrap();
    let pw = |i: usize| {
        users[i]
            .as_map()
            .and_then(|m| m.get("password"))
            .and_then(Node::as_str)
            .unwrap()
            .to_string()
    };
    assert_eq!(pw(0), "$2a$10$abc");
    assert_eq!(pw(1), "b");
    // Included values keep their own file and position; referenced ones are
    // marked as used.
    let alice = auth.get("alice_pw").unwrap();
    assert_eq!(
        alice.file.as_deref(),
        Some(dir.join("sub/users.conf").as_path())
    );
    assert_eq!((alice.line, alice.col), (1, 0));
    assert!(alice.used_variable);
    let bob = auth.get("bob_pw").unwrap();
    assert_eq!((bob.line, bob.col), (2, 1));
    // Values of the main file carry its path as given.
    let listen = map.get("listen").unwrap();
    assert_eq!(listen.file.as_deref(), Some(main.as_path()));
    assert_eq!(listen.location(), format!("{}:1:0", main.display()));
}

#[test]
fn included_keys_merge_into_the_current_map() {
    let dir = scratch("merge");
    write(&dir, "part.conf", "b = 2\na = 20\n");
    let main = write(&dir, "main.conf", "a = 1\ninclude part.conf\nc = $b\n");
    let map = parse_file(&main).unwrap();
    assert_eq!(map.keys().collect::<Vec<_>>(), vec!["a", "b", "c"]);
    assert_eq!(map.get("a").and_then(Node::as_i64), Some(20));
    assert_eq!(map.get("c").and_then(Node::as_i64), Some(2));
}

#[test]
fn included_file_does_not_see_the_includers_variables() {
    let dir = scratch("scope");
    write(&dir, "part.conf", "x = $outer\n");
    let main = write(&dir, "main.conf", "outer = 1\ninclude 'part.conf'\n");
    let err = parse_file(&main).unwrap_err();
    assert_eq!(
        err.to_string(),
        "error parsing include file 'part.conf', variable reference for 'outer' on line 1 can not be found"
    );
}

#[test]
fn nested_includes_resolve_from_each_file() {
    let dir = scratch("nested");
    write(&dir, "a/b/leaf.conf", "leaf = yes\n");
    write(&dir, "a/mid.conf", "include \"b/leaf.conf\"\nmid = 1\n");
    let main = write(&dir, "main.conf", "include a/mid.conf\n");
    let map = parse_file(&main).unwrap();
    assert_eq!(map.get("leaf").and_then(Node::as_bool), Some(true));
    assert_eq!(
        map.get("leaf").unwrap().file.as_deref(),
        Some(dir.join("a/b/leaf.conf").as_path())
    );
}

#[test]
fn missing_include() {
    let dir = scratch("missing");
    let main = write(&dir, "main.conf", "include \"nope.conf\"\n");
    let err = parse_file(&main).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "error parsing include file 'nope.conf', open {}: no such file or directory",
            dir.join("nope.conf").display()
        )
    );
}

#[test]
fn errors_in_included_files_are_wrapped() {
    let dir = scratch("wrapped");
    write(&dir, "inner.conf", "ok = 1\nbad = [1,,2]\n");
    write(&dir, "outer.conf", "include inner.conf\n");
    let main = write(&dir, "main.conf", "include outer.conf\n");
    let err = parse_file(&main).unwrap_err();
    assert_eq!(
        err.to_string(),
        "error parsing include file 'outer.conf', error parsing include file 'inner.conf', \
         Parse error on line 2: 'Unexpected array value terminator ','.'"
    );
}

#[test]
fn absolute_include_paths_are_joined_like_go() {
    let dir = scratch("absolute");
    write(&dir, "etc/x.conf", "x = 1\n");
    let main = write(&dir, "main.conf", "include /etc/x.conf\n");
    let map = parse_file(&main).unwrap();
    assert_eq!(map.get("x").and_then(Node::as_i64), Some(1));
}

#[test]
fn self_include_is_an_error_not_a_crash() {
    let dir = scratch("self");
    let main = write(&dir, "main.conf", "a = 1\ninclude main.conf\n");
    let err = parse_file(&main).unwrap_err();
    assert!(matches!(err, ConfError::IncludeTooDeep { .. }), "{err:?}");
}

#[test]
fn unreadable_files() {
    let dir = scratch("io");
    let missing = dir.join("absent.conf");
    assert_eq!(
        parse_file(&missing).unwrap_err().to_string(),
        format!("open {}: no such file or directory", missing.display())
    );
    assert_eq!(
        parse_file(&dir).unwrap_err().to_string(),
        format!("read {}: is a directory", dir.display())
    );
}

#[test]
fn files_need_not_be_utf8() {
    let dir = scratch("bytes");
    let path = dir.join("latin1.conf");
    fs::write(&path, b"name = caf\xe9\nport = 1\n").unwrap();
    let map = parse_file(&path).unwrap();
    assert_eq!(map.get("name").and_then(Node::as_str), Some("caf\u{FFFD}"));
    assert_eq!(map.get("port").and_then(Node::as_i64), Some(1));
}
