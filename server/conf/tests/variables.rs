//! `$variable` references: scoping, environment, bcrypt hashes, usage marks.

use natsd_conf::{parse_str, ConfError, Node};

/// Each test uses its own variable names, since tests run in parallel and
/// share the process environment.
fn set_env(name: &str, value: &str) {
    std::env::set_var(name, value);
}

#[test]
fn simple_reference() {
    let map = parse_str("\n  index = 22\n  foo = $index\n").unwrap();
    assert_eq!(map.get("foo").and_then(Node::as_i64), Some(22));
    assert!(map.get("index").unwrap().used_variable);
    assert!(!map.get("foo").unwrap().used_variable);
}

#[test]
fn innermost_scope_wins() {
    let input =
        "\n  level = 1\n  nest {\n    level = 2\n    here = $level\n  }\n  there = $level\n";
    let map = parse_str(input).unwrap();
    let nest = map.get("nest").and_then(Node::as_map).unwrap();
    assert_eq!(nest.get("here").and_then(Node::as_i64), Some(2));
    assert_eq!(map.get("there").and_then(Node::as_i64), Some(1));
}

#[test]
fn outer_scope_is_visible_inside_maps_and_arrays() {
    let map = parse_str("pw = secret\nusers = [ { user: a, password: $pw } ]").unwrap();
    let user = &map.get("users").and_then(Node::as_array).unwrap()[0];
    assert_eq!(
        user.as_map()
            .and_then(|m| m.get("password"))
            .and_then(Node::as_str),
        Some("secret")
    );
    assert!(map.get("pw").unwrap().used_variable);
}

#[test]
fn maps_and_arrays_can_be_referenced() {
    let map = parse_str("tpl { a = 1 }\nlist = [x, y]\ncopy = $tpl\nl2 = $list").unwrap();
    assert_eq!(
        map.get("copy").unwrap().as_map(),
        map.get("tpl").unwrap().as_map()
    );
    assert_eq!(
        map.get("l2").unwrap().as_array().map(<[Node]>::len),
        Some(2)
    );
}

#[test]
fn references_are_case_sensitive() {
    let err = parse_str("Name = x\ny = $name").unwrap_err();
    assert_eq!(
        err.to_string(),
        "variable reference for 'name' on line 2 can not be found"
    );
}

#[test]
fn undefined_variable() {
    let err = parse_str("foo=$__NATSD_CONF_SURELY_UNSET__").unwrap_err();
    assert_eq!(
        err.to_string(),
        "variable reference for '__NATSD_CONF_SURELY_UNSET__' on line 1 can not be found"
    );
    match err {
        ConfError::UndefinedVariable { name, at } => {
            assert_eq!(name, "__NATSD_CONF_SURELY_UNSET__");
            assert_eq!((at.line, at.col), (1, 5));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        parse_str("a = 1\nb=$").unwrap_err().to_string(),
        "variable reference for '' on line 2 can not be found"
    );
}

#[test]
fn variables_later_in_the_file_are_not_visible() {
    let err = parse_str("a = $b\nb = 1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "variable reference for 'b' on line 1 can not be found"
    );
}

#[test]
fn environment_integer() {
    set_env("NATSD_CONF_T_INT", "22");
    let map = parse_str("foo = $NATSD_CONF_T_INT").unwrap();
    assert_eq!(map.get("foo").and_then(Node::as_i64), Some(22));
}

#[test]
fn environment_string() {
    set_env("NATSD_CONF_T_STR", "xyz");
    let map = parse_str("foo = $NATSD_CONF_T_STR").unwrap();
    assert_eq!(map.get("foo").and_then(Node::as_str), Some("xyz"));
}

#[test]
fn environment_values_are_parsed_as_config_values() {
    set_env("NATSD_CONF_T_UNIT", "3Gyz");
    set_env("NATSD_CONF_T_QUOTED", "'3xyz'");
    set_env("NATSD_CONF_T_SIZE", "2MB");
    set_env("NATSD_CONF_T_MAP", "{ a: 1, b: [x] }");
    let map = parse_str(
        "a = $NATSD_CONF_T_UNIT\nb = $NATSD_CONF_T_QUOTED\nc = $NATSD_CONF_T_SIZE\nd = $NATSD_CONF_T_MAP",
    )
    .unwrap();
    assert_eq!(map.get("a").and_then(Node::as_str), Some("3Gyz"));
    assert_eq!(map.get("b").and_then(Node::as_str), Some("3xyz"));
    assert_eq!(map.get("c").and_then(Node::as_i64), Some(2 << 20));
    let d = map.get("d").unwrap();
    // The value takes the position of its key; its inner parts have none.
    assert_eq!((d.line, d.col), (4, 1));
    let inner = d.as_map().unwrap().get("a").unwrap();
    assert_eq!((inner.as_i64(), inner.line), (Some(1), 0));
}

#[test]
fn environment_value_that_does_not_parse() {
    set_env("NATSD_CONF_T_BAD", "hello world");
    let err = parse_str("x = 1\nfoo = $NATSD_CONF_T_BAD").unwrap_err();
    assert_eq!(
        err.to_string(),
        "variable reference for 'NATSD_CONF_T_BAD' on line 2 could not be parsed: \
         Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 'w' instead.'"
    );
}

#[test]
fn environment_self_reference_is_an_error_not_a_crash() {
    set_env("NATSD_CONF_T_LOOP", "$NATSD_CONF_T_LOOP");
    let err = parse_str("foo = $NATSD_CONF_T_LOOP").unwrap_err();
    assert!(matches!(err, ConfError::VariableTooDeep { .. }), "{err:?}");
}

#[test]
fn config_keys_shadow_the_environment() {
    set_env("NATSD_CONF_T_SHADOW", "from-env");
    let map = parse_str("NATSD_CONF_T_SHADOW = mine\nv = $NATSD_CONF_T_SHADOW").unwrap();
    assert_eq!(map.get("v").and_then(Node::as_str), Some("mine"));
}

#[test]
fn quoted_strings_are_not_expanded() {
    let map = parse_str("a = 1\nb = \"$a\"\nc = '$a'").unwrap();
    assert_eq!(map.get("b").and_then(Node::as_str), Some("$a"));
    assert_eq!(map.get("c").and_then(Node::as_str), Some("$a"));
    assert!(!map.get("a").unwrap().used_variable);
}

#[test]
fn bcrypt_hashes_are_not_variables() {
    let map = parse_str("password: $2a$11$ooo").unwrap();
    assert_eq!(
        map.get("password").and_then(Node::as_str),
        Some("$2a$11$ooo")
    );
}

#[test]
fn variable_value_position_is_the_key_or_the_element() {
    let map = parse_str("v = 5\nm {\n  k = $v\n}\nl = [ $v ]").unwrap();
    let k = map
        .get("m")
        .and_then(Node::as_map)
        .unwrap()
        .get("k")
        .unwrap();
    assert_eq!((k.line, k.col), (3, 3));
    let el = &map.get("l").and_then(Node::as_array).unwrap()[0];
    assert_eq!((el.line, el.col, el.as_i64()), (5, 8, Some(5)));
}
