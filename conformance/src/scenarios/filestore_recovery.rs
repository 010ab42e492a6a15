//! Scenarios from server/filestore_test.go (being ported).

use crate::registry::Scenario;

pub fn scenarios() -> Vec<Scenario> {
    vec![]
}
