//! Cross-validates the learned classifier on a labelled corpus and prints the tables.
//!
//! `cargo run --release --example learn_evaluate -- [--corpus PATH] [--folds N] [--json]
//!  [--algorithm lr|cnb] [--l2 X] [--epochs N] [--no-chars] [--no-bigrams] [--subject-weight X]
//!  [--char-weight X] [--min-df N]`
//!
//! The options beyond `--corpus`, `--folds` and `--json` exist to re-run the comparisons that
//! chose the defaults (see `src/learn/mod.rs`).

use std::path::PathBuf;
use std::time::Instant;

use ascolto::learn::{evaluate, read_corpus_path, Algorithm, EvalOptions};

fn main() -> anyhow::Result<()> {
    let mut corpus = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/corpus"));
    let mut opts = EvalOptions::default();
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{a} wants a value"))
        };
        match a.as_str() {
            "--corpus" => corpus = value()?.into(),
            "--folds" => opts.folds = value()?.parse()?,
            "--json" => json = true,
            "--algorithm" => {
                opts.train.linear.algorithm = match value()?.as_str() {
                    "cnb" => Algorithm::ComplementNaiveBayes,
                    _ => Algorithm::LogisticRegression,
                }
            }
            "--l2" => opts.train.linear.l2 = value()?.parse()?,
            "--alpha" => opts.train.linear.alpha = value()?.parse()?,
            "--epochs" => opts.train.linear.epochs = value()?.parse()?,
            "--lr" => opts.train.linear.learning_rate = value()?.parse()?,
            "--no-chars" => opts.train.features.char_min = usize::MAX,
            "--chars" => {
                let v = value()?;
                let (a, b) = v
                    .split_once('-')
                    .ok_or_else(|| anyhow::anyhow!("--chars 3-5"))?;
                opts.train.features.char_min = a.parse()?;
                opts.train.features.char_max = b.parse()?;
            }
            "--no-bigrams" => opts.train.features.bigrams = false,
            "--subject-weight" => opts.train.features.subject_weight = value()?.parse()?,
            "--quoted-weight" => opts.train.features.quoted_weight = value()?.parse()?,
            "--char-weight" => opts.train.features.char_block_weight = value()?.parse()?,
            "--min-df" => opts.train.features.min_df = value()?.parse()?,
            "--max-features" => opts.train.features.max_features = value()?.parse()?,
            "--target" => opts.train.precision_target = value()?.parse()?,
            "--seed" => opts.seed = value()?.parse()?,
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    let entries = read_corpus_path(&corpus)?;
    let examples: Vec<_> = entries.iter().map(|e| e.example(1.0)).collect();
    let started = Instant::now();
    let evaluation = evaluate(&examples, &opts)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&evaluation)?);
    } else {
        print!("{}", evaluation.to_table());
        eprintln!("({:.1} s)", started.elapsed().as_secs_f64());
    }
    Ok(())
}
