//! `cargo lab`: the learner's CLI. This file only parses arguments; each
//! command lives in the library (see `lib.rs` for the layout).

use std::io::IsTerminal;
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lab::check::scenario::{CheckOptions, Control};
use lab::check::RunOptions;
use lab::load::{LoadConfig, Mix, Stop};
use lab::sink::{database::DatabaseConfig, store::StoreConfig, SinkConfig};
use lab::style::Style;
use lab::tree::TreeOptions;

#[derive(Parser)]
#[command(
    name = "cargo lab",
    bin_name = "cargo lab",
    about = "The tracing workshop's lab tool: check lessons, read traces, make traffic"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the lessons with each one's last result and when (runs nothing).
    List,
    /// Start a lesson's exercise: applies its exercise.patch and its environment.
    Start {
        /// Lesson number, e.g. 1 or 01.
        lesson: String,
        /// The debugging mission (the last lesson): which hidden fault (default: a random one).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Put the files a lesson changes back to the committed version.
    Reset {
        /// Lesson number, e.g. 1 or 01.
        lesson: String,
    },
    /// Show a lesson's solution; `--apply` applies it on top of the exercise.
    Solution {
        /// Lesson number, e.g. 1 or 01.
        lesson: String,
        #[arg(long)]
        apply: bool,
    },
    /// Preflight: mode, ports, Postgres/Redis, trace backend, a test span, health, stale binaries.
    Doctor,
    /// Show the next hint for a lesson (one more each time).
    Hint {
        /// Lesson number, e.g. 5 or 05.
        lesson: String,
        /// Start the lesson's hints over.
        #[arg(long)]
        reset: bool,
    },
    /// Run a lesson's scenario and check the traces it produces.
    Check {
        /// Lesson number, e.g. 5 or 05.
        lesson: String,
        #[command(flatten)]
        target: CheckTarget,
        /// Answer one of the lesson's questions, e.g. --answer slowest=inventory-service.
        #[arg(long = "answer", value_name = "KEY=VALUE")]
        answers: Vec<String>,
        /// Write the result as JSON (passed, cause keys) to this file.
        #[arg(long, hide = true)]
        report_json: Option<std::path::PathBuf>,
    },
    /// Check the started lesson now and again on every save of its files (Ctrl-C stops).
    Watch {
        /// Lesson number (default: the one you started).
        lesson: Option<String>,
        #[command(flatten)]
        target: CheckTarget,
    },
    /// Print a trace as a tree: `cargo lab trace latest` or `cargo lab trace <trace id>`.
    Trace {
        /// A trace id (32 hex digits) or `latest`.
        id: String,
        /// The trace backend (default: what dev-up recorded, else localhost:16686).
        #[arg(long, env = "LAB_JAEGER")]
        jaeger: Option<String>,
        /// Show each span's events.
        #[arg(long)]
        events: bool,
        /// Show each span's attributes.
        #[arg(long)]
        attrs: bool,
        /// With `latest`: the newest trace that has a span of this service.
        #[arg(long, default_value = "api-gateway")]
        service: String,
    },
    /// Every service's log lines of one trace, in time order: `cargo lab logs <trace id>`.
    Logs {
        /// A trace id (32 hex digits, e.g. a response's `trace_id`) or `latest`.
        id: String,
        /// Print the lines as the services wrote them (JSON), still in time order.
        #[arg(long)]
        json: bool,
        /// With `latest`: the trace backend to ask (default: what dev-up recorded, else localhost:16686).
        #[arg(long, env = "LAB_JAEGER")]
        jaeger: Option<String>,
    },
    /// Compare two traces span by span: duration changes, spans only in one, status changes.
    Diff {
        /// The first trace id (usually the fast one).
        a: String,
        /// The second trace id (usually the slow one).
        b: String,
        #[arg(long, env = "LAB_JAEGER", default_value = lab::client::DEFAULT_JAEGER)]
        jaeger: String,
    },
    /// Send steady traffic to the gateway and summarise the latencies.
    Load {
        /// The gateway (default: what dev-up recorded, else localhost:8080).
        #[arg(long, env = "LAB_GATEWAY")]
        gateway: Option<String>,
        /// Requests per second.
        #[arg(long, default_value_t = 5.0)]
        rps: f64,
        /// Stop after this many requests (default 50 unless --duration is given).
        #[arg(long, conflicts_with = "duration")]
        requests: Option<u64>,
        /// Stop after this long, e.g. 30s or 2m.
        #[arg(long, value_parser = lab::load::parse_duration)]
        duration: Option<Duration>,
        /// Weights of POST /orders and GET /orders/{id}.
        #[arg(long, default_value = "orders=8,get=2", value_parser = |s: &str| s.parse::<Mix>())]
        mix: Mix,
        /// Inject a delay (ms) into every request (`?delay=`).
        #[arg(long)]
        delay: Option<u64>,
        /// Make SERVICE fail every request (`?fail=`).
        #[arg(long, value_name = "SERVICE")]
        fail: Option<String>,
    },
    /// The tail sampler's memory estimate: traces, spans and bytes held, and the `num_traces` to set.
    Size(SizeArgs),
    /// Maintainers: open the mission's sealed faults into a directory, or seal them from it.
    #[command(hide = true)]
    Faults {
        /// `open` or `seal`.
        action: FaultsAction,
        /// The mission's lesson number.
        lesson: String,
        /// Where `<code>.patch` and `<code>.yaml` are written or read.
        dir: std::path::PathBuf,
    },
    /// Run SQL over the spans the sink keeps in Postgres (table `spans`).
    Sql {
        /// The query, e.g. "SELECT service_name, count(*) FROM spans GROUP BY 1".
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        query: Option<String>,
        /// Read the query from a file.
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<std::path::PathBuf>,
        /// Print rows as a JSON array.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print rows as CSV.
        #[arg(long)]
        csv: bool,
        /// Allow statements that change data (the session is read-only without it).
        #[arg(long)]
        write: bool,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Rate, errors and p50/p95/p99 per SERVER/CONSUMER operation, from the spans table.
    Stats {
        /// Only this service's operations.
        #[arg(long)]
        service: Option<String>,
        /// The window: the last 5m, 30s, 1h, ...
        #[arg(long, default_value = "5m", value_parser = lab::load::parse_duration)]
        since: Duration,
        /// The head sampler's ratio (0.1 for 10 %): rates are divided by it.
        #[arg(long, default_value_t = 1.0, value_parser = sampling_ratio)]
        sampling_ratio: f64,
        /// Print the operations as JSON, with each percentile's trace id.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Receive traces without Docker: OTLP in, Jaeger's query API out.
    Sink {
        /// Address to listen on (0.0.0.0 to accept spans from containers).
        #[arg(long, default_value = "127.0.0.1")]
        bind: IpAddr,
        #[arg(long, default_value_t = 4317)]
        grpc_port: u16,
        #[arg(long, default_value_t = 4318)]
        http_port: u16,
        #[arg(long, default_value_t = 16686)]
        query_port: u16,
        /// Traces kept in memory; the oldest is dropped first.
        #[arg(long, default_value_t = 10_000)]
        max_traces: usize,
        /// A trace is printed after this many milliseconds without new spans.
        #[arg(long, default_value_t = 2_000)]
        quiet_ms: u64,
        /// Do not print finished traces.
        #[arg(long)]
        no_print: bool,
        /// Also write every span to this Postgres database, table `spans`
        /// (created if missing), for `cargo lab sql` and `cargo lab stats`.
        #[arg(long, env = "LAB_DATABASE_URL", value_name = "URL")]
        database_url: Option<String>,
        /// Keep spans in memory only, even when LAB_DATABASE_URL is set.
        #[arg(long)]
        no_database: bool,
        /// Delete spans older than this from the database (24h, 30m, ...).
        #[arg(long, default_value = "24h", value_parser = lab::load::parse_duration)]
        retention: Duration,
        /// Keep at most this many rows in the database; the oldest go first.
        #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(i64).range(1..))]
        max_rows: i64,
    },
}

/// Prints a command's output. Output piped into `head` that stops reading
/// is not an error (`print!` would panic on the broken pipe).
fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("cannot write the output: {e}");
            std::process::exit(1);
        }
    }
}

/// Which spans database `sql` and `stats` read.
#[derive(Clone, clap::Args)]
struct DatabaseArg {
    /// The spans database (default: what scripts/dev-up.sh recorded, else
    /// compose's Postgres on 15432).
    #[arg(long, env = "LAB_DATABASE_URL", value_name = "URL")]
    database_url: Option<String>,
}

fn sampling_ratio(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if r > 0.0 && r <= 1.0 => Ok(r),
        _ => Err(format!(
            "{text:?} is not a sampling ratio: give a number above 0 and at most 1, like 0.1"
        )),
    }
}

/// Where `check` and `watch` send requests and read traces.
#[derive(Clone, clap::Args)]
struct CheckTarget {
    /// The gateway's URL (default: what scripts/dev-up.sh recorded, else localhost:8080).
    #[arg(long, env = "LAB_GATEWAY")]
    gateway: Option<String>,
    /// The trace backend's URL (default: what dev-up recorded, else localhost:16686).
    #[arg(long, env = "LAB_JAEGER")]
    jaeger: Option<String>,
    /// Seconds to wait for the traces to arrive (a lesson may ask for more).
    #[arg(long, default_value_t = 15)]
    timeout: u64,
}

/// `cargo lab size`: the traffic a tail-sampling collector sees, and the
/// values to judge. Each parser refuses zero, negative and unreadable values
/// with a sentence (hyphen values reach it, so `-5` is not taken for a flag).
#[derive(clap::Args)]
struct SizeArgs {
    /// New traces per second reaching one tail-sampling collector, e.g. 100 or 0.5.
    #[arg(long, value_name = "R", allow_hyphen_values = true,
          value_parser = |s: &str| lab::size::positive_number(s, "traces per second"))]
    traces_per_second: f64,
    /// Spans in one trace (an average), e.g. 22.
    #[arg(long, value_name = "S", allow_hyphen_values = true,
          value_parser = |s: &str| lab::size::positive_number(s, "spans per trace"))]
    spans: f64,
    /// The processor's `decision_wait`: 30s, 500ms, 2m, or plain seconds.
    #[arg(long, value_name = "W", allow_hyphen_values = true,
          value_parser = |s: &str| lab::size::positive_duration(s, "decision wait"))]
    decision_wait: std::time::Duration,
    /// How long the longest trace keeps sending spans (flags a shorter decision_wait).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true,
          value_parser = |s: &str| lab::size::positive_duration(s, "longest trace"))]
    longest_trace: Option<std::time::Duration>,
    /// Memory of one held span: bytes, or 1.5KiB (default 1536, an assumption: docs/sampling.md).
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true,
          value_parser = lab::size::parse_bytes)]
    bytes_per_span: Option<u64>,
    /// A configured `num_traces` to judge (exit 1 when below the steady state).
    #[arg(long, value_name = "N", allow_hyphen_values = true,
          value_parser = |s: &str| lab::size::positive_integer(s, "num_traces"))]
    num_traces: Option<u64>,
    /// Suggested `num_traces` = steady state × this (at least 1).
    #[arg(long, default_value_t = lab::size::DEFAULT_HEADROOM, allow_hyphen_values = true,
          value_parser = parse_headroom)]
    headroom: f64,
    /// Print the estimate as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_headroom(text: &str) -> Result<f64, String> {
    let headroom = lab::size::positive_number(text, "headroom")?;
    if headroom < 1.0 {
        return Err(format!(
            "headroom must be at least 1 (num_traces below the steady state drops traces), got {text}"
        ));
    }
    Ok(headroom)
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FaultsAction {
    Open,
    Seal,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse().command).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs a command; `Ok(false)` means "ran fine, but the answer is no" (a failed check).
async fn run(command: Command) -> anyhow::Result<bool> {
    let root = lab::lessons::repo_root();
    let style = Style::for_stdout();
    match command {
        Command::List => print!("{}", lab::commands::list(&root, style)?),
        Command::Start { lesson, seed } => {
            print!("{}", lab::lifecycle::start_with_seed(&root, &lesson, seed)?)
        }
        Command::Reset { lesson } => print!("{}", lab::lifecycle::reset(&root, &lesson)?),
        Command::Solution { lesson, apply } => {
            print!("{}", lab::lifecycle::solution(&root, &lesson, apply)?)
        }
        Command::Doctor => {
            let diagnosis = lab::doctor::run(&root).await?;
            print!("{}", diagnosis.render(style));
            return Ok(diagnosis.healthy());
        }
        Command::Hint { lesson, reset } => {
            print!("{}", lab::commands::hint(&root, &lesson, reset)?)
        }
        Command::Check {
            lesson,
            target,
            answers,
            report_json,
        } => {
            let options = check_options(&root, &lesson, target).await?;
            let extra = RunOptions {
                answers,
                report_json,
            };
            return lab::check::run_with(&root, &lesson, &options, &extra).await;
        }
        Command::Watch { lesson, target } => {
            let lesson = lab::watch::lesson_to_watch(&root, lesson.as_deref())?;
            let files = lab::watch::watched_files(&root, &lesson)?;
            let number = format!("{:02}", lesson.number);
            let check = || async {
                // Where the stack runs is found again each time: it may have
                // been stopped or started between two saves.
                let options = check_options(&root, &number, target.clone()).await?;
                lab::check::run_with(&root, &number, &options, &RunOptions::default()).await
            };
            let ctrl_c = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            return lab::watch::run(&lesson, &files, style, check, ctrl_c).await;
        }
        Command::Trace {
            id,
            jaeger,
            events,
            attrs,
            service,
        } => {
            let options = TreeOptions {
                events,
                attrs,
                ..TreeOptions::default()
            };
            let jaeger = jaeger.unwrap_or(recorded(&root)?.1);
            print!(
                "{}",
                lab::commands::trace(&jaeger, &id, &service, &options, style).await?
            );
        }
        Command::Logs { id, json, jaeger } => {
            let jaeger = jaeger.unwrap_or(recorded(&root)?.1);
            print!(
                "{}",
                lab::logs::run(&root, &id, &jaeger, json, style).await?
            );
        }
        Command::Diff { a, b, jaeger } => {
            print!("{}", lab::commands::diff(&jaeger, &a, &b, style).await?)
        }
        Command::Load {
            gateway,
            rps,
            requests,
            duration,
            mix,
            delay,
            fail,
        } => {
            let stop = match (requests, duration) {
                (_, Some(d)) => Stop::Duration(d),
                (n, None) => Stop::Requests(n.unwrap_or(50)),
            };
            let config = LoadConfig {
                gateway: gateway.unwrap_or(recorded(&root)?.0),
                rps,
                stop,
                mix,
                delay_ms: delay,
                fail,
                max_in_flight: 256,
            };
            let bar = progress_bar(&config);
            let ticker = bar.clone();
            let summary = lab::load::run(&config, move |_| ticker.inc(1)).await?;
            bar.finish_and_clear();
            print!("{}", summary.render());
        }
        Command::Size(args) => {
            let input = lab::size::SizeInput {
                traces_per_second: args.traces_per_second,
                spans_per_trace: args.spans,
                decision_wait: args.decision_wait,
                longest_trace: args.longest_trace,
                bytes_per_span: args
                    .bytes_per_span
                    .unwrap_or(lab::size::DEFAULT_BYTES_PER_SPAN),
                bytes_assumed: args.bytes_per_span.is_none(),
                headroom: args.headroom,
                num_traces: args.num_traces,
            };
            let estimate = lab::size::estimate(&input)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&estimate)?);
            } else {
                print!("{}", estimate.render(style));
            }
            return Ok(estimate.ok());
        }
        Command::Faults {
            action,
            lesson,
            dir,
        } => {
            let lesson = lab::lessons::find(&root, &lesson)?;
            let mission = lab::mission::Mission::load(&lesson)?
                .ok_or_else(|| anyhow::anyhow!("lesson {} is not a mission", lesson.slug))?;
            let codes = mission.codes();
            let done = match action {
                FaultsAction::Open => lab::mission::seal::open_all(&lesson, &codes, &dir)?,
                FaultsAction::Seal => lab::mission::seal::seal_all(&lesson, &codes, &dir)?,
            };
            print!("{done}");
        }
        Command::Sql {
            query,
            file,
            json,
            csv,
            write,
            database,
        } => {
            let sql = match (query, file) {
                (Some(query), _) => query,
                (None, Some(path)) => std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
                (None, None) => unreachable!("clap requires a query or --file"),
            };
            if sql.trim().is_empty() {
                anyhow::bail!(
                    "the query is empty: give a statement, e.g. \"SELECT count(*) FROM spans\""
                );
            }
            let url = lab::sql::database_url(&root, database.database_url)?;
            let format = match (json, csv) {
                (true, _) => lab::sql::Format::Json,
                (_, true) => lab::sql::Format::Csv,
                _ => lab::sql::Format::Table,
            };
            match lab::sql::run(&url, &sql, write).await {
                Ok(sets) => emit(&lab::sql::render(&sets, format)),
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(false);
                }
            }
        }
        Command::Stats {
            service,
            since,
            sampling_ratio,
            json,
            database,
        } => {
            let url = lab::sql::database_url(&root, database.database_url)?;
            let calls = lab::red::calls_from_database(&url, since, service.as_deref()).await?;
            let operations = lab::red::operations(&calls, since.as_secs_f64(), sampling_ratio);
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&operations)?));
            } else {
                let window = lab::red::window_label(since);
                emit(&lab::red::render(&operations, &window, sampling_ratio));
            }
        }
        Command::Sink {
            bind,
            grpc_port,
            http_port,
            query_port,
            max_traces,
            quiet_ms,
            no_print,
            database_url,
            no_database,
            retention,
            max_rows,
        } => {
            let store = StoreConfig {
                max_traces,
                quiet: Duration::from_millis(quiet_ms),
                ..StoreConfig::default()
            };
            let config = SinkConfig {
                bind,
                grpc_port,
                http_port,
                query_port,
                store,
                database: database_url
                    .filter(|_| !no_database)
                    .map(|url| DatabaseConfig {
                        retention,
                        max_rows,
                        ..DatabaseConfig::new(url)
                    }),
            };
            lab::sink::run(config, !no_print).await?;
        }
    }
    Ok(true)
}

/// The gateway and trace backend dev-up recorded in `.lab/run/stack.env`,
/// else the defaults.
fn recorded(root: &std::path::Path) -> anyhow::Result<(String, String)> {
    let stack = lab::stack::NativeStack::load(root)?;
    let gateway = stack.as_ref().and_then(|s| s.gateway());
    let jaeger = stack.as_ref().and_then(|s| s.jaeger());
    Ok((
        gateway.unwrap_or(lab::stack::DEFAULT_GATEWAY).to_string(),
        jaeger.unwrap_or(lab::client::DEFAULT_JAEGER).to_string(),
    ))
}

/// Who runs the services and where to reach them: the native stack dev-up
/// recorded; else compose (when a Docker engine answers); else nothing is
/// running yet, and the check starts the native stack through dev-up.
/// Where lesson `lesson`'s check runs: the stack it finds (or starts), or
/// none for a check of unit tests alone.
async fn check_options(
    root: &std::path::Path,
    lesson: &str,
    target: CheckTarget,
) -> anyhow::Result<CheckOptions> {
    let CheckTarget {
        gateway,
        jaeger,
        timeout,
    } = target;
    let (control, gateway, jaeger) = if lab::check::needs_services(root, lesson) {
        where_to_check(root, gateway, jaeger).await?
    } else {
        // Unit tests alone (lesson 17): no stack to find or start.
        let gateway = gateway.unwrap_or_else(|| lab::stack::DEFAULT_GATEWAY.to_string());
        let jaeger = jaeger.unwrap_or_else(|| lab::client::DEFAULT_JAEGER.to_string());
        (Control::None, gateway, jaeger)
    };
    Ok(CheckOptions {
        gateway,
        jaeger,
        timeout: Duration::from_secs(timeout),
        control,
    })
}

async fn where_to_check(
    root: &std::path::Path,
    gateway: Option<String>,
    jaeger: Option<String>,
) -> anyhow::Result<(Control, String, String)> {
    let stack = lab::stack::NativeStack::load(root)?;
    let native = Control::Native {
        root: root.to_path_buf(),
        lesson_env: None,
    };
    if let Some(stack) = &stack {
        let gateway = gateway.unwrap_or_else(|| {
            stack
                .gateway()
                .unwrap_or(lab::stack::DEFAULT_GATEWAY)
                .to_string()
        });
        let jaeger = jaeger.unwrap_or_else(|| {
            stack
                .jaeger()
                .unwrap_or(lab::client::DEFAULT_JAEGER)
                .to_string()
        });
        return Ok((native, gateway, jaeger));
    }
    let gateway = gateway.unwrap_or_else(|| lab::stack::DEFAULT_GATEWAY.to_string());
    let jaeger = jaeger.unwrap_or_else(|| lab::client::DEFAULT_JAEGER.to_string());
    let answers = reqwest::Client::new()
        .get(format!("{}/health", gateway.trim_end_matches('/')))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .is_ok();
    if lab::stack::docker_engine() {
        let control = Control::Compose {
            root: root.to_path_buf(),
        };
        if !answers {
            anyhow::bail!(
                "nothing answers at {gateway}; start the stack with `docker compose up --build -d` \
                 (or run natively: scripts/dev-up.sh)"
            );
        }
        return Ok((control, gateway, jaeger));
    }
    if answers {
        // Running, but not started by dev-up here: check it as it is.
        return Ok((Control::None, gateway, jaeger));
    }
    println!("Nothing is running yet: starting the workshop natively with scripts/dev-up.sh.");
    Ok((native, "http://127.0.0.1:8080".to_string(), jaeger))
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
fn progress_bar(config: &LoadConfig) -> ProgressBar {
    let total = match config.stop {
        Stop::Requests(n) => n,
        Stop::Duration(d) => (d.as_secs_f64() * config.rps).ceil() as u64,
    };
    let bar = ProgressBar::new(total);
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} requests  {elapsed} elapsed")
    {
        bar.set_style(style);
    }
    bar
}
