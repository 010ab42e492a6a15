//! Accounts: isolated subject spaces. Every client belongs to one; without
//! configured accounts that is the global account `$G`.

use crate::client::Subscription;
use crate::sublist::Sublist;

pub struct Account {
    pub sublist: Sublist<Subscription>,
}

impl Account {
    pub fn new(sublist_cache: bool) -> Self {
        Self {
            sublist: Sublist::new(sublist_cache),
        }
    }
}
