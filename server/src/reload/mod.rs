//! Configuration reload (SIGHUP, `--signal reload`): the config file is read
//! again with the command-line flags on top, compared with the running
//! options, and either refused whole (an option that needs a restart
//! changed, or the file is invalid) or applied: new limits, logging, users,
//! permissions and accounts, with connected clients checked again.

mod apply;
mod clients;
mod diff;

use crate::core::account::Accounts;
use crate::net::HostPortError;
use crate::options::flag_overrides::FlagError;
use crate::options::unserved::Refusals;
use crate::options::{ConfigFileError, Options, ValidateError};
use crate::server::Server;
use crate::tls::TlsError;
use std::sync::Arc;

/// Why a reload was refused (nothing changed), with Go's texts. Whoever
/// asked for the reload decides on it: the signal handler logs it.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("can only reload config when a file is provided using -c or --config")]
    NoConfigFile,
    /// The config file does not parse or holds errors (or warnings).
    #[error(transparent)]
    ConfigFile(#[from] ConfigFileError),
    #[error(transparent)]
    Flags(#[from] FlagError),
    /// An option that cannot change without a restart changed.
    #[error("config reload not supported for {option}: old={old}, new={new}")]
    Unsupported {
        option: &'static str,
        old: String,
        new: String,
    },
    /// A block that cannot change without a restart changed; its values
    /// are not shown, as they may hold credentials.
    #[error("config reload not supported for {0}: the block changed")]
    BlockChanged(&'static str),
    /// A new advertised address (`option` is Go's name for it) is invalid.
    #[error("invalid {option} value of {value}, err={source}")]
    Advertise {
        option: &'static str,
        value: String,
        source: HostPortError,
    },
    #[error(transparent)]
    InvalidOptions(#[from] ValidateError),
    /// The new options ask for what natsd does not serve.
    #[error(transparent)]
    Unserved(#[from] Refusals),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

impl Server {
    /// Go's Reload. On error nothing was changed.
    pub fn reload(&self) -> Result<(), ReloadError> {
        let _one_at_a_time = self.reload_lock.lock();
        let old = self.opts();
        if old.config_file.is_empty() {
            return Err(ReloadError::NoConfigFile);
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
        let ws_tls = match &new.websocket.tls {
            Some(tc) if old.websocket.tls != new.websocket.tls => {
                Some(Arc::new(crate::tls::ClientTls::new(tc)?))
            }
            _ => None,
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
        self.install_links();
        if let Some(js) = self.jetstream() {
            if let Err(e) = js.configure_accounts(self) {
                crate::error!("{e}");
            }
        }
        if let Some(tls) = tls {
            self.set_tls(tls);
        }
        if let (Some(tls), Some(ws)) = (ws_tls, self.websocket_listener()) {
            ws.replace_tls(tls);
        }
        apply::apply(self, &new, &changes);
        Ok(())
    }

    /// The options as start-up would build them now: flag defaults, the
    /// config file, the flags again, then the baseline.
    fn load_options(&self, old: &Options) -> Result<Options, ReloadError> {
        let flags = self.flags();
        let mut new = Options::with_flag_defaults();
        flags.apply(&mut new);
        new.process_config_file(&old.config_file)?;
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
