//! Cases and their observations joined into findings: one per case, with
//! its divergence class, verdict and, for a divergence, the reason it is
//! understood if `fuzz-explained.toml` gives one. The report and the exit
//! status are both read from these.

use super::case::Case;
use super::explained::Explained;
use super::gen_config::ConfigCase;
use super::servers::Role;
use super::verdict::{verdict, Fault, Observed, Verdict};

/// Which kind of case a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Protocol,
    Config,
}

/// One case's outcome.
#[derive(Debug, Clone)]
pub struct Finding {
    pub kind: Kind,
    /// The case's position in its generator: orders findings by number.
    pub index: usize,
    pub name: String,
    /// The divergence class: the generator class, and for a diverging
    /// config case whether the exit code or only the text differs.
    pub class: String,
    /// What was sent or written, labelled (`write 2`, `b.conf`).
    pub input: Vec<(String, Vec<u8>)>,
    pub size: usize,
    pub obs: Observed,
    pub verdict: Verdict,
    pub explained: Option<String>,
}

impl Finding {
    /// Whether this finding fails the run.
    pub fn fails(&self) -> bool {
        match self.verdict {
            Verdict::Crash | Verdict::Hang => true,
            Verdict::Divergent => self.explained.is_none(),
            Verdict::Same | Verdict::Noise => false,
        }
    }

    /// Crashes and hangs of any server on this case.
    pub fn faults(&self) -> impl Iterator<Item = &(Role, Fault)> {
        self.obs.faults.iter()
    }
}

fn finding(
    kind: Kind,
    index: usize,
    name: &str,
    class: String,
    input: Vec<(String, Vec<u8>)>,
    obs: Observed,
    explained: &Explained,
) -> Finding {
    let v = verdict(&obs);
    let reason = (v == Verdict::Divergent)
        .then(|| explained.reason(&class, name).map(str::to_string))
        .flatten();
    Finding {
        kind,
        index,
        name: name.to_string(),
        class,
        size: input.iter().map(|(_, b)| b.len()).sum(),
        input,
        obs,
        verdict: v,
        explained: reason,
    }
}

pub fn protocol(cases: &[Case], obs: Vec<Observed>, explained: &Explained) -> Vec<Finding> {
    cases
        .iter()
        .zip(obs)
        .enumerate()
        .map(|(i, (case, o))| {
            let input = if case.chunks.len() == 1 {
                vec![(String::new(), case.chunks[0].clone())]
            } else {
                (case.chunks.iter().enumerate())
                    .map(|(n, c)| (format!("write {}", n + 1), c.clone()))
                    .collect()
            };
            finding(
                Kind::Protocol,
                i,
                &case.name,
                case.class.to_string(),
                input,
                o,
                explained,
            )
        })
        .collect()
}

pub fn config(cases: &[ConfigCase], obs: Vec<Observed>, explained: &Explained) -> Vec<Finding> {
    cases
        .iter()
        .zip(obs)
        .enumerate()
        .map(|(i, (case, o))| {
            let input = case
                .files
                .iter()
                .map(|(name, body)| (name.to_string(), body.clone()))
                .collect();
            let class = config_class(case.class, &o);
            finding(Kind::Config, i, &case.name, class, input, o, explained)
        })
        .collect()
}

/// `<class>/exit-code` when natsd and Go disagree on success, `<class>/text`
/// when only the output differs; the class alone otherwise.
fn config_class(class: &str, obs: &Observed) -> String {
    if verdict(obs) != Verdict::Divergent {
        return class.to_string();
    }
    let exit = |r: Role| obs.answer(r).lines().next().unwrap_or("").to_string();
    if exit(Role::Natsd) != exit(Role::GoA) {
        format!("{class}/exit-code")
    } else {
        format!("{class}/text")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(n: &str, g: &str) -> Observed {
        Observed {
            answers: [n.into(), g.into(), g.into()],
            faults: Vec::new(),
        }
    }

    #[test]
    fn config_divergences_are_split_by_exit_code() {
        assert_eq!(
            config_class("config-nul", &obs("exit 0\nok", "exit non-zero\nbad")),
            "config-nul/exit-code"
        );
        assert_eq!(
            config_class("config-nul", &obs("exit non-zero\nx", "exit non-zero\ny")),
            "config-nul/text"
        );
        assert_eq!(config_class("config-nul", &obs("a", "a")), "config-nul");
    }

    #[test]
    fn only_unexplained_divergences_and_faults_fail() {
        let ex = Explained::parse("[[explained]]\nclass = \"tabs\"\nreason = \"known\"\n").unwrap();
        let case = |class: &'static str| Case {
            name: format!("{class}#0"),
            class,
            set: super::super::case::Set::Open,
            chunks: vec![b"PING\r\n".to_vec()],
        };
        let f = protocol(
            &[case("tabs"), case("bare-lf"), case("cr-without-lf")],
            vec![obs("x", "y"), obs("x", "y"), obs("y", "y")],
            &ex,
        );
        assert_eq!(f[0].explained.as_deref(), Some("known"));
        assert!(!f[0].fails());
        assert!(f[1].fails());
        assert!(!f[2].fails());
    }
}
