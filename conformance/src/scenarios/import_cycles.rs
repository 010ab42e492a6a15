//! (being written)

use crate::registry::Scenario;

pub fn scenarios() -> Vec<Scenario> {
    vec![]
}
