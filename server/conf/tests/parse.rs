//! Parser-level behaviour: value types, units, maps, arrays, positions and
//! error texts.

use natsd_conf::{parse_str, ConfError, Map, Node, Value};

fn parse(input: &str) -> Map {
    parse_str(input).unwrap_or_else(|e| panic!("{input:?} failed: {e}"))
}

fn err(input: &str) -> String {
    match parse_str(input) {
        Ok(map) => panic!("{input:?} parsed into {map:?}"),
        Err(e) => e.to_string(),
    }
}

/// Strips positions so that trees can be compared by shape and value.
fn plain(node: &Node) -> Value {
    match &node.value {
        Value::Array(items) => Value::Array(items.iter().map(|n| Node::new(plain(n))).collect()),
        Value::Map(map) => Value::Map(plain_map(map)),
        other => other.clone(),
    }
}

fn plain_map(map: &Map) -> Map {
    Map(map
        .iter()
        .map(|(k, n)| (k.to_string(), Node::new(plain(n))))
        .collect())
}

fn entries(pairs: Vec<(&str, Value)>) -> Map {
    Map(pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), Node::new(v)))
        .collect())
}

fn s(text: &str) -> Value {
    Value::Str(text.to_string())
}

fn arr(items: Vec<Value>) -> Value {
    Value::Array(items.into_iter().map(Node::new).collect())
}

#[test]
fn top_level_scalars() {
    let map = parse("a='7'; b=3.25; c=on; d=17");
    assert_eq!(
        plain_map(&map),
        entries(vec![
            ("a", s("7")),
            ("b", Value::Float(3.25)),
            ("c", Value::Bool(true)),
            ("d", Value::Int(17)),
        ])
    );
}

#[test]
fn booleans_in_any_case() {
    for (word, expected) in [
        ("true", true),
        ("TRUE", true),
        ("Yes", true),
        ("on", true),
        ("false", false),
        ("No", false),
        ("OFF", false),
    ] {
        let map = parse(&format!("flag = {word}"));
        assert_eq!(
            map.get("flag").and_then(Node::as_bool),
            Some(expected),
            "{word}"
        );
    }
    // Quoted, they are strings.
    assert_eq!(
        parse("flag = 'yes'").get("flag").and_then(Node::as_str),
        Some("yes")
    );
}

#[test]
fn units() {
    let cases: &[(&str, i64)] = &[
        ("5k", 5_000),
        ("5K", 5_000),
        ("5kb", 5 * 1024),
        ("5Ki", 5 * 1024),
        ("5KiB", 5 * 1024),
        ("2m", 2_000_000),
        ("2MB", 2 << 20),
        ("2mi", 2 << 20),
        ("64MiB", 64 << 20),
        ("3g", 3_000_000_000),
        ("3GB", 3 << 30),
        ("3Gi", 3 << 30),
        ("3gib", 3 << 30),
        ("4t", 4_000_000_000_000),
        ("4TB", 4 << 40),
        ("4Ti", 4 << 40),
        ("4TiB", 4 << 40),
        ("6p", 6_000_000_000_000_000),
        ("6PB", 6 << 50),
        ("6Pi", 6 << 50),
        ("6PiB", 6 << 50),
        ("7e", 7_000_000_000_000_000_000),
        ("7EB", 7 << 60),
        ("-2k", -2_000),
        ("-1MB", -(1 << 20)),
    ];
    for (text, expected) in cases {
        let map = parse(&format!("n = {text}"));
        assert_eq!(
            map.get("n").and_then(Node::as_i64),
            Some(*expected),
            "{text}"
        );
    }
}

#[test]
fn unit_overflow_wraps_like_go() {
    let map = parse("n = 9e");
    assert_eq!(
        map.get("n").and_then(Node::as_i64),
        Some(9_i64.wrapping_mul(1_000_000_000_000_000_000))
    );
}

#[test]
fn unknown_unit_drops_the_value_and_leaves_the_key_pending() {
    // `1kbb` lexes as an integer but has no known unit: no value is stored.
    let map = parse("a = 1kbb\nb = 2");
    assert_eq!(plain_map(&map), entries(vec![("b", Value::Int(2))]));
    // Inside a map, the pending key captures the map itself.
    let map = parse("outer { inner = 1kbb }");
    assert_eq!(map.keys().collect::<Vec<_>>(), vec!["inner"]);
    assert_eq!(map.get("inner").unwrap().col, 8);
    // In an array, the element is skipped.
    let map = parse("a = [1kbb, 2 ]");
    assert_eq!(plain(map.get("a").unwrap()), arr(vec![Value::Int(2)]));
}

#[test]
fn unit_like_words_are_strings() {
    let map = parse("a = 1Ghz\nb = 3xyz\nc = 3Gyz");
    assert_eq!(
        plain_map(&map),
        entries(vec![("a", s("1Ghz")), ("b", s("3xyz")), ("c", s("3Gyz"))])
    );
}

#[test]
fn integer_errors() {
    assert_eq!(
        err("n = 99999999999999999999"),
        "integer '99999999999999999999' is out of the range"
    );
    assert_eq!(
        err("n = -99999999999999999999k"),
        "integer '-99999999999999999999k' is out of the range"
    );
    // Digits from other scripts are lexed as numbers but do not convert.
    assert_eq!(
        err("n = \u{663}\u{664}"),
        "expected integer, but got '\u{663}\u{664}'"
    );
}

#[test]
fn floats() {
    let map = parse("a = 0.5\nb = -12.75\nc = 1.0");
    assert_eq!(map.get("a").and_then(Node::as_f64), Some(0.5));
    assert_eq!(map.get("b").and_then(Node::as_f64), Some(-12.75));
    assert_eq!(map.get("c").and_then(Node::as_f64), Some(1.0));
    let huge = format!("f = 1{}.0", "0".repeat(400));
    assert_eq!(
        err(&huge),
        format!("float '1{}.0' is out of the range", "0".repeat(400))
    );
    assert_eq!(err("f = 1.\u{663}"), "expected float, but got '1.\u{663}'");
}

#[test]
fn datetimes() {
    let map = parse("\n  when = 2016-05-04T18:53:41Z\n  gmt = false\n\n");
    assert_eq!(
        map.get("when").and_then(Node::as_datetime),
        Some("2016-05-04T18:53:41Z")
    );
    assert_eq!(map.get("when").unwrap().kind_name(), "time.Time");
    assert_eq!(
        err("when = 2016-02-30T18:53:41Z"),
        "expected Zulu formatted DateTime, but got '2016-02-30T18:53:41Z'"
    );
    assert_eq!(
        err("when = 2016-05-04T25:53:41Z"),
        "expected Zulu formatted DateTime, but got '2016-05-04T25:53:41Z'"
    );
}

#[test]
fn nested_maps_and_arrays() {
    let input = "\nsrv  {\n  net {\n    ip   = '10.1.2.3'\n    port = 7000\n  }\n  peers = [ \"x.io\", \"y.io\", \"z.io\"]\n}\n";
    let map = parse(input);
    let expected = entries(vec![(
        "srv",
        Value::Map(entries(vec![
            (
                "net",
                Value::Map(entries(vec![
                    ("ip", s("10.1.2.3")),
                    ("port", Value::Int(7000)),
                ])),
            ),
            ("peers", arr(vec![s("x.io"), s("y.io"), s("z.io")])),
        ])),
    )]);
    assert_eq!(plain_map(&map), expected);
}

#[test]
fn cluster_style_block_with_comments() {
    let input = r#"
cluster {
  port: 6244

  authorization {
    user: ruser
    password: s3cret
    timeout: 2
  }

  # hash comment
  // slash comment

  routes = [
    nats-route://u:p@host.example:6245
    nats-route://u:p@host.example:6246
  ]
}
"#;
    let map = parse(input);
    let cluster = map.get("cluster").and_then(Node::as_map).unwrap();
    assert_eq!(cluster.get("port").and_then(Node::as_i64), Some(6244));
    let auth = cluster.get("authorization").and_then(Node::as_map).unwrap();
    assert_eq!(auth.get("user").and_then(Node::as_str), Some("ruser"));
    assert_eq!(auth.get("password").and_then(Node::as_str), Some("s3cret"));
    assert_eq!(auth.get("timeout").and_then(Node::as_i64), Some(2));
    let routes: Vec<_> = cluster
        .get("routes")
        .and_then(Node::as_array)
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(
        routes,
        vec![
            "nats-route://u:p@host.example:6245",
            "nats-route://u:p@host.example:6246"
        ]
    );
}

#[test]
fn single_quoted_strings_are_raw_and_may_span_lines() {
    let map = parse("m {\n  expr = '(a == \"b\")'\n  text = 'one\ntwo'\n}\n");
    let m = map.get("m").and_then(Node::as_map).unwrap();
    assert_eq!(m.get("expr").and_then(Node::as_str), Some("(a == \"b\")"));
    assert_eq!(m.get("text").and_then(Node::as_str), Some("one\ntwo"));
}

#[test]
fn double_quoted_escapes() {
    let map = parse(r#"s = "tab\tnl\ncr\rq\"bs\\hex\x41""#);
    assert_eq!(
        map.get("s").and_then(Node::as_str),
        Some("tab\tnl\ncr\rq\"bs\\hexA")
    );
    // Multi-byte UTF-8 spelled with \x escapes is reassembled.
    let map = parse(r#"s = "caf\xc3\xa9""#);
    assert_eq!(map.get("s").and_then(Node::as_str), Some("café"));
}

#[test]
fn array_of_maps() {
    let map = parse("\n  list [\n    { n: 123 }\n    { w: \"word\" }\n  ]\n");
    assert_eq!(
        plain_map(&map),
        entries(vec![(
            "list",
            arr(vec![
                Value::Map(entries(vec![("n", Value::Int(123))])),
                Value::Map(entries(vec![("w", s("word"))])),
            ])
        )])
    );
}

#[test]
fn block_strings() {
    let map = parse("text (\nline one\n  (nested)\n)\n");
    assert_eq!(
        map.get("text").and_then(Node::as_str),
        Some("\nline one\n  (nested)\n")
    );
}

#[test]
fn bare_values() {
    let map =
        parse("listen: 127.0.0.1:4222\nhttp = localhost:8222\nurl: nats://u:p@h:4222\nneg: -1");
    assert_eq!(
        map.get("listen").and_then(Node::as_str),
        Some("127.0.0.1:4222")
    );
    assert_eq!(
        map.get("http").and_then(Node::as_str),
        Some("localhost:8222")
    );
    assert_eq!(
        map.get("url").and_then(Node::as_str),
        Some("nats://u:p@h:4222")
    );
    assert_eq!(map.get("neg").and_then(Node::as_i64), Some(-1));
}

#[test]
fn json_documents() {
    let map = parse(
        r#"{"port": 4224, "debug": true, "cluster": {"routes": ["nats://a:1", "nats://b:2"]}}"#,
    );
    assert_eq!(map.get("port").and_then(Node::as_i64), Some(4224));
    assert_eq!(map.get("debug").and_then(Node::as_bool), Some(true));
    let routes = map
        .get("cluster")
        .and_then(Node::as_map)
        .and_then(|c| c.get("routes"))
        .and_then(Node::as_array)
        .unwrap();
    assert_eq!(routes.len(), 2);
}

#[test]
fn duplicate_keys_last_value_wins_first_position_kept() {
    let map = parse("a = 1\nb = 2\na = 3\n");
    assert_eq!(map.keys().collect::<Vec<_>>(), vec!["a", "b"]);
    let a = map.get("a").unwrap();
    assert_eq!((a.as_i64(), a.line, a.col), (Some(3), 3, 1));
}

#[test]
fn keys_keep_their_case() {
    let map = parse("Port = 1\nDEBUG = true");
    assert_eq!(map.keys().collect::<Vec<_>>(), vec!["Port", "DEBUG"]);
    assert!(map.get("port").is_none());
    assert_eq!(map.get_ci("port").and_then(Node::as_i64), Some(1));
    assert_eq!(map.get_ci("Debug").and_then(Node::as_bool), Some(true));
}

#[test]
fn kind_names_match_go_type_names() {
    let map = parse("a=1\nb=1.5\nc=x\nd=true\ne=[]\nf={}\n");
    let names: Vec<_> = map.iter().map(|(_, n)| n.kind_name()).collect();
    assert_eq!(
        names,
        vec![
            "int64",
            "float64",
            "string",
            "bool",
            "[]interface {}",
            "map[string]interface {}"
        ]
    );
}

#[test]
fn positions_follow_the_key() {
    let input = "port = 4222\n  m {\n    inner: x\n    list: [1, 2 ]\n  }\n";
    let map = parse(input);
    let port = map.get("port").unwrap();
    assert_eq!((port.line, port.col, port.file.as_ref()), (1, 0, None));
    let m = map.get("m").unwrap();
    assert_eq!((m.line, m.col), (2, 3));
    let inner = m.as_map().unwrap().get("inner").unwrap();
    assert_eq!((inner.line, inner.col), (3, 5));
    let list = m.as_map().unwrap().get("list").unwrap();
    assert_eq!((list.line, list.col), (4, 5));
    // Array elements carry their own positions.
    let items = list.as_array().unwrap();
    assert_eq!((items[0].line, items[0].col), (4, 12));
    assert_eq!((items[1].line, items[1].col), (4, 15));
    assert_eq!(port.location(), ":1:0");
}

#[test]
fn nested_containers_in_arrays_take_the_closing_bracket_position() {
    let map = parse("a = [ {x: 1}, [2 ] ]");
    let items = map.get("a").unwrap().as_array().unwrap();
    assert_eq!((items[0].line, items[0].col), (1, 12));
    assert_eq!((items[1].line, items[1].col), (1, 18));
}

#[test]
fn lexer_errors_report_the_line() {
    assert_eq!(
        err("a = 1\nb = [1,,2]\n"),
        "Parse error on line 2: 'Unexpected array value terminator ','.'"
    );
    assert_eq!(
        err("a = 1.5k"),
        "Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 'k' instead.'"
    );
    assert_eq!(
        err("a=12-3"),
        "Parse error on line 1: 'All ISO8601 dates must be in full Zulu form.'"
    );
    assert_eq!(
        err("a = [1, 2"),
        "Parse error on line 1: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '\0' instead.'"
    );
    assert_eq!(
        err("\nlisten = 4222\n\ncluster = {\n\n  foo = bar\n\n"),
        "Parse error on line 8: 'Unexpected EOF processing map.'"
    );
}

#[test]
fn syntax_error_carries_line_and_column() {
    match parse_str("a = 1\nb = \\q\n") {
        Err(ConfError::Syntax { at, .. }) => {
            assert_eq!((at.line, at.col, at.file), (2, 7, None));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn quirks_kept_from_the_reference() {
    // An unterminated quote right at the end of input is accepted and
    // produces nothing.
    assert!(parse("a = \"").is_empty());
    assert!(parse("a = \"abc\\t").is_empty());
    // A map key with no value takes the map as its value.
    let map = parse("a { b }");
    assert_eq!(map.keys().collect::<Vec<_>>(), vec!["b"]);
    // A '/' that does not start a comment is dropped from a map key.
    let map = parse("x { /abc = 1 }");
    let x = map.get("x").and_then(Node::as_map).unwrap();
    assert_eq!(x.get("abc").and_then(Node::as_i64), Some(1));
    // A closing bracket directly after an integer becomes part of a string.
    assert!(err("a = [1]\n").starts_with("Parse error on line 2:"));
    // Text after a block's closing line is kept.
    let map = parse("b (\nx\n)");
    assert_eq!(map.get("b").and_then(Node::as_str), Some("\nx\n)"));
}

#[test]
fn parser_terminates_on_garbage() {
    for input in ["A@@Føøøø?˛ø:{øøøø˙˙", "include \"9/\u{FFFD}"] {
        assert!(err(input).contains("Unexpected EOF"), "{input:?}");
    }
}
