//! `handoff`: the command line of the pipeline.
//!
//! - `replay`: runs the same pure pipeline code as the workers offline over the JSON Lines replay
//!   format and prints every output record, tagged with its `type`.
//! - `produce`: publishes a replay file to `conversation.events` / `handoff.commands`.
//! - `tail`: prints routed handoffs as they land on team topics.
//! - `controls`: prints the AgentControl records (pause / resume and the handoff note).
//! - `demo`: what `make run` shows: plays the samples through the running stack, prints each
//!   handoff as it lands and the audit table at the end.
//! - `load`: an end-to-end load run through the running workers (or through `relay` hops, the
//!   passthrough baseline): events/s and trigger-to-handoff latency (`bench/run.sh` drives it).
//! - `relay`: a bare consume → produce relay of the same bytes, the passthrough baseline.

mod control;
mod eval;
mod live;
mod load;
mod train;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use handoff_core::pipeline::{Output, Pipeline, Rejected};
use handoff_core::replay::{read_all, ReplayRecord};
use handoff_core::Policy;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "handoff",
    version,
    about = "Hand AI-agent conversations to humans, by policy"
)]
struct Cli {
    /// Settings file (TOML); `HANDOFF_*` environment variables override it.
    #[arg(long, global = true, env = "HANDOFF_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the pipeline offline over recorded conversations and print every output record.
    Replay {
        /// A .jsonl file, or a directory whose *.jsonl files are read in name order.
        #[arg(long)]
        input: PathBuf,
        /// Policy file (default: the configured one, else the built-in policy).
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Replay labelled public data through the detector and print precision/recall per reason.
    Eval {
        /// The evaluation data directory (bitext/, clinc150/, banking77/, ...).
        #[arg(long)]
        data: PathBuf,
        /// Policy file (default: the configured one, else the built-in policy).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Also list up to this many misclassified examples per data set and kind.
        #[arg(long, default_value_t = 0)]
        errors: usize,
        /// The multi-turn set (labels*.jsonl, conversations/, domains/); default the repo's
        /// `eval/multiturn`.
        #[arg(long)]
        multiturn: Option<PathBuf>,
        /// Only this section (repeatable): explicit_request, sentiment, out_of_scope,
        /// out_of_scope_domain, routing, multiturn.
        #[arg(long = "section")]
        sections: Vec<String>,
    },
    /// Fit the learned detectors' heads on the training examples and write the heads file.
    Train {
        /// Our training CSVs (`text,label,lang`, one per head).
        #[arg(long, default_value = "models/training")]
        data: PathBuf,
        /// Also train on the public sets in this directory (Bitext, Banking77, CLINC150).
        #[arg(long)]
        public: Option<PathBuf>,
        /// Where to write the heads.
        #[arg(long, default_value = "models/heads.json")]
        out: PathBuf,
    },
    /// Publish a replay file's events and commands to the input topics.
    Produce {
        #[arg(long)]
        input: PathBuf,
    },
    /// Print routed handoffs as they arrive on team topics.
    Tail {
        /// The team to follow; all teams when absent.
        #[arg(long)]
        team: Option<String>,
        /// Start from the oldest record instead of new ones only.
        #[arg(long)]
        from_beginning: bool,
        /// Stop after this many handoffs.
        #[arg(long)]
        count: Option<usize>,
        /// Print the whole RoutedHandoff as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print AgentControl records (pause / resume with the handoff note) as JSON lines.
    Controls {
        /// Only this conversation's records.
        #[arg(long)]
        conversation: Option<String>,
        /// Start from the oldest record instead of new ones only.
        #[arg(long)]
        from_beginning: bool,
        /// Stop after this many records.
        #[arg(long)]
        count: Option<usize>,
        /// Fail when `count` records have not arrived within this many seconds.
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Play the samples through the running stack and show the handoffs and the audit table.
    Demo {
        #[arg(long, default_value = "infra/samples")]
        input: PathBuf,
        /// Seconds to wait for every expected handoff.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Load run: publish generated conversations and measure events/s and the latency from each
    /// triggering event to its routed handoff (or, passthrough, to the last relay hop).
    Load {
        #[arg(long, value_enum, default_value = "pipeline")]
        mode: load::Mode,
        /// Conversations to publish.
        #[arg(long, default_value_t = 2000)]
        conversations: usize,
        /// Turns (events) per conversation.
        #[arg(long, default_value_t = 12)]
        turns: usize,
        /// Events per second to offer; 0 sends as fast as the producer takes them.
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        /// Passthrough only: how many relays sit between bench.pt.0 and the topic read back.
        #[arg(long, default_value_t = 3)]
        hops: usize,
        /// Seconds to wait for everything to arrive.
        #[arg(long, default_value_t = 900)]
        timeout: u64,
        /// Name of this run in the output.
        #[arg(long, default_value = "load")]
        label: String,
        /// Append the summary as a JSON line to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Passthrough baseline: copy records from one topic to another, no decoding.
    Relay {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// Consumer group (default `<group_prefix>.relay.<from>`).
        #[arg(long)]
        group: Option<String>,
    },
}

/// The replay files under `input`, in order.
pub fn input_files(input: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if input.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(input)
            .with_context(|| format!("reading {}", input.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        files.sort();
        if files.is_empty() {
            bail!("no .jsonl files in {}", input.display());
        }
        Ok(files)
    } else {
        Ok(vec![input.to_path_buf()])
    }
}

/// Every record of the input, files in order.
pub fn read_input(input: &Path) -> anyhow::Result<Vec<ReplayRecord>> {
    let mut records = Vec::new();
    for f in input_files(input)? {
        let file = std::fs::File::open(&f).with_context(|| format!("opening {}", f.display()))?;
        records.extend(read_all(
            std::io::BufReader::new(file),
            &f.display().to_string(),
        )?);
    }
    Ok(records)
}

/// Runs the offline pipeline over the records: each record's outputs, or why the detector would
/// dead-letter it.
pub fn replay_checked(
    records: &[ReplayRecord],
    policy: &Policy,
) -> Vec<Result<Vec<Output>, Rejected>> {
    let mut pipeline = Pipeline::new(policy);
    records.iter().map(|r| pipeline.step(r)).collect()
}

/// Runs the offline pipeline over the records; invalid records produce nothing (as live).
pub fn replay(records: &[ReplayRecord], policy: &Policy) -> Vec<Output> {
    replay_checked(records, policy)
        .into_iter()
        .flat_map(Result::unwrap_or_default)
        .collect()
}

/// `handoff replay`'s line for a refused record, in place of the outputs it would have had.
fn rejected_line(r: &Rejected) -> serde_json::Value {
    serde_json::json!({
        "type": "rejected",
        "conversation_id": r.conversation_id,
        "record_id": r.record_id,
        "kind": r.kind,
        "error": r.error,
    })
}

fn load_policy(path: Option<&Path>, config: Option<&Path>) -> anyhow::Result<Policy> {
    let policy = match path {
        Some(p) => Policy::from_file(p)?,
        None => handoff_runtime::Settings::load(config)?.load_policy()?,
    };
    // The learned detectors, loaded the way the live detector loads them.
    Ok(handoff_semantic::with_learned_detectors(policy)?)
}

/// The policy `handoff eval` scores, with the text it was loaded from.
fn eval_policy(
    path: Option<&Path>,
    config: Option<&Path>,
) -> anyhow::Result<(Policy, eval::PolicySource)> {
    let path = match path {
        Some(p) => Some(p.to_path_buf()),
        None => handoff_runtime::Settings::load(config)?.policy.path.clone(),
    };
    // With the learned detectors, loaded as replay and the detector load them: eval scores the
    // policy that runs.
    let Some(path) = path else {
        let policy = handoff_semantic::with_learned_detectors(Policy::builtin())?;
        return Ok((policy, eval::PolicySource::builtin()));
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading policy {}", path.display()))?;
    let origin = path.display().to_string();
    let policy = handoff_semantic::with_learned_detectors(Policy::from_toml(&text, &origin)?)?;
    Ok((policy, eval::PolicySource { text, origin }))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Replay { input, policy } => {
            let policy = load_policy(policy.as_deref(), cli.config.as_deref())?;
            let records = read_input(&input)?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let mut refused = 0usize;
            for step in replay_checked(&records, &policy) {
                match step {
                    Ok(outputs) => {
                        for o in outputs {
                            serde_json::to_writer(&mut out, &o)?;
                            out.write_all(b"\n")?;
                        }
                    }
                    Err(r) => {
                        refused += 1;
                        serde_json::to_writer(&mut out, &rejected_line(&r))?;
                        out.write_all(b"\n")?;
                    }
                }
            }
            if refused > 0 {
                eprintln!("{refused} record(s) refused as the detector would dead-letter them (type \"rejected\")");
            }
            out.flush()?;
            Ok(())
        }
        Command::Eval {
            data,
            policy,
            json,
            errors,
            multiturn,
            sections,
        } => {
            let (policy, source) = eval_policy(policy.as_deref(), cli.config.as_deref())?;
            let multiturn = multiturn.unwrap_or_else(|| {
                let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
                repo.canonicalize().unwrap_or(repo).join("eval/multiturn")
            });
            let input = eval::EvalInput {
                data: &data,
                multiturn: &multiturn,
                policy: &policy,
                policy_source: &source,
                errors,
                only: &sections,
            };
            eval::run(&input, json)
        }
        Command::Train { data, public, out } => {
            let encoder = handoff_semantic::load_encoder()?;
            train::run(encoder.as_ref(), &data, public.as_deref(), &out)
        }
        command => {
            let settings = handoff_runtime::Settings::load(cli.config.as_deref())?;
            handoff_runtime::telemetry::init(&handoff_runtime::config::TelemetrySettings {
                filter: "warn".into(),
                ..settings.telemetry.clone()
            });
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async move {
                match command {
                    Command::Produce { input } => {
                        let records = read_input(&input)?;
                        let n =
                            handoff_runtime::publish::produce_replay(&settings, &records).await?;
                        println!("produced {n} records from {}", input.display());
                        Ok(())
                    }
                    Command::Tail {
                        team,
                        from_beginning,
                        count,
                        json,
                    } => live::tail(&settings, team.as_deref(), from_beginning, count, json).await,
                    Command::Controls {
                        conversation,
                        from_beginning,
                        count,
                        timeout,
                    } => {
                        control::controls(
                            &settings,
                            conversation.as_deref(),
                            from_beginning,
                            count,
                            timeout,
                        )
                        .await
                    }
                    Command::Demo { input, timeout } => {
                        live::demo(&settings, &input, timeout).await
                    }
                    Command::Load {
                        mode,
                        conversations,
                        turns,
                        rate,
                        hops,
                        timeout,
                        label,
                        json,
                    } => {
                        let args = load::LoadArgs {
                            mode,
                            conversations,
                            turns,
                            rate,
                            hops,
                            timeout,
                            label,
                            json,
                        };
                        load::run(&settings, args).await
                    }
                    Command::Relay { from, to, group } => {
                        let group = group.unwrap_or_else(|| {
                            format!("{}.relay.{from}", settings.kafka.group_prefix)
                        });
                        load::relay(&settings, &from, &to, &group).await
                    }
                    Command::Replay { .. } | Command::Eval { .. } | Command::Train { .. } => {
                        unreachable!("handled above")
                    }
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use handoff_core::records::ControlAction;

    /// Sample 02 is handed back with a note ("Refund approved, 7 days to clear ... do not reopen
    /// the complaint"); afterwards the contact returns to the refund and the agent calls
    /// transfer_to_human about it again. The cool-down keeps that closed topic from escalating.
    #[test]
    fn replay_of_a_handback_shows_no_re_escalation_on_the_closed_topic() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../infra/samples/02-refund-over-limit-tool-call.jsonl");
        let records = read_input(&path).unwrap();
        let outputs = replay(&records, &Policy::builtin());
        let signals: Vec<_> = outputs
            .iter()
            .filter_map(|o| match o {
                Output::Signal(s) => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(signals.len(), 1, "one escalation only: {signals:?}");
        assert_eq!(signals[0].trigger_event_id, "s02-4");
        let resume = outputs
            .iter()
            .find_map(|o| match o {
                Output::Control(c) if c.action == ControlAction::Resume => Some(c),
                _ => None,
            })
            .expect("the agent is resumed");
        assert!(resume
            .handoff_context
            .as_deref()
            .unwrap()
            .contains("Refund approved, 7 days to clear."));
        let last = records.last().unwrap();
        assert!(
            matches!(last, ReplayRecord::Event(e) if e.event_id == "s02-10"),
            "the sample ends with the repeated transfer_to_human"
        );
    }
}
