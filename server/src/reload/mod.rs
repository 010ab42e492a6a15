//! Configuration reload (SIGHUP, `--signal reload`): the config file is read
//! again with the command-line flags on top, compared with the running
//! options, and either refused whole (an option that needs a restart
//! changed, or the file is invalid) or applied: new limits, logging, users,
//! permissions and accounts, with connected clients checked again.

mod apply;
mod clients;
mod diff;

use crate::core::account::Accounts;
use crate::options::Options;
use crate::server::Server;
use std::sync::Arc;

impl Server {
    /// Go's Reload. On error nothing was changed.
    pub fn reload(&self) -> Result<(), String> {
        let _one_at_a_time = self.reload_lock.lock();
        let old = self.opts();
        if old.config_file.is_empty() {
            return Err(
                "can only reload config when a file is provided using -c or --config".into(),
            );
        }
        let mut new = self.load_options(&old)?;
        let changes = diff::diff(&old, &new)?;
        new.validate()?;
        crate::options::unserved::check(&new)?;
        // New TLS files are loaded before anything changes: a bad one
        // refuses the whole reload.
        let tls = match (&new.tls_config, changes.contains(&diff::Change::Tls)) {
            (Some(tc), true) => Some(Some(Arc::new(crate::tls::ClientTls::new(tc)?))),
            (None, true) => Some(None),
            (_, false) => None,
        };
        if new.port == 0 {
            new.port = old.port;
        }
        let new = Arc::new(new);
        let accounts = Arc::new(Accounts::new(&new, Some(&self.accounts())));
        self.install_config(new.clone(), accounts);
        if let Some(sys) = self.system() {
            sys.accounts_changed(self);
        }
        if let Some(tls) = tls {
            self.set_tls(tls);
        }
        apply::apply(self, &new, &changes);
        Ok(())
    }

    /// The options as start-up would build them now: flag defaults, the
    /// config file, the flags again, then the baseline.
    fn load_options(&self, old: &Options) -> Result<Options, String> {
        let flags = self.flags();
        let mut new = Options::with_flag_defaults();
        flags.apply(&mut new);
        new.process_config_file(&old.config_file)
            .map_err(|e| e.to_string())?;
        flags.apply(&mut new);
        flags.apply_combined(&mut new);
        crate::options::flag_overrides::apply(&mut new, &|name: &str| flags.is_set(name))?;
        new.set_baseline();
        let hidden = old
            .no_auth_user_is_hidden
            .then_some(old.no_auth_user.as_str());
        new.add_system_only_no_auth_user(hidden);
        Ok(new)
    }
}
