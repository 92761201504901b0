// SPDX-License-Identifier: GPL-2.0

//! Writes the error of one-shot timers against elapsed time, per deadline policy, as CSV.
//!
//! ```text
//! cargo run --release --bin drift-sim -- [OPTIONS] > errors.csv
//! ```
//!
//! Runs `xen_clock_host::sim` for every combination of scheme (the driver's three deadline
//! policies and the tick core's coupled conversion), drift and period, and writes one row per
//! point, with the columns `policy,period_ns,drift_ppm,elapsed_s,error_ns`:
//! `elapsed_s` is the Xen time since the start at which the event was programmed, `error_ns`
//! the kernel time at which the timer fired minus the kernel expiry wanted (positive: late). A
//! summary of each run goes to standard error.
//!
//! Options (durations take a unit: `ns`, `us`, `ms`, `s`, `min` or `h`; a bare number is ns):
//!
//! - `--drift-ppm LIST`: how much faster the kernel's clock runs than Xen time, in ppm,
//!   comma-separated, fractions allowed, negative for slower (default `500`);
//! - `--periods LIST`: periods of the timers, comma-separated durations (default
//!   `100us,1ms,10ms,100ms`);
//! - `--elapsed DURATION`: kernel time each run covers (default `1h`);
//! - `--policies LIST`: comma-separated, from `delta,absolute,compensated,coupled` (default
//!   all);
//! - `--jitter DURATION`: each clock read lands uniformly up to this late (default `100ns`);
//! - `--preempt-prob P`: probability of a preemption between the tick core's read of the
//!   kernel's clock and the driver's read of Xen time and hypercall (default `0.01`);
//! - `--preempt-max DURATION`: the longest preemption (default `50us`);
//! - `--sample-interval DURATION`: time between the drift estimator's samples (default `1s`);
//! - `--points N`: points per run: the run is cut into `N` equal stretches of elapsed time and
//!   each contributes its event of largest `|error|` (the envelope, so that preemption spikes
//!   survive); `0` writes every event (default `2000`);
//! - `--seed N`: seed of the noise (default `1`);
//! - `--out PATH`: write the CSV there instead of to standard output;
//! - `--help`: print this and exit.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use xen_clock_host::sim::{self, Config, Event, Scheme};

const USAGE: &str = "usage: drift-sim [--drift-ppm LIST] [--periods LIST] [--elapsed DURATION]
                 [--policies LIST] [--jitter DURATION] [--preempt-prob P]
                 [--preempt-max DURATION] [--sample-interval DURATION] [--points N]
                 [--seed N] [--out PATH]
Writes policy,period_ns,drift_ppm,elapsed_s,error_ns as CSV. Durations take ns, us, ms, s, min
or h. See the doc comment of host/src/bin/drift-sim.rs for details.";

struct Args {
    drifts_ppm: Vec<f64>,
    periods: Vec<u64>,
    elapsed: u64,
    policies: Vec<Scheme>,
    jitter: u64,
    preempt_prob: f64,
    preempt_max: u64,
    sample_interval: u64,
    points: u64,
    seed: u64,
    out: Option<String>,
}

fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let scale: f64 = match unit {
        "" | "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "min" => 60e9,
        "h" => 3_600e9,
        _ => return Err(format!("unknown unit in duration {s:?}")),
    };
    let v: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let ns = (v * scale).round();
    if !(0.0..1.8e19).contains(&ns) {
        return Err(format!("duration {s:?} out of range"));
    }
    Ok(ns as u64)
}

fn parse_list<T>(s: &str, item: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    let v: Vec<T> = s
        .split(',')
        .map(|x| item(x.trim()))
        .collect::<Result<_, _>>()?;
    if v.is_empty() {
        return Err("empty list".into());
    }
    Ok(v)
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut a = Args {
        drifts_ppm: vec![500.0],
        periods: vec![100_000, 1_000_000, 10_000_000, 100_000_000],
        elapsed: 3_600_000_000_000,
        policies: Scheme::ALL.to_vec(),
        jitter: 100,
        preempt_prob: 0.01,
        preempt_max: 50_000,
        sample_interval: 1_000_000_000,
        points: 2_000,
        seed: 1,
        out: None,
    };
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |what: &str| format!("bad {what} {value:?} for {flag}");
        match flag.as_str() {
            "--drift-ppm" => {
                a.drifts_ppm = parse_list(&value, |x| x.parse().map_err(|_| bad("number")))?;
                if a.drifts_ppm.iter().any(|&d| !(d > -1e6 && d < 1e6)) {
                    return Err(format!("drifts must be within ±1e6 ppm: {value}"));
                }
            }
            "--periods" => {
                a.periods = parse_list(&value, parse_duration)?;
                if a.periods.contains(&0) {
                    return Err("a period must not be 0".into());
                }
            }
            "--elapsed" => a.elapsed = parse_duration(&value)?,
            "--policies" => {
                a.policies = parse_list(&value, |x| {
                    Scheme::from_name(x.as_bytes())
                        .ok_or_else(|| format!("unknown policy {x:?}; known: {}", Scheme::NAMES))
                })?
            }
            "--jitter" => a.jitter = parse_duration(&value)?,
            "--preempt-prob" => {
                a.preempt_prob = value.parse().map_err(|_| bad("probability"))?;
                if !(0.0..=1.0).contains(&a.preempt_prob) {
                    return Err(bad("probability"));
                }
            }
            "--preempt-max" => a.preempt_max = parse_duration(&value)?,
            "--sample-interval" => {
                a.sample_interval = parse_duration(&value)?;
                if a.sample_interval == 0 {
                    return Err("the sample interval must not be 0".into());
                }
            }
            "--points" => a.points = value.parse().map_err(|_| bad("count"))?,
            "--seed" => a.seed = value.parse().map_err(|_| bad("seed"))?,
            "--out" => a.out = Some(value),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(Some(a))
}

/// Writes one CSV row.
fn row(out: &mut impl Write, ev: &Event, period: u64, drift_ppm: f64) -> io::Result<()> {
    writeln!(
        out,
        "{},{period},{drift_ppm},{:.6},{}",
        ev.scheme.name(),
        ev.elapsed_ns as f64 / 1e9,
        ev.error_ns
    )
}

fn run(args: &Args, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "policy,period_ns,drift_ppm,elapsed_s,error_ns")?;
    for &drift_ppm in &args.drifts_ppm {
        for &period in &args.periods {
            let cfg = Config {
                jitter_ns: args.jitter,
                preempt_prob: args.preempt_prob,
                preempt_max_ns: args.preempt_max,
                sample_interval_ns: args.sample_interval,
                seed: args.seed,
                ..Config::new((drift_ppm * 1e3).round() as i64, period, args.elapsed)
            };
            for &policy in &args.policies {
                let mut result = Ok(());
                // The envelope: per stretch of elapsed time, its worst event.
                let mut bucket: Option<(u64, Event)> = None;
                let span = u128::from(args.elapsed.max(1));
                let summary = sim::run(&cfg, policy, |ev| {
                    if result.is_err() {
                        return;
                    }
                    if args.points == 0 {
                        result = row(out, ev, period, drift_ppm);
                        return;
                    }
                    // Xen time can run past the kernel time covered: the last stretch takes it.
                    let b = (u128::from(ev.elapsed_ns) * u128::from(args.points) / span)
                        .min(u128::from(args.points - 1)) as u64;
                    match &mut bucket {
                        Some((cur, worst)) if *cur == b => {
                            if ev.error_ns.unsigned_abs() > worst.error_ns.unsigned_abs() {
                                *worst = *ev;
                            }
                        }
                        _ => {
                            if let Some((_, worst)) = bucket.take() {
                                result = row(out, &worst, period, drift_ppm);
                            }
                            bucket = Some((b, *ev));
                        }
                    }
                });
                result?;
                if let Some((_, worst)) = bucket {
                    row(out, &worst, period, drift_ppm)?;
                }
                eprintln!(
                    "{:<11} period {:>9} ns drift {:>8} ppm: {} events, worst {} ns, last {} ns, \
                     {} fired at once",
                    policy.name(),
                    period,
                    drift_ppm,
                    summary.events,
                    summary.worst_error_ns,
                    summary.last_error_ns,
                    summary.fired_at_once
                );
            }
        }
    }
    out.flush()
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("drift-sim: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match &args.out {
        Some(path) => File::create(path).and_then(|f| run(&args, &mut BufWriter::new(f))),
        None => run(&args, &mut BufWriter::new(io::stdout().lock())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("drift-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
