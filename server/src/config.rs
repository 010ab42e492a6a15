//! The one place that calls the configuration-format parser (`natsd-conf`).

use std::path::Path;

pub use natsd_conf::{ConfError, Map, Node, Value};

/// Reads and parses a configuration file.
pub fn load(path: &Path) -> Result<Map, ConfError> {
    natsd_conf::parse_file(path)
}
