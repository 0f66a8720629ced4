//! Trains on the shipped corpus and classifies the message on standard input (first line the
//! subject, the rest the body), printing the decisions, suggestions and the words that weighed.
//!
//! `printf 'Bagni\nIl bagno del reparto era sporchissimo\n' | cargo run --release --example learn_classify`

use std::io::Read;

use ascolto::learn::{read_corpus_path, train, Field, Message, TrainOptions};

fn main() -> anyhow::Result<()> {
    let corpus = read_corpus_path(concat!(env!("CARGO_MANIFEST_DIR"), "/data/corpus").as_ref())?;
    let examples: Vec<_> = corpus.iter().map(|e| e.example(1.0)).collect();
    let model = train(&examples, &TrainOptions::default())?;
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let (subject, body) = input.split_once('\n').unwrap_or((&input, ""));
    let msg = Message {
        subject,
        body,
        sender_name: None,
    };
    let p = model.predict(&msg);
    println!("known words: {}", p.content_words);
    for field in [
        Field::Kind,
        Field::Category,
        Field::MacroCategory,
        Field::Service,
    ] {
        let fp = p.field(field);
        let decided = fp.decision.as_ref().map_or("-".to_string(), |d| {
            format!("{} ({:.2})", d.label, d.confidence)
        });
        let suggested: Vec<String> = fp
            .suggestions
            .iter()
            .map(|s| format!("{} {:.2}", s.label, s.confidence))
            .collect();
        let why: Vec<String> = model
            .explain(&msg, field, None, 5)
            .into_iter()
            .map(|r| r.word)
            .collect();
        println!(
            "{:<15} decided: {:<18} suggested: {:<40} because: {}",
            field.as_str(),
            decided,
            suggested.join(", "),
            why.join(", ")
        );
    }
    Ok(())
}
