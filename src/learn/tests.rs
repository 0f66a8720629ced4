//! Behaviour of the whole module on small generated corpora (the shipped corpus is measured by
//! `examples/learn_evaluate.rs` and `benches/classify.rs`: too slow for an unoptimised test).

use super::linear::Rng;
use super::model::train_with;
use super::*;

/// (category, kind, service, phrases): each message picks a few phrases of its topic and some
/// shared filler, so topics share words but are told apart by their own.
const TOPICS: &[(&str, &str, Option<&str>, &[&str])] = &[
    (
        "ALB.01",
        "reclamo",
        None,
        &[
            "il bagno era sporco",
            "pavimento pieno di polvere",
            "lenzuola sporche mai cambiate",
            "cattivo odore nei servizi igienici",
            "scarafaggi nel corridoio",
            "cestini pieni di rifiuti",
        ],
    ),
    (
        "ALB.02",
        "reclamo",
        Some("MED"),
        &[
            "il pranzo era freddo",
            "cibo immangiabile",
            "la cena arriva fredda e scotta",
            "minestra insipida e poca",
            "dieta per celiaci sbagliata",
            "vassoio del pasto dimenticato",
        ],
    ),
    (
        "STR.01",
        "segnalazione",
        None,
        &[
            "parcheggio sempre pieno",
            "ascensore guasto da giorni",
            "rampa per carrozzine rotta",
            "gradino pericoloso all'ingresso",
            "sbarra del parcheggio bloccata",
            "posti per disabili occupati",
        ],
    ),
    (
        "TEM.02",
        "reclamo",
        Some("PS"),
        &[
            "attesa di otto ore al pronto soccorso",
            "aspettato dalle nove fino a sera",
            "nessuno ci chiamava in triage",
            "ore seduti senza essere visitati",
            "codice verde dimenticato in sala",
            "attese infinite in pronto soccorso",
        ],
    ),
    (
        "REL.01",
        "elogio",
        Some("PED"),
        &[
            "grazie alle infermiere gentilissime",
            "personale cortese e sorridente",
            "dottoressa dolce con mio figlio",
            "ringrazio tutto il reparto per la gentilezza",
            "bambina trattata con affetto",
            "siete stati meravigliosi",
        ],
    ),
    (
        "ALT",
        "reclamo",
        None,
        &[
            "ho perso il portafoglio",
            "smarrito un anello in corridoio",
            "il medico di base non risponde",
            "multa dei vigili fuori dall'ospedale",
            "autobus che non passa mai",
            "farmacia del paese chiusa",
        ],
    ),
];

const FILLER: &[&str] = &[
    "buongiorno",
    "scrivo per segnalare",
    "ieri mattina",
    "mia madre anziana",
    "vorrei una risposta",
    "non è accettabile",
    "cordiali saluti",
    "vi prego di intervenire",
    "la settimana scorsa",
    "grazie",
];

fn generated(per_topic: usize, seed: u64) -> Vec<(String, String, usize)> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for (t, topic) in TOPICS.iter().enumerate() {
        for _ in 0..per_topic {
            let phrases = topic.3;
            let mut body = String::new();
            for _ in 0..2 + rng.below(2) {
                body.push_str(FILLER[rng.below(FILLER.len())]);
                body.push_str(", ");
                body.push_str(phrases[rng.below(phrases.len())]);
                body.push_str(". ");
            }
            let subject = phrases[rng.below(phrases.len())].to_string();
            out.push((subject, body, t));
        }
    }
    out
}

fn examples(texts: &[(String, String, usize)]) -> Vec<Example<'_>> {
    texts
        .iter()
        .map(|(s, b, t)| Example {
            subject: s,
            body: b,
            sender_name: None,
            kind: Some(TOPICS[*t].1.to_string()),
            category: Some(TOPICS[*t].0.to_string()),
            service: TOPICS[*t].2.map(String::from),
            weight: 1.0,
        })
        .collect()
}

fn quick() -> TrainOptions {
    TrainOptions {
        min_calibration_support: 10,
        calibration_folds: 3,
        linear: LinearConfig {
            epochs: 10,
            ..LinearConfig::default()
        },
        ..TrainOptions::default()
    }
}

fn msg<'a>(subject: &'a str, body: &'a str) -> Message<'a> {
    Message {
        subject,
        body,
        sender_name: None,
    }
}

#[test]
fn learns_decides_and_keeps_category_inside_its_macro() {
    let texts = generated(30, 1);
    let model = train(&examples(&texts), &quick()).unwrap();
    let p = model.predict(&msg(
        "Bagni",
        "Buongiorno, il bagno del secondo piano era sporco e pieno di polvere, con un cattivo odore.",
    ));
    let category = p
        .category
        .decision
        .as_ref()
        .expect("a clear message is decided");
    assert_eq!(category.label, "ALB.01");
    assert_eq!(p.macro_category.decision.as_ref().unwrap().label, "ALB");
    assert!(p.macro_category.decision.as_ref().unwrap().confidence >= category.confidence);
    assert_eq!(p.kind.suggestions[0].label, "reclamo");
    assert_eq!(p.service.suggestions[0].label, NO_SERVICE);
    for field in [
        Field::Kind,
        Field::Category,
        Field::MacroCategory,
        Field::Service,
    ] {
        let s = &p.field(field).suggestions;
        assert!(!s.is_empty() && s.len() <= SUGGESTIONS, "{field:?}");
        assert!(
            s.windows(2).all(|w| w[0].confidence >= w[1].confidence),
            "{field:?}"
        );
        assert!(s.iter().all(|x| x.confidence > 0.0 && x.confidence <= 1.0));
        if let Some(d) = &p.field(field).decision {
            assert_eq!(d, &s[0], "{field:?}: the decision is the first suggestion");
        }
    }
}

#[test]
fn empty_short_and_odd_input_never_panics_and_decides_nothing_when_empty() {
    let texts = generated(20, 2);
    let model = train(&examples(&texts), &quick()).unwrap();
    for (subject, body) in [
        ("", ""),
        ("Reclamo", ""),
        ("", "Vedi allegato"),
        ("", "\n\n> \n-- \nMario Rossi\n339 555 1234"),
        ("I: ", "[image: logo.png]"),
        ("", "🙂🙂🙂 !!! ???"),
    ] {
        let p = model.predict(&msg(subject, body));
        for field in [
            Field::Kind,
            Field::Category,
            Field::MacroCategory,
            Field::Service,
        ] {
            assert!(
                p.field(field).decision.is_none(),
                "{subject:?} {body:?} {field:?}: {p:?}"
            );
        }
    }
    // HTML already converted to text upstream, English, and a 2 MB body: an outcome, no panic.
    let html_text =
        "Gentili,\n\n* il bagno  era sporco\n* il pranzo era freddo\n\n[1] https://example.org";
    let _ = model.predict(&msg("", html_text));
    let english = model.predict(&msg(
        "Dirty toilets",
        "The toilets in the ward were dirty and smelly, nobody cleaned them.",
    ));
    assert!(
        english.kind.decision.is_none(),
        "no English in the training set: {english:?}"
    );
    let huge = "il bagno era sporco e pieno di polvere ".repeat(55_000);
    let started = std::time::Instant::now();
    let p = model.predict(&msg("Reclamo", &huge));
    assert_eq!(p.content_words, 4, "bagno, sporco, pieno, polvere");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(model
        .explain(&msg("", ""), Field::Category, None, 5)
        .is_empty());
}

#[test]
fn bytes_round_trip_and_bad_bytes_are_errors() {
    let texts = generated(15, 3);
    let model = train(&examples(&texts), &quick()).unwrap();
    let bytes = model.to_bytes();
    let back = Model::from_bytes(&bytes).unwrap();
    assert_eq!(back, model);
    let m = msg("Parcheggio", "il parcheggio era pieno e la sbarra bloccata");
    assert_eq!(back.predict(&m), model.predict(&m));
    // Training is deterministic: the same examples give the same bytes.
    assert_eq!(
        train(&examples(&texts), &quick()).unwrap().to_bytes(),
        bytes
    );

    for cut in [0, 5, 20, 100, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            matches!(Model::from_bytes(&bytes[..cut]), Err(LearnError::Format(_))),
            "cut at {cut}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Model::from_bytes(&longer).is_err());
    let mut other_version = bytes.clone();
    other_version[14] = 99;
    assert!(matches!(
        Model::from_bytes(&other_version),
        Err(LearnError::Version { found: 99, .. })
    ));
    assert!(Model::from_bytes(b"SQLite format 3\0").is_err());
}

#[test]
fn a_rare_surname_in_training_text_is_absent_from_the_model() {
    let mut texts = generated(15, 4);
    let bodies = [
        "Mia madre, Ersilia Scaramuzzi, ha trovato il bagno sporco. Distinti saluti\nOttavio Scaramuzzi",
        "Il dott. Scaramuzzi mi ha detto che il pranzo era freddo, ma nessuno ha fatto niente.",
        "Sono Ottavio Scaramuzzi e il parcheggio era pieno anche oggi, scrivo a nome della famiglia Scaramuzzi",
        "SCARAMUZZI OTTAVIO: attesa di otto ore al pronto soccorso per mio padre Scaramuzzi",
        "Il bagno era sporco, scaramuzzi. Grazie\nOttavio Scaramuzzi\n347 555 0192",
        "Ringrazio tutto il reparto per la gentilezza verso mio figlio, Luca Scaramuzzi",
    ];
    for (i, b) in bodies.iter().enumerate() {
        texts.push((
            "Segnalazione Scaramuzzi".to_string(),
            b.to_string(),
            i % TOPICS.len(),
        ));
    }
    let mut ex = examples(&texts);
    let n = ex.len();
    for e in &mut ex[n - bodies.len()..] {
        e.sender_name = Some("Ottavio Scaramuzzi");
    }
    let scrubbed =
        String::from_utf8_lossy(&train(&ex, &quick()).unwrap().to_bytes()).to_lowercase();
    for gone in ["scaramuzz", "ottavi", "ersili", "0192"] {
        assert!(!scrubbed.contains(gone), "{gone:?} is in the model");
    }
    // The test means something: without scrubbing, the surname is learnt.
    let raw = String::from_utf8_lossy(&train_with(&ex, &quick(), false).unwrap().to_bytes())
        .to_lowercase();
    assert!(raw.contains("scaramuzz"));
}

#[test]
fn explanations_show_the_citizens_own_words() {
    let texts = generated(20, 5);
    let model = train(&examples(&texts), &quick()).unwrap();
    let m = msg(
        "",
        "Il BAGNO era sporchissimo e c'era un cattivo ODORE ovunque.",
    );
    let reasons = model.explain(&m, Field::Category, None, 3);
    let words: Vec<&str> = reasons.iter().map(|r| r.word.as_str()).collect();
    assert!(
        words.contains(&"BAGNO") && words.contains(&"ODORE"),
        "{words:?}"
    );
    assert!(reasons.windows(2).all(|w| w[0].weight >= w[1].weight));
    // For another label the same words weigh against, so they are not reasons for it.
    let against = model.explain(&m, Field::Category, Some("TEM.02"), 3);
    assert!(!against.iter().any(|r| r.word == "BAGNO"), "{against:?}");
    // Macro-category and an unknown label.
    assert!(!model.explain(&m, Field::MacroCategory, None, 3).is_empty());
    assert!(model
        .explain(&m, Field::Category, Some("XYZ.99"), 3)
        .is_empty());
}

#[test]
fn a_category_the_hospital_adds_is_learnt_from_its_confirmations() {
    // The shipped corpus files lost belongings under ALT; the hospital adds ALT.05 and confirms
    // it on 30 tickets (weight 3, as suggested for confirmations).
    let texts = generated(20, 6);
    let mut ex = examples(&texts);
    let lost: Vec<(String, String)> = (0..30)
        .map(|i| {
            let what = [
                "il portafoglio",
                "gli occhiali",
                "il cellulare",
                "un anello",
                "la borsa",
                "le chiavi",
            ][i % 6];
            let place = [
                "in sala d'attesa",
                "nel reparto",
                "al bar",
                "in ambulatorio",
                "in corridoio",
            ][i % 5];
            (
                format!("Smarrimento {what}"),
                format!("Buongiorno, ho perso {what} {place}, qualcuno lo ha trovato? Grazie"),
            )
        })
        .collect();
    for (s, b) in &lost {
        ex.push(Example {
            subject: s,
            body: b,
            sender_name: None,
            kind: Some("segnalazione".into()),
            category: Some("ALT.05".into()),
            service: None,
            weight: 3.0,
        });
    }
    let model = train(&ex, &quick()).unwrap();
    let p = model.predict(&msg(
        "Oggetto smarrito",
        "Ieri ho perso il portafoglio nella sala d'attesa della radiologia",
    ));
    assert_eq!(p.category.suggestions[0].label, "ALT.05", "{p:?}");
    assert_eq!(p.macro_category.suggestions[0].label, "ALT");
}

#[test]
fn evaluation_never_scores_training_data_and_counts_every_message() {
    let texts = generated(12, 7);
    let ex = examples(&texts);
    let eval = evaluate(
        &ex,
        &EvalOptions {
            folds: 3,
            seed: 1,
            train: quick(),
        },
    )
    .unwrap();
    let category = eval.field(Field::Category).unwrap();
    assert_eq!(category.labelled, ex.len());
    assert_eq!(category.thresholds.len(), 3);
    let total: usize = category.confusion.automatic.iter().flatten().sum();
    assert_eq!(total, ex.len());
    assert!(category.accuracy_top1 > 0.8, "{}", eval.to_table());
    assert!(eval.to_table().contains("macro_category"));
    let json = serde_json::to_string(&eval).unwrap();
    assert!(json.contains("\"field\":\"service\""));
}

#[test]
fn heavier_examples_outweigh_the_corpus_where_they_disagree() {
    let texts = generated(15, 8);
    let mut ex = examples(&texts);
    // The hospital files cold meals under its own ALB.04, confirmed ten times.
    let cold: Vec<(String, String)> = (0..10)
        .map(|i| {
            (
                "Pranzo".to_string(),
                format!("il pranzo era freddo anche oggi, giorno {i}"),
            )
        })
        .collect();
    for (s, b) in &cold {
        ex.push(Example {
            subject: s,
            body: b,
            sender_name: None,
            kind: Some("reclamo".into()),
            category: Some("ALB.04".into()),
            service: None,
            weight: 5.0,
        });
    }
    let model = train(&ex, &quick()).unwrap();
    let p = model.predict(&msg("Pranzo", "il pranzo era freddo"));
    assert_eq!(p.category.suggestions[0].label, "ALB.04", "{p:?}");
}
