//! Runs protocol cases on the trios of both server sets: cases at once up
//! to `jobs`, in batches; after each batch every server is checked, a dead
//! or hung one restarted and the batch replayed on it one case at a time,
//! so that the crash or hang is pinned on the case that caused it (and the
//! other cases' answers are not the noise of a failing server).

use super::answer::normalize;
use super::case::{Case, Set};
use super::servers::{probe_connect, Role, Trio};
use super::verdict::{Fault, Observed};
use super::wire;
use crate::kit::Binaries;
use anyhow::Result;
use futures::StreamExt;

/// Cases per batch, as a multiple of `jobs`: between two checks that every
/// server is alive.
const BATCH_PER_JOB: usize = 4;

/// Every case's observations, in the order of `cases`.
pub async fn run(cases: &[Case], bins: &Binaries, jobs: usize) -> Result<Vec<Observed>> {
    let jobs = jobs.max(1);
    let mut out = vec![Observed::default(); cases.len()];
    for set in [Set::Open, Set::Auth] {
        let indices: Vec<usize> = (0..cases.len()).filter(|i| cases[*i].set == set).collect();
        if indices.is_empty() {
            continue;
        }
        let mut trio = Trio::start(set, bins).await?;
        for batch in indices.chunks(jobs * BATCH_PER_JOB) {
            let addrs = trio.addrs();
            let seen: Vec<(usize, Observed)> = futures::stream::iter(batch)
                .map(|i| {
                    let addrs = &addrs;
                    async move { (*i, observe(&cases[*i], addrs).await) }
                })
                .buffer_unordered(jobs)
                .collect()
                .await;
            for (i, o) in seen {
                out[i] = o;
            }
            settle(&mut trio, cases, batch, &mut out).await?;
        }
    }
    Ok(out)
}

/// Sends the case to the three servers at once, then probes each.
async fn observe(case: &Case, addrs: &[String; 3]) -> Observed {
    let answers = futures::future::join_all(addrs.iter().map(|a| answer(a, case))).await;
    let probes = futures::future::join_all(
        addrs
            .iter()
            .map(|a| wire::probe(a, probe_connect(case.set))),
    )
    .await;
    let faults = Role::ALL
        .iter()
        .zip(probes)
        .filter_map(|(r, p)| p.err().map(|e| (*r, Fault::Hang(format!("{e:#}")))))
        .collect();
    Observed {
        answers: answers.try_into().expect("one answer per server"),
        faults,
    }
}

/// One server's normalized answer to the case.
async fn answer(addr: &str, case: &Case) -> String {
    match wire::exchange(addr, &case.chunks).await {
        Ok(heard) => normalize(&heard.bytes, heard.closed).render(),
        Err(e) => format!("[no answer: {e:#}]"),
    }
}

/// After a batch: each server that died or stopped answering is restarted
/// and the batch replayed on it alone, one case at a time, to find the case
/// that does it.
async fn settle(
    trio: &mut Trio,
    cases: &[Case],
    batch: &[usize],
    out: &mut [Observed],
) -> Result<()> {
    for role in Role::ALL {
        let hang = batch.iter().find_map(|i| {
            out[*i]
                .faults
                .iter()
                .find(|(r, _)| *r == role)
                .map(|(_, f)| f.clone())
        });
        let fault = match trio.reap(role).await? {
            Some(how) => Fault::Crash(how),
            None => match hang {
                Some(hang) => {
                    trio.restart(role).await?;
                    hang
                }
                None => continue,
            },
        };
        replay(trio, role, cases, batch, out, fault).await?;
    }
    Ok(())
}

/// Replays the batch on one server, case by case, with a liveness check
/// after each; the first fault seen in the batch is kept on its first case
/// if no case alone brings it back.
async fn replay(
    trio: &mut Trio,
    role: Role,
    cases: &[Case],
    batch: &[usize],
    out: &mut [Observed],
    first: Fault,
) -> Result<()> {
    let mut pinned = false;
    for i in batch {
        let addr = trio.addrs()[role.index()].clone();
        let o = &mut out[*i];
        o.answers[role.index()] = answer(&addr, &cases[*i]).await;
        o.faults.retain(|(r, _)| *r != role);
        let probed = wire::probe(&addr, probe_connect(cases[*i].set)).await;
        if let Some(how) = trio.reap(role).await? {
            o.faults.push((role, Fault::Crash(how)));
            pinned = true;
        } else if let Err(e) = probed {
            o.faults.push((role, Fault::Hang(format!("{e:#}"))));
            trio.restart(role).await?;
            pinned = true;
        }
    }
    if !pinned {
        let note = format!(
            " (in the batch from {}; no case alone brings it back)",
            cases[batch[0]].name
        );
        let fault = match first {
            Fault::Crash(d) => Fault::Crash(d + &note),
            Fault::Hang(d) => Fault::Hang(d + &note),
        };
        out[batch[0]].faults.push((role, fault));
    }
    Ok(())
}
