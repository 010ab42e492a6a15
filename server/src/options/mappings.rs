//! The `mappings` (or `maps`) block, at the top level for the global account
//! or inside an account: source subject to a destination subject, to one
//! weighted destination map, or to a list of them. Each mapping is checked
//! as it is read (the same checks as when it is installed), with Go's
//! error texts.

use super::ConfigErrors;
use crate::config::{Node, Value};
use natsd_proto::mapping::{go_q, is_valid_subject, MapDest, Mapping, MappingConfig};

/// Go gives up on the whole block: a value of the wrong type panicked in
/// its parser, reported at the entry being read.
struct Abort(String);

/// Reads a mappings block; invalid entries are reported and left out.
pub fn parse_mappings(node: &Node, errs: &mut ConfigErrors) -> Vec<MappingConfig> {
    let mut out = Vec::new();
    let Value::Map(m) = &node.value else {
        errs.error(
            node,
            super::type_mismatch(&node.value, "map[string]interface {}"),
        );
        return out;
    };
    for (src, v) in m.iter() {
        if !is_valid_subject(src) {
            errs.error(
                node,
                format!("Subject {} is not a valid subject", go_q(src)),
            );
            continue;
        }
        match &v.value {
            Value::Str(dest) => {
                let dests = vec![MapDest::new(dest, 100)];
                if let Err(e) = Mapping::new(src, &dests) {
                    errs.error(
                        v,
                        format!(
                            "Error adding mapping for {} to {} : {e}",
                            go_q(src),
                            go_q(dest)
                        ),
                    );
                    continue;
                }
                out.push(MappingConfig {
                    src: src.to_string(),
                    dests,
                });
            }
            Value::Array(items) => {
                let mut dests = Vec::new();
                for item in items {
                    match parse_dest(item, errs) {
                        Ok(Some(d)) => dests.push(d),
                        Ok(None) => {}
                        Err(Abort(text)) => {
                            errs.error(item, text);
                            return out;
                        }
                    }
                }
                if Mapping::new(src, &dests).is_err() {
                    // Go fails formatting its own message here.
                    let at = items.last().unwrap_or(v);
                    errs.error(at, super::type_mismatch(&v.value, "string"));
                    return out;
                }
                out.push(MappingConfig {
                    src: src.to_string(),
                    dests,
                });
            }
            _ => match parse_dest(v, errs) {
                Ok(Some(d)) => {
                    let dests = vec![d];
                    if Mapping::new(src, &dests).is_err() {
                        errs.error(v, super::type_mismatch(&v.value, "string"));
                        return out;
                    }
                    out.push(MappingConfig {
                        src: src.to_string(),
                        dests,
                    });
                }
                Ok(None) => {}
                Err(Abort(text)) => {
                    errs.error(v, text);
                    return out;
                }
            },
        }
    }
    out
}

/// One `{destination, weight, cluster}` map; None when it was refused
/// (and reported).
fn parse_dest(node: &Node, errs: &mut ConfigErrors) -> Result<Option<MapDest>, Abort> {
    let Value::Map(m) = &node.value else {
        errs.error(node, "Expected an entry for the mapping destination".into());
        return Ok(None);
    };
    let mut d = MapDest::new("", 0);
    let mut has_weight = false;
    let string = |v: &Node| match &v.value {
        Value::Str(s) => Ok(s.clone()),
        other => Err(Abort(super::type_mismatch(other, "string"))),
    };
    for (k, v) in m.iter() {
        match k.to_lowercase().as_str() {
            "dest" | "destination" => d.subject = string(v)?,
            "weight" => {
                let w = match &v.value {
                    Value::Str(s) => {
                        let s = s.strip_suffix('%').unwrap_or(s);
                        match s.parse::<i64>() {
                            Ok(w) => w,
                            Err(_) => {
                                errs.error(
                                    v,
                                    format!("Invalid weight {} for mapping destination", go_q(s)),
                                );
                                return Ok(None);
                            }
                        }
                    }
                    Value::Int(w) => *w,
                    other => {
                        errs.error(
                            v,
                            format!(
                                "Unknown entry type for weight of {}\n",
                                super::users::go_value(other)
                            ),
                        );
                        return Ok(None);
                    }
                };
                if !(0..=100).contains(&w) {
                    errs.error(v, format!("Invalid weight {w} for mapping destination"));
                    return Ok(None);
                }
                d.weight = w as u8;
                has_weight = true;
            }
            "cluster" => d.cluster = string(v)?,
            _ => {
                errs.error(
                    v,
                    format!("Unknown field {} for mapping destination", go_q(k)),
                );
                return Ok(None);
            }
        }
    }
    if !has_weight {
        errs.error(
            node,
            format!(
                "Missing weight for mapping destination {}",
                go_q(&d.subject)
            ),
        );
        return Ok(None);
    }
    Ok(Some(d))
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;

    fn error_of(text: &str) -> String {
        load(text).1.unwrap_err().to_string()
    }

    #[test]
    fn forms() {
        let (o, r) = load(
            "mappings = {\n foo: bar\n foo.*: [ { dest: bar.v1.$1, weight: 40% }, { destination: baz.v2.$1, weight: 20 } ]\n x: { dest: y, weight: 50%, cluster: C }\n}\n",
        );
        r.unwrap();
        assert_eq!(o.mappings.len(), 3);
        assert_eq!(o.mappings[1].dests[0].weight, 40);
        assert_eq!(o.mappings[1].dests[1].subject, "baz.v2.$1");
        assert_eq!(o.mappings[2].dests[0].cluster, "C");
        let (o, r) = load("accounts { A { maps { a: b } } }\n");
        r.unwrap();
        assert_eq!(o.accounts[0].mappings[0].dests[0].subject, "b");
    }

    #[test]
    fn errors() {
        let e = error_of("mappings = {\n foo: { dest: bar, weight: 150 }\n}\n");
        assert!(e.contains(":2:"), "{e}");
        assert!(
            e.contains("Invalid weight 150 for mapping destination"),
            "{e}"
        );
        assert!(
            error_of("mappings { foo: { dest: bar, weight: \"abc%\" } }\n")
                .contains("Invalid weight \"abc\" for mapping destination")
        );
        assert!(error_of("mappings { foo: { dest: bar } }\n")
            .contains("Missing weight for mapping destination \"bar\""));
        assert!(
            error_of("mappings { foo: { dest: bar, weight: 1, x: 1 } }\n")
                .contains("Unknown field \"x\" for mapping destination")
        );
        assert!(error_of("mappings { \"foo..bar\": baz }\n")
            .contains("Subject \"foo..bar\" is not a valid subject"));
        assert!(error_of("mappings { \"foo.*\": \"bar.$2\" }\n").contains(
            "Error adding mapping for \"foo.*\" to \"bar.$2\" : invalid mapping destination: wildcard index out of range in $2: [2]"
        ));
        assert!(
            error_of("mappings { foo: [ {dest: a, weight: 60}, {dest: b, weight: 50} ] }\n")
                .contains("interface conversion: interface {} is []interface {}, not string")
        );
        assert!(error_of("mappings { foo: 1 }\n")
            .contains("Expected an entry for the mapping destination"));
    }
}
