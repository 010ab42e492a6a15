//! The NATS server configuration format, accepted exactly as nats-server
//! 2.9.10 accepts it (in its "pedantic" mode, which records where every
//! value was defined).
//!
//! ```
//! let map = natsd_conf::parse_str("port: 4222\ncluster { name: c1 }").unwrap();
//! assert_eq!(map.get("port").and_then(|n| n.as_i64()), Some(4222));
//! let cluster = map.get("cluster").and_then(|n| n.as_map()).unwrap();
//! assert_eq!(cluster.get("name").and_then(|n| n.as_str()), Some("c1"));
//! ```

mod chars;
mod error;
mod lexer;
mod parser;
mod path;
mod value;

use std::io::Read;
use std::path::Path;

pub use error::{ConfError, Location};
pub use value::{Map, Node, Value};

/// Parses configuration text. Includes are resolved against the current
/// directory and values carry no file name.
pub fn parse_str(input: &str) -> Result<Map, ConfError> {
    parser::parse(
        input.as_bytes(),
        parser::Options {
            file: None,
            positions: true,
            include_depth: 0,
            env_depth: 0,
        },
    )
}

/// Reads and parses a configuration file. Includes are resolved against the
/// file's directory, and values carry the path of the file they come from
/// (for the top file, `path` as given).
pub fn parse_file(path: &Path) -> Result<Map, ConfError> {
    read_and_parse(path, 0, 0)
}

pub(crate) fn read_and_parse(
    path: &Path,
    include_depth: usize,
    env_depth: usize,
) -> Result<Map, ConfError> {
    let mut file =
        std::fs::File::open(path).map_err(|e| ConfError::io("open", path.to_path_buf(), &e))?;
    let mut data = Vec::new();
    file.read_to_end(&mut data)
        .map_err(|e| ConfError::io("read", path.to_path_buf(), &e))?;
    parser::parse(
        &data,
        parser::Options {
            file: Some(path),
            positions: true,
            include_depth,
            env_depth,
        },
    )
}
