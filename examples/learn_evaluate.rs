//! Cross-validates the learned classifier on a labelled corpus and prints the tables.
//!
//! `cargo run --release --example learn_evaluate -- [--corpus PATH] [--folds N] [--json]
//!  [--algorithm lr|cnb] [--l2 X] [--epochs N] [--no-chars] [--no-bigrams] [--subject-weight X]
//!  [--char-weight X] [--min-df N]`
//!
//! The options beyond `--corpus`, `--folds` and `--json` exist to re-run the comparisons that
//! chose the defaults (see `src/learn/mod.rs`).
//!
//! `--holdout PATH` trains once on the corpus (thresholds calibrated inside it, as in the product)
//! and scores the messages of PATH instead of cross-validating: messages written by someone else,
//! in another style, are a harsher test of generalisation than folds of one corpus.

use std::path::PathBuf;
use std::time::Instant;

use ascolto::learn::{
    evaluate, macro_of, read_corpus_path, train, Algorithm, CorpusEntry, EvalOptions, Field, Model,
    NO_SERVICE,
};

/// Trains on `corpus`, scores `holdout`: per field precision at the threshold, coverage, top-1
/// and top-3, as one table.
fn holdout(corpus: &[CorpusEntry], holdout: &[CorpusEntry], opts: &EvalOptions) -> String {
    let examples: Vec<_> = corpus.iter().map(|e| e.example(1.0)).collect();
    let model: Model = train(&examples, &opts.train).expect("the corpus trains");
    let mut out = format!(
        "trained on {} messages, scored on {} held-out messages\n\n{:<15} {:>9} {:>9} {:>9} {:>9}\n",
        corpus.len(),
        holdout.len(),
        "field",
        "precision",
        "coverage",
        "top-1",
        "top-3"
    );
    let predictions: Vec<_> = holdout
        .iter()
        .map(|e| model.predict(&e.example(1.0).message()))
        .collect();
    let truth = |e: &CorpusEntry, f: Field| -> Option<String> {
        match f {
            Field::Kind => e.kind.clone(),
            Field::Category => e.category.clone(),
            Field::MacroCategory => e.category.as_deref().map(|c| macro_of(c).to_string()),
            Field::Service => Some(e.service.clone().unwrap_or_else(|| NO_SERVICE.into())),
        }
    };
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    for f in [
        Field::Kind,
        Field::Category,
        Field::MacroCategory,
        Field::Service,
    ] {
        let (mut n, mut decided, mut right, mut top1, mut top3) = (0, 0, 0, 0, 0);
        for (e, p) in holdout.iter().zip(&predictions) {
            let Some(t) = truth(e, f) else { continue };
            let fp = p.field(f);
            n += 1;
            if let Some(d) = &fp.decision {
                decided += 1;
                right += usize::from(d.label == t);
            }
            top1 += usize::from(fp.suggestions.first().is_some_and(|s| s.label == t));
            top3 += usize::from(fp.suggestions.iter().any(|s| s.label == t));
        }
        out += &format!(
            "{:<15} {:>7.1} % {:>7.1} % {:>7.1} % {:>7.1} %\n",
            f.as_str(),
            pct(right, decided),
            pct(decided, n),
            pct(top1, n),
            pct(top3, n)
        );
    }
    let given: Vec<_> = holdout
        .iter()
        .zip(&predictions)
        .filter_map(|(e, p)| Some((e.category.as_deref()?, p.category.decision.as_ref()?)))
        .collect();
    let right = given
        .iter()
        .filter(|(t, d)| macro_of(t) == macro_of(&d.label))
        .count();
    out += &format!(
        "\nautomatic categories with the right macro-category: {:.1} %\n",
        pct(right, given.len())
    );
    out
}

fn main() -> anyhow::Result<()> {
    let mut corpus = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/corpus"));
    let mut opts = EvalOptions::default();
    let mut json = false;
    let mut holdout_path: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{a} wants a value"))
        };
        match a.as_str() {
            "--corpus" => corpus = value()?.into(),
            "--holdout" => holdout_path = Some(value()?.into()),
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
            "--macro-model" => opts.train.macro_model = value()?.parse()?,
            "--cnb-mix" => opts.train.linear.cnb_mix = value()?.parse()?,
            "--balance" => opts.train.linear.class_balance = value()?.parse()?,
            "--averaged" => opts.train.linear.averaged = value()?.parse()?,
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
    let started = Instant::now();
    if let Some(path) = holdout_path {
        let held = read_corpus_path(&path)?;
        print!("{}", holdout(&entries, &held, &opts));
        eprintln!("({:.1} s)", started.elapsed().as_secs_f64());
        return Ok(());
    }
    let examples: Vec<_> = entries.iter().map(|e| e.example(1.0)).collect();
    let evaluation = evaluate(&examples, &opts)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&evaluation)?);
    } else {
        print!("{}", evaluation.to_table());
        eprintln!("({:.1} s)", started.elapsed().as_secs_f64());
    }
    Ok(())
}
