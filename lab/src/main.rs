//! `cargo lab`: the learner's CLI. This file only parses arguments; each
//! command lives in the library (see `lib.rs` for the layout).

use std::io::IsTerminal;
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lab::check::scenario::CheckOptions;
use lab::load::{LoadConfig, Mix, Stop};
use lab::sink::{store::StoreConfig, SinkConfig};
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
    /// List the lessons and which ones you have done.
    List,
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
        #[arg(long, env = "LAB_GATEWAY", default_value = "http://localhost:8080")]
        gateway: String,
        #[arg(long, env = "LAB_JAEGER", default_value = lab::client::DEFAULT_JAEGER)]
        jaeger: String,
        /// Seconds to wait for the traces to arrive.
        #[arg(long, default_value_t = 15)]
        timeout: u64,
    },
    /// Print a trace as a tree: `cargo lab trace latest` or `cargo lab trace <trace id>`.
    Trace {
        /// A trace id (32 hex digits) or `latest`.
        id: String,
        #[arg(long, env = "LAB_JAEGER", default_value = lab::client::DEFAULT_JAEGER)]
        jaeger: String,
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
    /// Send steady traffic to the gateway and summarise the latencies.
    Load {
        #[arg(long, env = "LAB_GATEWAY", default_value = "http://localhost:8080")]
        gateway: String,
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
    },
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
        Command::Hint { lesson, reset } => {
            print!("{}", lab::commands::hint(&root, &lesson, reset)?)
        }
        Command::Check {
            lesson,
            gateway,
            jaeger,
            timeout,
        } => {
            let options = CheckOptions {
                gateway,
                jaeger,
                timeout: Duration::from_secs(timeout),
            };
            return lab::check::run(&root, &lesson, &options).await;
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
            print!(
                "{}",
                lab::commands::trace(&jaeger, &id, &service, &options, style).await?
            );
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
                gateway,
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
        Command::Sink {
            bind,
            grpc_port,
            http_port,
            query_port,
            max_traces,
            quiet_ms,
            no_print,
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
            };
            lab::sink::run(config, !no_print).await?;
        }
    }
    Ok(true)
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
