//! `cargo bench --bench classify`: the learned classifier's figures (issue 13), on this machine.
//!
//! Prints:
//!  (a) training on the shipped corpus (with calibration) and the model's size;
//!  (b) classifying one message: median, 95th percentile and maximum over every corpus message
//!      and as many perturbed ones, plus one 2 MB body;
//!  (c) training on BENCH_TICKETS (default 100,000) synthetic tickets — the corpus replicated with
//!      perturbations (dropped and misspelt words, accents stripped, capitals, sentences borrowed
//!      from other messages of the same category, noise words), so the vocabulary grows as real
//!      mail's would — and that model's size;
//!  (d) with BENCH_CV=1, the 5-fold cross-validation of the corpus (as
//!      `cargo run --release --example learn_evaluate`).

use std::time::{Duration, Instant};

use ascolto::learn::{
    evaluate, read_corpus_path, train, CorpusEntry, EvalOptions, Example, Message, TrainOptions,
};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// SplitMix64: reproducible perturbations without a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

fn strip_accents(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'à' | 'á' => 'a',
            'è' | 'é' => 'e',
            'ì' => 'i',
            'ò' | 'ó' => 'o',
            'ù' => 'u',
            c => c,
        })
        .collect()
}

fn misspell(word: &str, rng: &mut Rng) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    if chars.len() < 4 {
        return word.to_string();
    }
    let i = 1 + rng.below(chars.len() - 2);
    match rng.below(3) {
        0 => chars.swap(i, i + 1),
        1 => {
            chars.remove(i);
        }
        _ => chars.insert(i, chars[i]),
    }
    chars.into_iter().collect()
}

const OPENINGS: &[&str] = &[
    "Buongiorno,",
    "Salve,",
    "Spett.le URP,",
    "Gentili signori,",
    "",
    "Buonasera",
    "Alla cortese attenzione dell'URP",
];
const NOISE: &[&str] = &[
    "comunque",
    "insomma",
    "praticamente",
    "ecco",
    "diciamo",
    "veramente",
    "purtroppo",
    "assolutamente",
    "cioè",
    "tipo",
];

/// A synthetic ticket made from corpus entry `base`, with a sentence borrowed from `other` (same
/// category).
fn perturb(base: &CorpusEntry, other: &CorpusEntry, rng: &mut Rng) -> (String, String) {
    let mut body = String::new();
    body.push_str(OPENINGS[rng.below(OPENINGS.len())]);
    body.push('\n');
    for word in base.body.split_whitespace() {
        if rng.chance(0.08) {
            continue;
        }
        let w = if rng.chance(0.06) {
            misspell(word, rng)
        } else {
            word.to_string()
        };
        body.push_str(&w);
        body.push(' ');
        if rng.chance(0.03) {
            body.push_str(NOISE[rng.below(NOISE.len())]);
            body.push(' ');
        }
        if rng.chance(0.02) {
            body.push_str(&rng.below(1000).to_string());
            body.push(' ');
        }
    }
    if rng.chance(0.5) {
        let sentences: Vec<&str> = other
            .body
            .split(['.', '\n'])
            .filter(|s| s.len() > 20)
            .collect();
        if !sentences.is_empty() {
            body.push('\n');
            body.push_str(sentences[rng.below(sentences.len())].trim());
            body.push('.');
        }
    }
    let mut subject = base.subject.clone();
    if rng.chance(0.3) {
        body = strip_accents(&body);
        subject = strip_accents(&subject);
    }
    if rng.chance(0.05) {
        body = body.to_uppercase();
    }
    if rng.chance(0.2) {
        subject = format!("R: {subject}");
    }
    (subject, body)
}

/// CPU seconds used by this process so far (user + system), from /proc: on a machine shared with
/// other builds the wall clock alone says little.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let corpus = read_corpus_path(concat!(env!("CARGO_MANIFEST_DIR"), "/data/corpus").as_ref())?;
    let examples: Vec<Example> = corpus.iter().map(|e| e.example(1.0)).collect();
    let opts = TrainOptions::default();
    let mut rng = Rng(13);

    // (a)
    let started = Instant::now();
    let model = train(&examples, &opts)?;
    let corpus_train = started.elapsed();
    let bytes = model.to_bytes();
    println!(
        "(a) corpus: {} messages trained (with 5-fold calibration) in {:.2} s; model {:.2} MB, {} features",
        corpus.len(),
        corpus_train.as_secs_f64(),
        bytes.len() as f64 / 1e6,
        model.info().features
    );

    // (b)
    let mut same_category: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    for (i, e) in corpus.iter().enumerate() {
        same_category
            .entry(e.category.as_deref().unwrap_or(""))
            .or_default()
            .push(i);
    }
    let mut messages: Vec<(String, String)> = corpus
        .iter()
        .map(|e| (e.subject.clone(), e.body.clone()))
        .collect();
    for (i, e) in corpus.iter().enumerate() {
        let peers = &same_category[e.category.as_deref().unwrap_or("")];
        let other = &corpus[peers[rng.below(peers.len())]];
        messages.push(perturb(&corpus[i], other, &mut rng));
    }
    // Warm up (page in the model, the stemmer's tables, the regexes).
    for (s, b) in messages.iter().take(50) {
        std::hint::black_box(model.predict(&Message {
            subject: s,
            body: b,
            sender_name: None,
        }));
    }
    let mut times: Vec<Duration> = messages
        .iter()
        .map(|(s, b)| {
            let t = Instant::now();
            std::hint::black_box(model.predict(&Message {
                subject: s,
                body: b,
                sender_name: Some("Mario Rossi"),
            }));
            t.elapsed()
        })
        .collect();
    times.sort();
    let huge = "Il bagno del reparto era sporco e nessuno è passato a pulire. "
        .repeat(2 * 1024 * 1024 / 62);
    let t = Instant::now();
    let p = model.predict(&Message {
        subject: "Reclamo",
        body: &huge,
        sender_name: None,
    });
    let huge_time = t.elapsed();
    println!(
        "(b) classify one message ({} messages): median {:.0} µs, p95 {:.0} µs, max {:.0} µs; a {:.1} MB body: {:.0} µs (category {:?})",
        times.len(),
        percentile(&times, 0.5).as_secs_f64() * 1e6,
        percentile(&times, 0.95).as_secs_f64() * 1e6,
        times.last().unwrap().as_secs_f64() * 1e6,
        huge.len() as f64 / 1e6,
        huge_time.as_secs_f64() * 1e6,
        p.category.suggestions.first().map(|s| s.label.as_str())
    );

    // (c)
    let n = env_usize("BENCH_TICKETS", 100_000);
    let synthetic: Vec<(String, String, usize)> = (0..n)
        .map(|_| {
            let i = rng.below(corpus.len());
            let peers = &same_category[corpus[i].category.as_deref().unwrap_or("")];
            let other = &corpus[peers[rng.below(peers.len())]];
            let (s, b) = perturb(&corpus[i], other, &mut rng);
            (s, b, i)
        })
        .collect();
    let big: Vec<Example> = synthetic
        .iter()
        .map(|(s, b, i)| Example {
            subject: s,
            body: b,
            sender_name: None,
            kind: corpus[*i].kind.clone(),
            category: corpus[*i].category.clone(),
            service: corpus[*i].service.clone(),
            weight: 1.0,
        })
        .collect();
    let chars: usize = synthetic.iter().map(|(s, b, _)| s.len() + b.len()).sum();
    let load_before = load_average();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let big_model = train(&big, &opts)?;
    let big_train = started.elapsed();
    let cpu = cpu_seconds() - cpu_before;
    println!(
        "(c) {} synthetic tickets ({:.0} MB of text) trained (with calibration on a held-out fifth) in {:.1} s wall, {:.1} s CPU, on {} threads (load average before {}, after {}); model {:.2} MB, {} features",
        n,
        chars as f64 / 1e6,
        big_train.as_secs_f64(),
        cpu,
        opts.threads,
        load_before,
        load_average(),
        big_model.to_bytes().len() as f64 / 1e6,
        big_model.info().features
    );

    // (d)
    if env_usize("BENCH_CV", 0) == 1 {
        let started = Instant::now();
        let evaluation = evaluate(&examples, &EvalOptions::default())?;
        print!("(d) {}", evaluation.to_table());
        println!("({:.1} s)", started.elapsed().as_secs_f64());
    }
    Ok(())
}
