//! `scangate-bench`: the pieces scripts/bench.py times.
//!
//! - `ignored-any FILE`: the baseline, a `serde_json` pass over the file that keeps nothing
//!   (`IgnoredAny`), through the same buffered reader `scangate process` uses.
//! - `synth --bytes N --distinct D --out FILE`: a synthetic QScanner-shaped SARIF file
//!   (`--results R` instead of `--bytes`: exactly R results; `--shape ruff|tiny`: a linter's
//!   shape instead, each of the R results a distinct finding, as the processor bench's `SHAPE`).
//! - `phases FILE [--reps N]`: in-process time of each step of `scangate process --asff
//!   --verdict --junit` (read, merge, evaluate, sort, ASFF, JUnit, verdict JSON) and of the
//!   processor's `content_hash` and results step (JUnit and the summary from a spill, two reads
//!   against one), best of N, so a profile can say which step to work on.

use anyhow::{bail, Context, Result};
use serde::de::IgnoredAny;
use std::io::{BufReader, BufWriter, Write};

mod phases;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ignored-any") => {
            let path = args.get(1).context("usage: scangate-bench ignored-any FILE")?;
            let file = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
            let reader = BufReader::with_capacity(256 * 1024, file);
            let _: IgnoredAny = serde_json::from_reader(reader).with_context(|| format!("parsing {path}"))?;
            Ok(())
        }
        Some("synth") => {
            let mut bytes: u64 = 200 * 1024 * 1024;
            let mut distinct: u64 = 20_000;
            let mut results: Option<u64> = None;
            let mut shape = None;
            let mut out = None;
            let mut it = args.iter().skip(1);
            while let Some(flag) = it.next() {
                let value = it.next().with_context(|| format!("{flag} needs a value"))?;
                match flag.as_str() {
                    "--bytes" => bytes = value.parse().context("--bytes")?,
                    "--distinct" => distinct = value.parse().context("--distinct")?,
                    "--results" => results = Some(value.parse().context("--results")?),
                    "--shape" => {
                        shape = Some(match value.as_str() {
                            "ruff" => scangate_bench::synth::LintShape::Ruff,
                            "tiny" => scangate_bench::synth::LintShape::Tiny,
                            other => bail!("--shape {other}: expected ruff or tiny"),
                        })
                    }
                    "--out" => out = Some(value.clone()),
                    other => bail!("unknown flag {other}"),
                }
            }
            let out = out.context("--out FILE is required")?;
            let config = scangate_bench::synth::SynthConfig { distinct, ..Default::default() };
            let config = match results {
                Some(results) => scangate_bench::synth::SynthConfig { results, ..config },
                None => config.target_bytes(bytes)?,
            };
            let file = std::fs::File::create(&out).with_context(|| format!("creating {out}"))?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            let written = match shape {
                Some(shape) => scangate_bench::synth::write_lint(&mut w, shape, config.results, config.seed)?,
                None => scangate_bench::synth::write_synthetic(&mut w, &config)?,
            };
            w.flush()?;
            println!("{written}");
            Ok(())
        }
        Some("phases") => {
            let path = args.get(1).context("usage: scangate-bench phases FILE [--reps N]")?;
            let reps = match (args.get(2).map(String::as_str), args.get(3)) {
                (Some("--reps"), Some(n)) => n.parse().context("--reps")?,
                (None, _) => 3,
                _ => bail!("usage: scangate-bench phases FILE [--reps N]"),
            };
            phases::run(std::path::Path::new(path), reps)
        }
        _ => bail!(
            "usage: scangate-bench ignored-any FILE | synth --bytes N|--results R --distinct D [--shape ruff|tiny] --out FILE | phases FILE [--reps N]"
        ),
    }
}
