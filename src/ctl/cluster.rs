//! `kiwictl cluster ...`: membership and Raft state, always answered from the leader's view
//! plus each member's own status.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::admin::status::{MemberStatus, RaftStatus, Status};

use super::args::{ClusterAction, OutputFormat};
use super::error::CtlError;
use super::output::{print_done, print_table, Table};
use super::Ctx;

/// How long `add-node` waits for the new node to catch up and become a voter.
const ADD_NODE_PATIENCE: Duration = Duration::from_secs(3600);
/// How often `add-node` polls the leader for catch-up progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// Runs one `cluster` subcommand.
pub async fn run(ctx: &Ctx, action: &ClusterAction) -> Result<(), CtlError> {
    let addr = ctx.settings.admin_addr();
    let out = ctx.settings.output;
    match action {
        ClusterAction::Status => status(ctx).await,
        ClusterAction::Members => members(ctx).await,
        ClusterAction::Init => {
            // Nodes that form their cluster at start-up (`kiwi --init-cluster`) have no such
            // endpoint; say so rather than print a bare 404.
            let answer = ctx.admin.cluster_init(&addr).await.map_err(|e| match e {
                CtlError::Refused { addr, message } => CtlError::Refused {
                    addr,
                    message: format!(
                        "{message} (start the first node with `kiwi --init-cluster` instead)"
                    ),
                },
                other => other,
            })?;
            print_done(
                &format!("initialized a one-member cluster at {addr}"),
                &answer,
                out,
            );
            Ok(())
        }
        ClusterAction::AddNode {
            id,
            addr: new_addr,
            resp_addr,
        } => add_node(ctx, *id, new_addr, resp_addr.as_deref()).await,
        ClusterAction::RemoveNode { id } => {
            let (leader, answer) = ctx.admin.remove_node(&addr, *id).await?;
            print_done(
                &format!("node {id} removed (leader {leader})"),
                &answer,
                out,
            );
            Ok(())
        }
        ClusterAction::TransferLeader { id } => {
            let (leader, answer) = ctx.admin.transfer_leader(&addr, *id).await?;
            print_done(
                &format!("node {id} asked to take over leadership from {leader}"),
                &answer,
                out,
            );
            Ok(())
        }
    }
}

/// The Raft part of a status document, or the error a single node deserves.
fn raft_of<'a>(addr: &str, status: &'a Status) -> Result<&'a RaftStatus, CtlError> {
    status.raft.as_ref().ok_or_else(|| CtlError::Refused {
        addr: addr.to_string(),
        message: "this node runs in single-node mode (no cluster); see `kiwictl cluster init`"
            .into(),
    })
}

/// Status of the leader, found from any member. Returns its admin address too.
pub async fn leader_status(ctx: &Ctx, addr: &str) -> Result<(String, Status), CtlError> {
    let mut target = addr.to_string();
    let mut status = ctx.admin.status(&target).await?;
    for _ in 0..3 {
        let raft = raft_of(&target, &status)?;
        if raft.role == "leader" {
            return Ok((target, status));
        }
        let leader = raft
            .leader_id
            .and_then(|id| raft.members.iter().find(|m| m.id == id))
            .map(|m| m.admin_addr.clone())
            .ok_or_else(|| CtlError::NoLeader {
                addr: target.clone(),
            })?;
        target = leader;
        status = ctx.admin.status(&target).await?;
    }
    Err(CtlError::NoLeader { addr: target })
}

/// `cluster members`: the leader's membership table.
async fn members(ctx: &Ctx) -> Result<(), CtlError> {
    let (leader, status) = leader_status(ctx, &ctx.settings.admin_addr()).await?;
    let raft = raft_of(&leader, &status)?;
    let mut table = Table::new(&["id", "admin addr", "resp addr", "voter", "matched", "lag"]);
    for m in &raft.members {
        table.push(vec![
            m.id.to_string(),
            m.admin_addr.clone(),
            m.resp_addr.clone(),
            if m.voter { "yes" } else { "learner" }.into(),
            opt(m.matched_index),
            opt(m.lag),
        ]);
    }
    print_table(&table, ctx.settings.output);
    Ok(())
}

/// `cluster status`: every member asked for its own status, joined with the leader's view of
/// its replication; unreachable members are listed as down rather than failing the command.
async fn status(ctx: &Ctx) -> Result<(), CtlError> {
    let (leader_addr, leader) = leader_status(ctx, &ctx.settings.admin_addr()).await?;
    let raft = raft_of(&leader_addr, &leader)?;
    let answers = join_all(raft.members.iter().map(|m| ctx.admin.status(&m.admin_addr))).await;
    let table = status_table(raft, &answers);
    print_table(&table, ctx.settings.output);
    Ok(())
}

/// Builds the `cluster status` table; pure so it is testable.
fn status_table(leader: &RaftStatus, answers: &[Result<Status, CtlError>]) -> Table {
    let mut table = Table::new(&[
        "id", "address", "role", "term", "last log", "applied", "lag", "health",
    ]);
    for (m, answer) in leader.members.iter().zip(answers) {
        let own = answer.as_ref().ok().and_then(|s| s.raft.as_ref());
        let health = match answer {
            Ok(s) if s.runtimes.breaker.state != "closed" => "breaker open".to_string(),
            Ok(_) => "up".to_string(),
            Err(e) => format!("down: {}", short_reason(e)),
        };
        table.push(vec![
            m.id.to_string(),
            m.resp_addr.clone(),
            own.map_or_else(|| role_of(m).into(), |r| r.role.clone()),
            own.map_or_else(String::new, |r| r.term.to_string()),
            opt(own.and_then(|r| r.last_log_index)),
            opt(own.and_then(|r| r.applied)),
            opt(m.lag),
            health,
        ]);
    }
    table
}

fn role_of(m: &MemberStatus) -> &'static str {
    if m.voter {
        "voter"
    } else {
        "learner"
    }
}

fn short_reason(e: &CtlError) -> String {
    match e {
        CtlError::Unreachable { reason, .. } => reason.clone(),
        CtlError::Timeout { .. } => "timeout".into(),
        other => other.to_string(),
    }
}

fn opt(v: Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

/// `cluster add-node`: sends the request to the leader and, while it runs (the leader answers
/// once the node is a voter), shows how far the new node's log has caught up.
async fn add_node(
    ctx: &Ctx,
    id: u64,
    admin_addr: &str,
    resp_addr: Option<&str>,
) -> Result<(), CtlError> {
    let resp_addr = match resp_addr {
        Some(a) => a.to_string(),
        // The new node knows its own RESP address; asking it also proves it is up.
        None => ctx.admin.status(admin_addr).await?.server.resp_addr,
    };
    let start = ctx.settings.admin_addr();
    let request = ctx
        .admin
        .add_node(&start, id, admin_addr, &resp_addr, ADD_NODE_PATIENCE);
    tokio::pin!(request);
    let show = ctx.settings.output == OutputFormat::Table && std::io::stderr().is_terminal();
    let mut ticker = tokio::time::interval(PROGRESS_EVERY);
    let (leader, answer) = loop {
        tokio::select! {
            done = &mut request => break done?,
            _ = ticker.tick(), if show => {
                if let Ok((_, status)) = leader_status(ctx, &start).await {
                    if let Some(line) = progress_line(&status, id) {
                        eprint!("\r{line}");
                        let _ = std::io::stderr().flush();
                    }
                }
            }
        }
    };
    if show {
        eprintln!("\r{}", progress_bar(1.0, "caught up"));
    }
    print_done(
        &format!("node {id} ({admin_addr}) is a voter (leader {leader})"),
        &with_leader(answer, &leader),
        ctx.settings.output,
    );
    Ok(())
}

fn with_leader(answer: Value, leader: &str) -> Value {
    match answer {
        Value::Object(mut o) => {
            o.entry("leader_admin_addr")
                .or_insert_with(|| json!(leader));
            Value::Object(o)
        }
        other => other,
    }
}

/// One progress line for node `id` from the leader's status: matched index vs last log index.
fn progress_line(leader: &Status, id: u64) -> Option<String> {
    let raft = leader.raft.as_ref()?;
    let last = raft.last_log_index?;
    let member = raft.members.iter().find(|m| m.id == id)?;
    let matched = member.matched_index.unwrap_or(0);
    let fraction = if last == 0 {
        1.0
    } else {
        matched as f64 / last as f64
    };
    let stage = if member.voter { "voter" } else { "learner" };
    Some(progress_bar(
        fraction,
        &format!("{stage}: {matched}/{last} entries"),
    ))
}

/// `[#####-----]  52%  label`.
fn progress_bar(fraction: f64, label: &str) -> String {
    const WIDTH: usize = 30;
    let f = fraction.clamp(0.0, 1.0);
    let filled = (f * WIDTH as f64).round() as usize;
    format!(
        "[{}{}] {:>3}%  {label:<40}",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
        (f * 100.0).round() as u64
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::fixtures::{status, MEMBERS};

    #[test]
    fn status_rows_join_each_members_answer_with_the_leaders_view() {
        let leader = status(1, 2, &MEMBERS);
        let raft = leader.raft.clone().expect("cluster fixture");
        let answers = vec![
            Ok(leader),
            Ok(status(2, 2, &MEMBERS)),
            Err(CtlError::Unreachable {
                addr: "n3:8003".into(),
                reason: "connection refused".into(),
            }),
        ];
        assert_eq!(
            status_table(&raft, &answers).render(),
            "ID  ADDRESS         ROLE      TERM  LAST LOG  APPLIED  LAG  HEALTH\n\
             \x201  127.0.0.1:7001  leader       3      1020     1020    0  up\n\
             \x202  127.0.0.1:7002  follower     3      1020     1020    3  up\n\
             \x203  127.0.0.1:7003  voter                              200  down: connection refused\n"
        );
    }

    #[test]
    fn progress_bars_are_fixed_width() {
        assert_eq!(
            progress_bar(0.5, "x").trim_end(),
            "[###############---------------]  50%  x"
        );
        assert!(progress_bar(7.0, "").starts_with("[##############################] 100%"));
    }
}
