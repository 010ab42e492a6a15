//! The comparison: a case whose two Go runs answer differently is noise
//! (its answer depends on timing, so comparing natsd with it proves
//! nothing); otherwise natsd's answer is the same as Go's or divergent.
//! A crash or hang of natsd trumps its answer; one of Go makes the case
//! noise, since the reference itself did not give a steady answer.

use super::servers::Role;

/// What went wrong with a server on a case, beyond its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The process died (signal, panic, stack overflow).
    Crash(String),
    /// It stopped answering, or `-t` never finished.
    Hang(String),
}

/// The three servers' normalized answers to one case, and their faults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Indexed by [`Role::index`].
    pub answers: [String; 3],
    pub faults: Vec<(Role, Fault)>,
}

impl Observed {
    pub fn answer(&self, role: Role) -> &str {
        &self.answers[role.index()]
    }
}

/// A case's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    Same,
    Divergent,
    Noise,
    Crash,
    Hang,
}

pub fn verdict(obs: &Observed) -> Verdict {
    let natsd_fault = obs.faults.iter().find(|(r, _)| *r == Role::Natsd);
    match natsd_fault {
        Some((_, Fault::Crash(_))) => return Verdict::Crash,
        Some((_, Fault::Hang(_))) => return Verdict::Hang,
        None => {}
    }
    if !obs.faults.is_empty() || obs.answer(Role::GoA) != obs.answer(Role::GoB) {
        Verdict::Noise
    } else if obs.answer(Role::Natsd) == obs.answer(Role::GoA) {
        Verdict::Same
    } else {
        Verdict::Divergent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(natsd: &str, a: &str, b: &str) -> Observed {
        Observed {
            answers: [natsd.into(), a.into(), b.into()],
            faults: Vec::new(),
        }
    }

    #[test]
    fn a_real_difference_is_flagged() {
        assert_eq!(
            verdict(&obs("-ERR 'x'\n[closed]", "PONG\n[open]", "PONG\n[open]")),
            Verdict::Divergent
        );
        assert_eq!(
            verdict(&obs("PONG\n[open]", "PONG\n[open]", "PONG\n[open]")),
            Verdict::Same
        );
    }

    #[test]
    fn go_against_go_noise_is_not_a_divergence() {
        assert_eq!(
            verdict(&obs("PONG\n[open]", "PONG\n[closed]", "PONG\n[open]")),
            Verdict::Noise
        );
        assert_eq!(
            verdict(&obs("x", "PONG\n[closed]", "PONG\n[open]")),
            Verdict::Noise
        );
    }

    #[test]
    fn faults_come_first() {
        let mut o = obs("x", "y", "y");
        o.faults.push((Role::GoB, Fault::Hang("slow".into())));
        assert_eq!(verdict(&o), Verdict::Noise);
        o.faults
            .push((Role::Natsd, Fault::Crash("signal 6".into())));
        assert_eq!(verdict(&o), Verdict::Crash);
    }
}
