//! Token-level tests: kinds, values, lines and columns, including the
//! reference's quirks (0-based columns on line 1, 1-based afterwards).

use super::*;

use Kind::*;

/// Lexes `input` and compares the tokens with `expected` until EOF or an
/// error. For EOF only the kind is compared: its position is meaningless.
fn check(input: &str, expected: &[(Kind, &str, usize, isize)]) {
    let mut lexer = Lexer::new(input.as_bytes());
    for (i, want) in expected.iter().enumerate() {
        let item = lexer.next_item();
        let got = (
            item.kind,
            std::string::String::from_utf8_lossy(&item.val).into_owned(),
            item.line,
            item.pos,
        );
        let want = (want.0, want.1.to_string(), want.2, want.3);
        if want.0 == Eof {
            assert_eq!(got.0, Eof, "token {i} of {input:?}");
            return;
        }
        assert_eq!(got, want, "token {i} of {input:?}");
        if matches!(item.kind, Eof | Error) {
            return;
        }
    }
}

fn check_raw(input: &[u8], expected: &[(Kind, &[u8])]) {
    let mut lexer = Lexer::new(input);
    for want in expected {
        let item = lexer.next_item();
        assert_eq!((item.kind, item.val.as_slice()), (want.0, want.1));
    }
}

#[test]
fn bare_key_alone() {
    check("port", &[(Key, "port", 1, 0), (Eof, "", 1, 0)]);
}

#[test]
fn quoted_string_values() {
    check(
        "name = \"srv\"",
        &[(Key, "name", 1, 0), (String, "srv", 1, 8)],
    );
    check(
        "name = 'srv'",
        &[(Key, "name", 1, 0), (String, "srv", 1, 8)],
    );
    check("name='srv'", &[(Key, "name", 1, 0), (String, "srv", 1, 6)]);
    check(
        "name='srv'\r\n",
        &[(Key, "name", 1, 0), (String, "srv", 1, 6), (Eof, "", 2, 0)],
    );
    check(
        "name=\t'srv'\t",
        &[(Key, "name", 1, 0), (String, "srv", 1, 7)],
    );
}

#[test]
fn single_quotes_are_raw() {
    check(
        "k = 'a\\r\\n  \\t'",
        &[(Key, "k", 1, 0), (String, "a\\r\\n  \\t", 1, 5)],
    );
}

#[test]
fn bare_strings_starting_with_digits() {
    for input in ["val = 7abc", "val = 7abc,", "val = 7abc;"] {
        check(input, &[(Key, "val", 1, 0), (String, "7abc", 1, 6)]);
    }
    check(
        "\n    val = 7abc\n    ",
        &[(Key, "val", 2, 5), (String, "7abc", 2, 11)],
    );
    check(
        "\n  m {\n    val = 7abc}\n",
        &[
            (Key, "m", 2, 3),
            (MapStart, "", 2, 6),
            (Key, "val", 3, 5),
            (String, "7abc", 3, 11),
            (MapEnd, "", 3, 16),
        ],
    );
    check(
        "\n  m {\n    a = 1ab,\n    b = 2cd\n  }\n",
        &[
            (Key, "m", 2, 3),
            (MapStart, "", 2, 6),
            (Key, "a", 3, 5),
            (String, "1ab", 3, 9),
            (Key, "b", 4, 5),
            (String, "2cd", 4, 9),
            (MapEnd, "", 5, 4),
        ],
    );
}

#[test]
fn hex_escapes() {
    check("k = \\x41", &[(Key, "k", 1, 0), (String, "A", 1, 7)]);
    check_raw(b"k = \\xe9", &[(Key, b"k"), (String, b"\xe9")]);
    check("k = \\x41\\x42", &[(Key, "k", 1, 0), (String, "AB", 1, 10)]);
    check(
        "k = go\\x41\\x42",
        &[(Key, "k", 1, 0), (String, "goAB", 1, 10)],
    );
    check("k = a\\x7Cb", &[(Key, "k", 1, 0), (String, "a|b", 1, 7)]);
    check(
        "k = \\x3c\\x3edone",
        &[(Key, "k", 1, 0), (String, "<>done", 1, 10)],
    );
    check(
        "k = \\x3cmid\\x3E",
        &[(Key, "k", 1, 0), (String, "<mid>", 1, 10)],
    );
}

#[test]
fn bad_hex_escapes() {
    let eol = "Expected two hexadecimal digits after '\\x', but hit end of line";
    check("k = ab\\x\n", &[(Key, "k", 1, 0), (Error, eol, 2, 1)]);
    check("k = ab\\x4\n", &[(Key, "k", 1, 0), (Error, eol, 2, 1)]);
    check(
        "k = \"(\\x)\"",
        &[
            (Key, "k", 1, 0),
            (
                Error,
                "Expected two hexadecimal digits after '\\x', but got ')\"'",
                1,
                10,
            ),
        ],
    );
    check(
        "k = \"(\\xa)\"",
        &[
            (Key, "k", 1, 0),
            (
                Error,
                "Expected two hexadecimal digits after '\\x', but got 'a)'",
                1,
                10,
            ),
        ],
    );
}

#[test]
fn escapes_in_bare_strings() {
    check(
        "\na  = \\t\nb  = \\r\nc  = \\n\nd  = \\\"\ne  = \\\\\n",
        &[
            (Key, "a", 2, 1),
            (String, "\t", 2, 7),
            (Key, "b", 3, 1),
            (String, "\r", 3, 7),
            (Key, "c", 4, 1),
            (String, "\n", 4, 7),
            (Key, "d", 5, 1),
            (String, "\"", 5, 7),
            (Key, "e", 6, 1),
            (String, "\\", 6, 7),
        ],
    );
    check(
        "k = \"\\\\tail\"",
        &[(Key, "k", 1, 0), (String, "\\tail", 1, 6)],
    );
    check(
        "k = \"head\\\\\"",
        &[(Key, "k", 1, 0), (String, "head\\", 1, 6)],
    );
    // An escape keeps a bare word from becoming a boolean or a variable.
    check("k = \\\\yes", &[(Key, "k", 1, 0), (String, "\\yes", 1, 5)]);
    check("k = \\\\$v", &[(Key, "k", 1, 0), (String, "\\$v", 1, 5)]);
}

#[test]
fn invalid_escape() {
    check(
        "k = \\q",
        &[
            (Key, "k", 1, 0),
            (
                Error,
                "Invalid escape character 'q'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.",
                1,
                6,
            ),
        ],
    );
    // Unicode escapes are not part of the format.
    check(
        "k = \"\\u00e9\"",
        &[(Key, "k", 1, 0), (Error, "Invalid escape character 'u'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.", 1, 7)],
    );
}

#[test]
fn integers() {
    check("n = 42", &[(Key, "n", 1, 0), (Integer, "42", 1, 4)]);
    check("n=42", &[(Key, "n", 1, 0), (Integer, "42", 1, 2)]);
    check("n=42\r\n", &[(Key, "n", 1, 0), (Integer, "42", 1, 2)]);
    check("n = -42", &[(Key, "n", 1, 0), (Integer, "-42", 1, 4)]);
    check("n=-42\r\n", &[(Key, "n", 1, 0), (Integer, "-42", 1, 2)]);
}

#[test]
fn integers_with_units() {
    for unit in [
        "k", "K", "m", "M", "g", "G", "MB", "Gb", "KiB", "ti", "e", "P",
    ] {
        let text = format!("2{unit}");
        check(
            &format!("n = {text}"),
            &[(Key, "n", 1, 0), (Integer, &text, 1, 4)],
        );
    }
    check("n = -3m", &[(Key, "n", 1, 0), (Integer, "-3m", 1, 4)]);
    check("n = -3GB ", &[(Key, "n", 1, 0), (Integer, "-3GB", 1, 4)]);
    // Anything else after the unit makes it a string.
    check("n = 2Ghz", &[(Key, "n", 1, 0), (String, "2Ghz", 1, 4)]);
    check("n = 2Pie", &[(Key, "n", 1, 0), (String, "2Pie", 1, 4)]);
    check("n = 3Mbs,", &[(Key, "n", 1, 0), (String, "3Mbs", 1, 4)]);
    check(
        "n = 4Gb, s = 5Gø",
        &[
            (Key, "n", 1, 0),
            (Integer, "4Gb", 1, 4),
            (Key, "s", 1, 9),
            (String, "5Gø", 1, 13),
        ],
    );
    // Repeated b/i letters are still lexed as an integer.
    check("n = 1kbib", &[(Key, "n", 1, 0), (Integer, "1kbib", 1, 4)]);
}

#[test]
fn floats() {
    check("f = 2.5", &[(Key, "f", 1, 0), (Float, "2.5", 1, 4)]);
    check("f=2.5\r\n", &[(Key, "f", 1, 0), (Float, "2.5", 1, 2)]);
    check("f = -0.5", &[(Key, "f", 1, 0), (Float, "-0.5", 1, 4)]);
    check(
        "f = .5",
        &[
            (Key, "f", 1, 0),
            (Error, "Floats must start with a digit", 1, 5),
        ],
    );
    check(
        "f = -.5",
        &[
            (Key, "f", 1, 0),
            (Error, "Floats must start with a digit, not '.'.", 1, 6),
        ],
    );
    check(
        "f = 1.x",
        &[
            (Key, "f", 1, 0),
            (
                Error,
                "Floats must have a digit after the '.', but got 'x' instead.",
                1,
                7,
            ),
        ],
    );
}

#[test]
fn key_separator_first_is_an_error() {
    check(" =x = 1", &[(Error, "Unexpected key separator '='", 1, 1)]);
}

#[test]
fn booleans() {
    check("b = yes", &[(Key, "b", 1, 0), (Bool, "yes", 1, 4)]);
    check("b=OFF", &[(Key, "b", 1, 0), (Bool, "OFF", 1, 2)]);
    check("b=true\r\n", &[(Key, "b", 1, 0), (Bool, "true", 1, 2)]);
    check("b = \"true\"", &[(Key, "b", 1, 0), (String, "true", 1, 5)]);
    check("b = truth", &[(Key, "b", 1, 0), (String, "truth", 1, 4)]);
}

#[test]
fn comments() {
    check(
        "# a note",
        &[
            (CommentStart, "", 1, 1),
            (Text, " a note", 1, 1),
            (Eof, "", 1, 0),
        ],
    );
    check(
        "# a note\r\n",
        &[(CommentStart, "", 1, 1), (Text, " a note", 1, 1)],
    );
    check(
        "// a note\r\n",
        &[(CommentStart, "", 1, 2), (Text, " a note", 1, 2)],
    );
    check(
        "n = 7 // note",
        &[
            (Key, "n", 1, 0),
            (Integer, "7", 1, 4),
            (CommentStart, "", 1, 8),
            (Text, " note", 1, 8),
        ],
    );
    check(
        "n=7    # note",
        &[
            (Key, "n", 1, 0),
            (Integer, "7", 1, 2),
            (CommentStart, "", 1, 8),
            (Text, " note", 1, 8),
        ],
    );
}

#[test]
fn bare_strings() {
    check("s = word", &[(Key, "s", 1, 0), (String, "word", 1, 4)]);
    // A single quote ends a bare string.
    check("s = word' ", &[(Key, "s", 1, 0), (String, "word", 1, 4)]);
}

#[test]
fn datetimes() {
    check(
        "d = 2021-11-30T07:08:09Z",
        &[(Key, "d", 1, 0), (Datetime, "2021-11-30T07:08:09Z", 1, 4)],
    );
    check(
        "d = 21-11",
        &[
            (Key, "d", 1, 0),
            (Error, "All ISO8601 dates must be in full Zulu form.", 1, 7),
        ],
    );
    check(
        "d = 2021-11-30 07:08:09Z",
        &[
            (Key, "d", 1, 0),
            (
                Error,
                "Expected 'T' in ISO8601 datetime, but found ' ' instead.",
                1,
                15,
            ),
        ],
    );
    check(
        "d = 2021-1x",
        &[
            (Key, "d", 1, 0),
            (
                Error,
                "Expected digit in ISO8601 datetime, but found 'x' instead.",
                1,
                11,
            ),
        ],
    );
}

#[test]
fn variables() {
    check("v = $name", &[(Key, "v", 1, 0), (Variable, "name", 1, 5)]);
    check("v =$name", &[(Key, "v", 1, 0), (Variable, "name", 1, 4)]);
    check("v $name", &[(Key, "v", 1, 0), (Variable, "name", 1, 3)]);
    check(
        "v = \"$name\"",
        &[(Key, "v", 1, 0), (String, "$name", 1, 5)],
    );
}

#[test]
fn arrays() {
    check(
        "a = [1, 2, 3, 'x']",
        &[
            (Key, "a", 1, 0),
            (ArrayStart, "", 1, 5),
            (Integer, "1", 1, 5),
            (Integer, "2", 1, 8),
            (Integer, "3", 1, 11),
            (String, "x", 1, 15),
            (ArrayEnd, "", 1, 18),
        ],
    );
    check(
        "a = [1,2,3,'x']",
        &[
            (Key, "a", 1, 0),
            (ArrayStart, "", 1, 5),
            (Integer, "1", 1, 5),
            (Integer, "2", 1, 7),
            (Integer, "3", 1, 9),
            (String, "x", 1, 12),
            (ArrayEnd, "", 1, 15),
        ],
    );
    check(
        "\n# top\nlist = [\n 1, # one\n 2, // two\n 3 # three\n 'x'     ,\n \"y\"\n]\n",
        &[
            (CommentStart, "", 2, 2),
            (Text, " top", 2, 2),
            (Key, "list", 3, 1),
            (ArrayStart, "", 3, 9),
            (Integer, "1", 4, 2),
            (CommentStart, "", 4, 6),
            (Text, " one", 4, 6),
            (Integer, "2", 5, 2),
            (CommentStart, "", 5, 7),
            (Text, " two", 5, 7),
            (Integer, "3", 6, 2),
            (CommentStart, "", 6, 5),
            (Text, " three", 6, 5),
            (String, "x", 7, 3),
            (String, "y", 8, 3),
            (ArrayEnd, "", 9, 2),
            (Eof, "", 9, 0),
        ],
    );
    check(
        "list = [\n 1 // c\n 2\n 'x'\n]\n",
        &[
            (Key, "list", 1, 0),
            (ArrayStart, "", 1, 8),
            (Integer, "1", 2, 2),
            (CommentStart, "", 2, 6),
            (Text, " c", 2, 6),
            (Integer, "2", 3, 2),
            (String, "x", 4, 3),
            (ArrayEnd, "", 5, 2),
        ],
    );
    check(
        "hosts = [a.io:4222, b.io:4333]",
        &[
            (Key, "hosts", 1, 0),
            (ArrayStart, "", 1, 9),
            (String, "a.io:4222", 1, 9),
            (String, "b.io:4333", 1, 20),
            (ArrayEnd, "", 1, 30),
        ],
    );
}

#[test]
fn array_errors() {
    check(
        "a = [1,,2]",
        &[
            (Key, "a", 1, 0),
            (ArrayStart, "", 1, 5),
            (Integer, "1", 1, 5),
            (Error, "Unexpected array value terminator ','.", 1, 8),
        ],
    );
    check(
        "a = [1 2]",
        &[
            (Key, "a", 1, 0),
            (ArrayStart, "", 1, 5),
            (Integer, "1", 1, 5),
            (
                Error,
                "Expected an array value terminator \",\" or an array terminator \"]\", but got '2' instead.",
                1,
                8,
            ),
        ],
    );
}

#[test]
fn integer_before_closing_bracket_becomes_a_string() {
    // `]` does not end an integer, so the number runs on as a bare string.
    check(
        "a = [1]\n",
        &[
            (Key, "a", 1, 0),
            (ArrayStart, "", 1, 5),
            (String, "1]", 1, 5),
        ],
    );
}

#[test]
fn maps() {
    check(
        "m = {ip='10.0.0.1', port = 4242}",
        &[
            (Key, "m", 1, 0),
            (MapStart, "", 1, 5),
            (Key, "ip", 1, 5),
            (String, "10.0.0.1", 1, 9),
            (Key, "port", 1, 20),
            (Integer, "4242", 1, 27),
            (MapEnd, "", 1, 32),
        ],
    );
    check(
        "\nm = {\n  ip = '10.0.0.1' # addr\n  port= 4242 // port\n}\n",
        &[
            (Key, "m", 2, 1),
            (MapStart, "", 2, 6),
            (Key, "ip", 3, 3),
            (String, "10.0.0.1", 3, 9),
            (CommentStart, "", 3, 20),
            (Text, " addr", 3, 20),
            (Key, "port", 4, 3),
            (Integer, "4242", 4, 9),
            (CommentStart, "", 4, 16),
            (Text, " port", 4, 16),
            (MapEnd, "", 5, 2),
            (Eof, "", 5, 0),
        ],
    );
    check(
        "\nouter = {\n  inner = {\n    ip = '10.0.0.1'\n    port= 1\n  }\n}\n",
        &[
            (Key, "outer", 2, 1),
            (MapStart, "", 2, 10),
            (Key, "inner", 3, 3),
            (MapStart, "", 3, 12),
            (Key, "ip", 4, 5),
            (String, "10.0.0.1", 4, 11),
            (Key, "port", 5, 5),
            (Integer, "1", 5, 11),
            (MapEnd, "", 6, 4),
            (MapEnd, "", 7, 2),
            (Eof, "", 7, 0),
        ],
    );
    check(
        "\nouter  {\n  inner  {\n    port= 1\n  }\n}\n",
        &[
            (Key, "outer", 2, 1),
            (MapStart, "", 2, 9),
            (Key, "inner", 3, 3),
            (MapStart, "", 3, 11),
            (Key, "port", 4, 5),
            (Integer, "1", 4, 11),
            (MapEnd, "", 5, 4),
            (MapEnd, "", 6, 2),
        ],
    );
    check(
        "\nsys {\n  one {\n    text: \"hello there.\"\n  }\n}\n",
        &[
            (Key, "sys", 2, 1),
            (MapStart, "", 2, 6),
            (Key, "one", 3, 3),
            (MapStart, "", 3, 8),
            (Key, "text", 4, 5),
            (String, "hello there.", 4, 12),
            (MapEnd, "", 5, 4),
            (MapEnd, "", 6, 2),
            (Eof, "", 7, 0),
        ],
    );
}

#[test]
fn quoted_keys() {
    check("k : 1", &[(Key, "k", 1, 0), (Integer, "1", 1, 4)]);
    check("'k' : 1", &[(Key, "k", 1, 1), (Integer, "1", 1, 6)]);
    check("\"k\" : 1", &[(Key, "k", 1, 1), (Integer, "1", 1, 6)]);
    check("' k' : 1", &[(Key, " k", 1, 1), (Integer, "1", 1, 7)]);
    check("\" k\" : 1", &[(Key, " k", 1, 1), (Integer, "1", 1, 7)]);
    check(
        "m = {'k' = 5}",
        &[
            (Key, "m", 1, 0),
            (MapStart, "", 1, 5),
            (Key, "k", 1, 6),
            (Integer, "5", 1, 11),
            (MapEnd, "", 1, 13),
        ],
    );
    check(
        "m = {\"a-1.2\" = { p:5 }}",
        &[
            (Key, "m", 1, 0),
            (MapStart, "", 1, 5),
            (Key, "a-1.2", 1, 6),
            (MapStart, "", 1, 16),
            (Key, "p", 1, 17),
            (Integer, "5", 1, 19),
            (MapEnd, "", 1, 22),
            (MapEnd, "", 1, 23),
        ],
    );
}

#[test]
fn key_separators() {
    check("k:1", &[(Key, "k", 1, 0), (Integer, "1", 1, 2)]);
    check("k: 1", &[(Key, "k", 1, 0), (Integer, "1", 1, 3)]);
    check("k:  1\r\n", &[(Key, "k", 1, 0), (Integer, "1", 1, 4)]);
    check("k 1", &[(Key, "k", 1, 0), (Integer, "1", 1, 2)]);
    check("k\t1", &[(Key, "k", 1, 0), (Integer, "1", 1, 2)]);
    check("k\t\t1\r\n", &[(Key, "k", 1, 0), (Integer, "1", 1, 3)]);
}

#[test]
fn semicolons() {
    check(
        "\na = 1;\nb = 'x';\nc = 'y'\nm {\n id = 2;\n}\n",
        &[
            (Key, "a", 2, 1),
            (Integer, "1", 2, 5),
            (Key, "b", 3, 1),
            (String, "x", 3, 6),
            (Key, "c", 4, 1),
            (String, "y", 4, 6),
            (Key, "m", 5, 1),
            (MapStart, "", 5, 4),
            (Key, "id", 6, 2),
            (Integer, "2", 6, 7),
            (MapEnd, "", 7, 2),
            (Eof, "", 8, 0),
        ],
    );
    check(
        "a='1'; b=2.5; c=on;",
        &[
            (Key, "a", 1, 0),
            (String, "1", 1, 3),
            (Key, "b", 1, 7),
            (Float, "2.5", 1, 9),
            (Key, "c", 1, 14),
            (Bool, "on", 1, 16),
            (Eof, "", 1, 0),
        ],
    );
}

#[test]
fn unquoted_values_in_maps() {
    check(
        "\nm {\n id:one\n id2 : two\n}\nt true\nq \"true\"\n",
        &[
            (Key, "m", 2, 1),
            (MapStart, "", 2, 4),
            (Key, "id", 3, 2),
            (String, "one", 3, 5),
            (Key, "id2", 4, 2),
            (String, "two", 4, 8),
            (MapEnd, "", 5, 2),
            (Key, "t", 6, 1),
            (Bool, "true", 6, 3),
            (Key, "q", 7, 1),
            (String, "true", 7, 4),
        ],
    );
}

#[test]
fn dangling_quotes() {
    check(
        "\nlisten: \"localhost:4242\n\nhttp: localhost:8222\n",
        &[(Key, "listen", 2, 1), (Error, "Unexpected EOF.", 5, 1)],
    );
    check(
        "\nlisten: 'localhost:4242\n\nhttp: localhost:8222\n",
        &[(Key, "listen", 2, 1), (Error, "Unexpected EOF.", 5, 1)],
    );
    check(
        "\nk = \"\nlisten: \"\n\nhttp: h:1\n\n\"\n",
        &[
            (Key, "k", 2, 1),
            (String, "\nlisten: ", 3, 6),
            (Key, "http", 5, 1),
            (String, "h:1", 5, 7),
            (Error, "Unexpected EOF.", 8, 1),
        ],
    );
    check(
        "\nk = '\nlisten: '\n\nhttp: h:1\n\n'\n",
        &[
            (Key, "k", 2, 1),
            (String, "\nlisten: ", 3, 6),
            (Key, "http", 5, 1),
            (String, "h:1", 5, 7),
            (Error, "Unexpected EOF.", 8, 1),
        ],
    );
}

#[test]
fn unterminated_map_and_block() {
    check(
        "\nport = 4222\n\nc = {\n\n  a = b\n\n",
        &[
            (Key, "port", 2, 1),
            (Integer, "4222", 2, 8),
            (Key, "c", 4, 1),
            (MapStart, "", 4, 6),
            (Key, "a", 6, 3),
            (String, "b", 6, 7),
            (Error, "Unexpected EOF processing map.", 8, 1),
        ],
    );
    check(
        "\nport = 4222\n\nq = (\n\n  a = b\n\n",
        &[
            (Key, "port", 2, 1),
            (Integer, "4222", 2, 8),
            (Key, "q", 4, 1),
            (Error, "Unexpected EOF processing block.", 8, 1),
        ],
    );
}

#[test]
fn blocks() {
    check(
        "\nnums (\n0987654321\n)\n",
        &[(Key, "nums", 2, 1), (String, "\n0987654321\n", 4, 7)],
    );
    // A NUL byte counts as end of input for the closing line.
    check(
        "\nnums (\n0987654321\n)\0",
        &[(Key, "nums", 2, 1), (String, "\n0987654321\n", 4, 7)],
    );
    check(
        "\nnums (\n  1(2)3\n  (\n    4\n  )\n)\n",
        &[
            (Key, "nums", 2, 1),
            (String, "\n  1(2)3\n  (\n    4\n  )\n", 7, 7),
        ],
    );
}

#[test]
fn ip_addresses_and_host_ports() {
    let cases = [
        ("listen: 10.0.0.1:4222", "10.0.0.1:4222", 8),
        ("listen: 10.0.0.1", "10.0.0.1", 8),
        ("listen: nats.io:80", "nats.io:80", 8),
        ("listen: nats.io:-1", "nats.io:-1", 8),
        ("listen: :-1", ":-1", 8),
        ("listen = :80", ":80", 9),
    ];
    for (input, value, pos) in cases {
        check(input, &[(Key, "listen", 1, 0), (String, value, 1, pos)]);
    }
    check(
        "listen: -1",
        &[(Key, "listen", 1, 0), (Integer, "-1", 1, 8)],
    );
}

#[test]
fn array_of_maps() {
    check(
        "\nauth {\n    users = [\n      {user: al, pass: x}\n      {user: bo,  pass: y}\n    ]\n    timeout: 0.5\n}\n",
        &[
            (Key, "auth", 2, 1),
            (MapStart, "", 2, 7),
            (Key, "users", 3, 5),
            (ArrayStart, "", 3, 14),
            (MapStart, "", 4, 8),
            (Key, "user", 4, 8),
            (String, "al", 4, 14),
            (Key, "pass", 4, 18),
            (String, "x", 4, 24),
            (MapEnd, "", 4, 26),
            (MapStart, "", 5, 8),
            (Key, "user", 5, 8),
            (String, "bo", 5, 14),
            (Key, "pass", 5, 19),
            (String, "y", 5, 25),
            (MapEnd, "", 5, 27),
            (ArrayEnd, "", 6, 6),
            (Key, "timeout", 7, 5),
            (Float, "0.5", 7, 14),
            (MapEnd, "", 8, 2),
            (Eof, "", 9, 0),
        ],
    );
}

#[test]
fn includes() {
    for input in ["include \"u.conf\"", "include 'u.conf'"] {
        check(input, &[(Include, "u.conf", 1, 9), (Eof, "", 1, 0)]);
    }
    check("include u.conf", &[(Include, "u.conf", 1, 8)]);
    check("INCLUDE u.conf", &[(Include, "u.conf", 1, 8)]);
    check(
        "m { include u.conf }",
        &[
            (Key, "m", 1, 0),
            (MapStart, "", 1, 3),
            (Include, "u.conf", 1, 12),
            (MapEnd, "", 1, 20),
        ],
    );
    check(
        "m {include u.conf}",
        &[
            (Key, "m", 1, 0),
            (MapStart, "", 1, 3),
            (Include, "u.conf", 1, 11),
            (MapEnd, "", 1, 18),
        ],
    );
    check(
        "m { include 'u.conf' }",
        &[
            (Key, "m", 1, 0),
            (MapStart, "", 1, 3),
            (Include, "u.conf", 1, 13),
            (MapEnd, "", 1, 22),
        ],
    );
    check(
        "m { include \"u.conf\"}",
        &[
            (Key, "m", 1, 0),
            (MapStart, "", 1, 3),
            (Include, "u.conf", 1, 13),
            (MapEnd, "", 1, 21),
        ],
    );
}

#[test]
fn include_errors() {
    let cases = [
        ("include [a]", "start of an array"),
        ("include {a}", "start of a map"),
        ("include (a)", "start of a block"),
        ("include 12", "start of a number"),
        ("include -1", "start of a number"),
        ("include \\x", "escape sequence"),
    ];
    for (input, what) in cases {
        check(
            input,
            &[(
                Error,
                &format!("Expected include value but found {what}"),
                1,
                9,
            )],
        );
    }
    check(
        "include 'a.conf",
        &[(Error, "Unexpected EOF in quoted include", 1, 15)],
    );
    check(
        "include \"a.conf",
        &[(Error, "Unexpected EOF in double quoted include", 1, 15)],
    );
}

#[test]
fn json_style_documents() {
    check(
        "\n  {\n    \"port\": 8223\n  }\n  ",
        &[(Key, "port", 3, 6), (Integer, "8223", 3, 13)],
    );
    check(
        "\n  {\n    \"a\": 1,\n    \"b\": \"5MB\",\n    \"c\": true\n  }\n",
        &[
            (Key, "a", 3, 6),
            (Integer, "1", 3, 10),
            (Key, "b", 4, 6),
            (String, "5MB", 4, 11),
            (Key, "c", 5, 6),
            (Bool, "true", 5, 10),
        ],
    );
    check(
        "{\"a\": 1,\"b\": 2}\n",
        &[
            (Key, "a", 1, 2),
            (Integer, "1", 1, 6),
            (Key, "b", 1, 9),
            (Integer, "2", 1, 13),
        ],
    );
    check(
        "{\"a\": 1,\"b\": 2\n  }\n",
        &[
            (Key, "a", 1, 2),
            (Integer, "1", 1, 6),
            (Key, "b", 1, 9),
            (Integer, "2", 1, 13),
            // A closing brace on its own line is lexed as a key with no
            // value, which the parser then ignores.
            (Key, "}", 2, 3),
            (Eof, "", 3, 0),
        ],
    );
    check(
        "{\"c\": {\"p\": 6222,\"r\": [\"nats://h:1\",\"nats://h:2\"]}}\n",
        &[
            (Key, "c", 1, 2),
            (MapStart, "", 1, 7),
            (Key, "p", 1, 8),
            (Integer, "6222", 1, 12),
            (Key, "r", 1, 18),
            (ArrayStart, "", 1, 23),
            (String, "nats://h:1", 1, 24),
            (String, "nats://h:2", 1, 37),
            (ArrayEnd, "", 1, 49),
            (MapEnd, "", 1, 50),
        ],
    );
}

#[test]
fn map_errors() {
    check(
        "m { a = , }",
        &[
            (Key, "m", 1, 0),
            (MapStart, "", 1, 3),
            (Key, "a", 1, 4),
            (Error, "Unexpected map value terminator \",\".", 1, 9),
        ],
    );
    check(
        "m { a = 1 b }",
        &[
            (Key, "m", 1, 0),
            (MapStart, "", 1, 3),
            (Key, "a", 1, 4),
            (Integer, "1", 1, 8),
            (
                Error,
                "Expected a map value terminator \",\" or a map terminator \"}\", but got 'b' instead.",
                1,
                11,
            ),
        ],
    );
    check(
        "m { ] }",
        &[
            (Key, "m", 1, 0),
            (MapStart, "", 1, 3),
            (Error, "Unexpected array end ']' processing map.", 1, 4),
        ],
    );
    check(
        "m { :a }",
        &[
            (Key, "m", 1, 0),
            (MapStart, "", 1, 3),
            (Error, "Unexpected key separator ':'.", 1, 4),
        ],
    );
}

#[test]
fn top_level_errors() {
    check(
        "a = 1 2",
        &[
            (Key, "a", 1, 0),
            (Integer, "1", 1, 4),
            (
                Error,
                "Expected a top-level value to end with a new line, comment or EOF, but got '2' instead.",
                1,
                7,
            ),
        ],
    );
    check("/x", &[(Error, "Unexpected EOF.", 1, 1)]);
    check(
        "a =\nb",
        &[
            (Key, "a", 1, 0),
            (Error, "Expected value but found new line", 2, 1),
        ],
    );
}

#[test]
fn empty_strings() {
    check("k = \"\"", &[(Key, "k", 1, 0), (String, "", 1, 5)]);
    check("k = ''", &[(Key, "k", 1, 0), (String, "", 1, 5)]);
}

#[test]
fn unterminated_quote_at_very_end_is_silently_eof() {
    check("k = \"", &[(Key, "k", 1, 0), (Eof, "", 1, 0)]);
    check("k = '", &[(Key, "k", 1, 0), (Eof, "", 1, 0)]);
}

#[test]
fn garbage_does_not_loop_forever() {
    for input in ["A@@Føøøø?˛ø:{øøøø˙˙", "include \"9/\u{FFFD}"] {
        let mut lexer = Lexer::new(input.as_bytes());
        let mut seen_error = false;
        for _ in 0..1000 {
            let item = lexer.next_item();
            if item.kind == Error {
                assert!(std::string::String::from_utf8_lossy(&item.val).contains("Unexpected EOF"));
                seen_error = true;
                break;
            }
            assert_ne!(item.kind, Eof);
        }
        assert!(seen_error);
    }
}
