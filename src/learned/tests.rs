//! The learned classifier through the pipeline, the workflow and the store: on an in-memory
//! database, with a model trained on a third of the shipped corpus (quick options: a debug
//! build trains the whole corpus in minutes).

use rusqlite::Connection;

use super::training::{store_trained, Trainer};
use crate::domain::{Actor, AuditActor, ClassField, ClassSource, RecipientKey, Role, TrainReason};
use crate::ingest::pipeline::{prepare, Origin, Outcome, Pipeline, Settings};
use crate::learn::{LinearConfig, TrainOptions};
use crate::store::classifier as sql;
use crate::store::open_in_memory;
use crate::workflow::{self, Classification, Confirmation};

fn quick_trainer() -> Trainer {
    Trainer {
        options: TrainOptions {
            min_calibration_support: 10,
            calibration_folds: 3,
            linear: LinearConfig {
                epochs: 10,
                ..LinearConfig::default()
            },
            ..TrainOptions::default()
        },
        corpus: Some(
            super::corpus::shipped()
                .unwrap()
                .into_iter()
                .step_by(3)
                .collect(),
        ),
        confirmed_weight: super::CONFIRMED_WEIGHT,
    }
}

struct World {
    conn: Connection,
    pipeline: Pipeline,
    n: u32,
    operator: Actor,
}

impl World {
    fn new() -> World {
        let conn = open_in_memory().unwrap();
        conn.execute(
            "INSERT INTO users (email, name, role, password_hash, created_at)
             VALUES ('o@h.test', 'Olga', 'operator', 'x', 'x')",
            [],
        )
        .unwrap();
        World {
            conn,
            pipeline: Pipeline::new(Settings {
                number_prefix: "URP".into(),
                deadline_days: 30,
                reopen_window_days: 60,
                own_addresses: vec![RecipientKey::of("urp@hospital.test")],
                pec_boxes: Default::default(),
                trusted_authserv_id: None,
                istruttoria: Default::default(),
            }),
            n: 0,
            operator: Actor {
                id: 1,
                name: "Olga".into(),
                role: Role::Operator,
            },
        }
    }

    fn train(&mut self) -> i64 {
        let trained = quick_trainer().train(&self.conn).unwrap();
        store_trained(
            &mut self.conn,
            trained,
            TrainReason::OnDemand,
            AuditActor::Cli,
        )
        .unwrap()
        .version
    }

    fn ingest_raw(&mut self, raw: Vec<u8>) -> i64 {
        self.n += 1;
        let origin = Origin::imap(
            "urp",
            1,
            self.n,
            Some("2026-03-02T09:00:00Z".parse().unwrap()),
        );
        let out = self
            .pipeline
            .store_batch(&mut self.conn, &[(prepare(raw, None), origin)], None)
            .unwrap();
        match &out[0] {
            Outcome::Created { ticket, .. } => {
                crate::store::tickets::id_by_number(&self.conn, ticket)
                    .unwrap()
                    .unwrap()
            }
            other => panic!("{other:?}"),
        }
    }

    fn ingest(&mut self, subject: &str, body: &str) -> i64 {
        let n = self.n;
        self.ingest_raw(mail(
            &format!("Carla Neri <c{n}@example.test>"),
            subject,
            "",
            body,
        ))
    }

    fn sources(&self, ticket: i64) -> Vec<sql::FieldSource> {
        sql::sources(&self.conn, ticket).unwrap()
    }

    fn suggested(&self, ticket: i64, field: ClassField) -> Vec<String> {
        sql::suggestions(&self.conn, ticket)
            .unwrap()
            .into_iter()
            .filter(|s| s.field == field)
            .map(|s| s.value)
            .collect()
    }

    fn category_code(&self, ticket: i64) -> Option<String> {
        self.conn
            .query_row(
                "SELECT k.code FROM tickets t LEFT JOIN categories k ON k.id = t.category_id
                  WHERE t.id = ?1",
                [ticket],
                |r| r.get(0),
            )
            .unwrap()
    }
}

fn mail(from: &str, subject: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: urp@hospital.test\r\nSubject: {subject}\r\nMessage-ID: <{}@example.test>\r\n{extra}\r\n{body}\r\n",
        crate::mail::thread::new_token()
    )
    .into_bytes()
}

/// Rules run first and win; the model fills only what they left, only above its thresholds,
/// and every field says where it came from, in the ticket and in the audit log.
#[test]
fn rules_win_the_model_fills_above_its_thresholds_and_every_source_is_recorded() {
    let mut w = World::new();
    let version = w.train();
    let model = sql::latest(&w.conn).unwrap().unwrap();
    // The default rules set TEM.02 and PS for a long wait in the emergency room ("pronto
    // soccorso" and hours of waiting); the model agrees or not, the rules' values stay.
    let t = w.ingest(
        "Attesa infinita",
        "Sono rimasto in pronto soccorso 9 ore di attesa con mia madre anziana, senza che nessuno ci dicesse nulla.",
    );
    assert_eq!(w.category_code(t).as_deref(), Some("TEM.02"));
    let sources = w.sources(t);
    let cat = sources
        .iter()
        .find(|s| s.field == ClassField::Category)
        .unwrap();
    assert_eq!(cat.source, ClassSource::Rule, "{sources:?}");
    assert!(cat.rule_name.is_some());
    assert!(
        w.suggested(t, ClassField::Category).is_empty(),
        "no suggestion where a rule decided"
    );

    // No rule matches these: what the model fills is above its threshold; the rest is suggested.
    let texts = [
        ("Bagni", "I bagni del secondo piano non vengono lavati da giorni, c'è un odore che non si sopporta e il pavimento è appiccicoso."),
        ("Il pranzo", "Il pranzo servito a mio padre in reparto era freddo e scondito, la pasta scotta e la carne immangiabile, tutti i giorni."),
        ("Cartella clinica", "Ho chiesto la copia della cartella clinica del ricovero di mia moglie due mesi fa e non mi è ancora stata consegnata."),
        ("Ascensore", "L'ascensore del padiglione B è fermo da tre settimane e i pazienti in carrozzina non possono salire agli ambulatori."),
    ];
    let mut decided = 0;
    for (subject, body) in texts {
        let t = w.ingest(subject, body);
        for s in w.sources(t) {
            if s.source == ClassSource::Model {
                decided += 1;
                assert_eq!(s.model_version, Some(version));
                let threshold = match s.field {
                    ClassField::Kind => model.thresholds.kind,
                    ClassField::Category => model.thresholds.category,
                    ClassField::Service => model.thresholds.service,
                };
                let threshold = threshold.expect("a field without threshold never decides");
                assert!(
                    s.confidence.unwrap() >= f64::from(threshold) - 1e-6,
                    "{s:?} below {threshold}"
                );
            } else {
                assert_eq!(s.source, ClassSource::Rule);
            }
        }
        // Every field left empty has suggestions (at most three) or was decided "no unit".
        for field in [ClassField::Kind, ClassField::Category] {
            let filled = w.sources(t).iter().any(|s| s.field == field);
            let suggested = w.suggested(t, field);
            assert!(suggested.len() <= 3);
            assert!(filled || !suggested.is_empty(), "{subject}: {field}");
        }
        let audited: String = w
            .conn
            .query_row(
                "SELECT detail FROM audit_log WHERE ticket_id = ?1 AND action = 'ticket.classified'",
                [t],
                |r| r.get(0),
            )
            .unwrap();
        let audited: serde_json::Value = serde_json::from_str(&audited).unwrap();
        assert_eq!(audited["model_version"], version);
        for s in w.sources(t) {
            assert_eq!(
                audited["sources"][s.field.as_str()]["source"],
                s.source.as_str(),
                "{audited}"
            );
        }
    }
    assert!(decided > 0, "the model decided nothing on plain complaints");
}

/// No automatic code on a message without text: empty, or attachments only.
#[test]
fn no_code_on_empty_or_attachment_only_mail() {
    let mut w = World::new();
    w.train();
    let empty = w.ingest("Reclamo", "");
    let attachment_only = w.ingest_raw(mail(
        "Pia Sala <pia@example.test>",
        "Scansione",
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n",
        "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"reclamo.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--",
    ));
    for t in [empty, attachment_only] {
        let model: Vec<_> = w
            .sources(t)
            .into_iter()
            .filter(|s| s.source == ClassSource::Model)
            .collect();
        assert!(model.is_empty(), "{model:?}");
        let kind: Option<String> = w
            .conn
            .query_row("SELECT kind FROM tickets WHERE id = ?1", [t], |r| r.get(0))
            .unwrap();
        assert_eq!(kind, None);
    }
}

/// A 2 MB body, an HTML-only mail and an English one: classified (or suggested) without a panic,
/// and ingest of a 2 MB body stays quick (the model caps what it reads).
#[test]
fn large_html_only_and_english_mail() {
    let mut w = World::new();
    w.train();
    let long = "Il bagno della stanza era sporco e nessuno lo puliva. ".repeat(40_000);
    assert!(long.len() > 2_000_000);
    let started = std::time::Instant::now();
    let t = w.ingest("Sporcizia", &long);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(
        !w.sources(t).is_empty() || !w.suggested(t, ClassField::Category).is_empty(),
        "a long complaint gets a classification or suggestions"
    );
    let html = w.ingest_raw(mail(
        "Ugo Riva <ugo@example.test>",
        "Cibo",
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n",
        "<html><body><p>Il <b>pasto</b> servito in reparto era <i>freddo</i> e immangiabile, la dieta per diabetici non è stata rispettata.</p></body></html>",
    ));
    assert!(!w.sources(html).is_empty() || !w.suggested(html, ClassField::Category).is_empty());
    let english = w.ingest(
        "Complaint",
        "I waited seven hours in the emergency room with my daughter and nobody told us anything. This is unacceptable.",
    );
    // Whatever the model says of English, it stays within its thresholds (checked above) and
    // never panics; the kind at least is suggested.
    assert!(
        w.sources(english)
            .iter()
            .any(|s| s.field == ClassField::Kind)
            || !w.suggested(english, ClassField::Kind).is_empty()
    );
}

/// Lost belongings, written many ways: what the hospital will file under ALT.05.
const LOST: &[&str] = &[
    "Ho dimenticato il portafoglio nella sala d'attesa del pronto soccorso, qualcuno lo ha ritrovato?",
    "Durante il ricovero di mio padre sono spariti i suoi occhiali da vista dal comodino della stanza.",
    "Ho perso un orecchino d'oro nel reparto di radiologia, vorrei sapere se è stato consegnato.",
    "Mia madre ha smarrito la dentiera durante il trasferimento tra i reparti, nessuno sa dove sia finita.",
    "Ho lasciato il cellulare in ambulatorio dopo la visita, a chi devo rivolgermi per riaverlo?",
    "Sono scomparsi gli effetti personali di mio marito: orologio, fede e portafoglio non ci sono più.",
    "Cerco una borsa nera dimenticata ieri sera su una sedia vicino alla cassa del CUP.",
    "Dopo le dimissioni non ci hanno restituito l'apparecchio acustico di mia nonna.",
    "Ho perso le chiavi di casa nel parcheggio interno, qualcuno le ha portate agli oggetti smarriti?",
    "Mio figlio ha lasciato il tablet nella sala giochi della pediatria e non lo troviamo più.",
];

fn lost_message(i: usize) -> (String, String) {
    let openings = [
        "Buongiorno,",
        "Gentili signori,",
        "Salve,",
        "Spett.le URP,",
        "Scusate il disturbo,",
    ];
    let closings = [
        "Grazie per l'aiuto.",
        "Resto in attesa di notizie.",
        "Ringrazio chi potrà aiutarmi.",
        "Cordiali saluti.",
    ];
    let subjects = [
        "Oggetto smarrito",
        "Oggetti persi",
        "Smarrimento",
        "Ho perso una cosa",
        "Ritrovamento",
    ];
    (
        subjects[i % subjects.len()].to_string(),
        format!(
            "{}\n{}\n{}",
            openings[i % openings.len()],
            LOST[i % LOST.len()],
            closings[(i / 3) % closings.len()]
        ),
    )
}

/// The learning test: an administrator adds "ALT.05 Smarrimento oggetti", operators
/// confirm it on 30 tickets, the model is retrained, and new messages about lost belongings are
/// suggested (or given) ALT.05 — learnt from the hospital's confirmations alone.
#[test]
fn a_category_the_hospital_adds_is_learnt_from_thirty_confirmations() {
    let mut w = World::new();
    w.train();
    let alt: i64 = w
        .conn
        .query_row("SELECT id FROM categories WHERE code = 'ALT'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let alt05 = crate::admin::category_add(
        &w.conn,
        AuditActor::User(1),
        "ALT.05",
        "Smarrimento oggetti",
        Some(alt),
    )
    .unwrap();
    for i in 0..30 {
        let (subject, body) = lost_message(i);
        let t = w.ingest(&subject, &body);
        assert_ne!(
            w.category_code(t).as_deref(),
            Some("ALT.05"),
            "not known before the operators taught it"
        );
        let mut c = crate::store::tickets::classification(&w.conn, t)
            .unwrap()
            .unwrap();
        c.category_id = Some(alt05);
        let op = w.operator.clone();
        workflow::in_transaction(&mut w.conn, |tx| {
            workflow::classify(tx, &op, t, &Classification { ..c.clone() })
        })
        .unwrap();
    }
    w.train();
    let fresh = [
        ("Occhiali persi", "Buonasera, ieri in cardiologia ho dimenticato gli occhiali su una sedia dell'ambulatorio. Qualcuno li ha trovati?"),
        ("Portafoglio", "Ho smarrito il portafoglio durante la visita in ortopedia, dentro ci sono i documenti."),
        ("Anello", "Mia zia ha perso l'anello durante il ricovero in medicina, non lo trova più nel comodino."),
    ];
    for (subject, body) in fresh {
        let t = w.ingest(subject, body);
        let got = w.category_code(t);
        let suggested = w.suggested(t, ClassField::Category);
        assert!(
            got.as_deref() == Some("ALT.05")
                || suggested.first().map(String::as_str) == Some("ALT.05"),
            "{subject}: category {got:?}, suggestions {suggested:?}"
        );
    }
}

/// Personal data: a rare surname in the operators' confirmed tickets — written in lower case
/// mid-sentence, where no scrubbing cue catches it — is in the model while those tickets are
/// kept, and gone from every stored model after `anonymise` and a retraining.
#[test]
fn a_rare_surname_is_forgotten_after_anonymise_and_retraining() {
    let mut w = World::new();
    let surname = "zanzotterini";
    let mut tickets = Vec::new();
    for i in 0..6 {
        let t = w.ingest(
            "Pulizia",
            &format!(
                "La stanza {i} era sporca e il bagno non veniva pulito, lo dice anche la famiglia {surname} che era con noi."
            ),
        );
        let mut c = crate::store::tickets::classification(&w.conn, t)
            .unwrap()
            .unwrap();
        c.kind = Some(crate::domain::Kind::Reclamo);
        let op = w.operator.clone();
        workflow::in_transaction(&mut w.conn, |tx| workflow::classify(tx, &op, t, &c)).unwrap();
        tickets.push(t);
    }
    w.train();
    let in_model = |conn: &Connection| -> bool {
        let mut st = conn.prepare("SELECT bytes FROM classifier_models").unwrap();
        let all: Vec<Vec<u8>> = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        all.iter()
            .any(|b| b.windows(9).any(|x| x == &surname.as_bytes()[..9]))
    };
    assert!(
        in_model(&w.conn),
        "the surname should be learnt before anonymisation (else this test proves nothing)"
    );
    w.conn
        .execute(
            "UPDATE tickets SET state = 'closed', closed_at = '2020-01-01T00:00:00Z', outcome = 'accolto'",
            [],
        )
        .unwrap();
    let done = crate::retention::run(&mut w.conn, 30, chrono::Utc::now(), false).unwrap();
    assert_eq!(done.tickets, tickets.len());
    w.train();
    assert!(!in_model(&w.conn), "the surname is still in a stored model");
    assert!(sql::training_tickets(&w.conn).unwrap().is_empty());
}

/// One click confirms a suggestion: the field takes it, becomes the operator's, and the audit
/// log says so; confirming what is set makes every set field the operator's.
#[test]
fn confirming_a_suggestion_sets_the_field_and_its_source() {
    let mut w = World::new();
    let t = w.ingest("Una domanda", "Vorrei sapere a che ora apre l'ufficio.");
    sql::set_suggestions(&w.conn, t, ClassField::Category, &[("INF.02", 0.6)], 1).unwrap();
    let op = w.operator.clone();
    workflow::in_transaction(&mut w.conn, |tx| {
        workflow::confirm(
            tx,
            &op,
            t,
            &Confirmation::Suggestion {
                field: ClassField::Category,
                value: "INF.02".into(),
            },
        )
    })
    .unwrap();
    assert_eq!(w.category_code(t).as_deref(), Some("INF.02"));
    let s = w.sources(t);
    assert_eq!(s.len(), 1);
    assert_eq!(
        (s[0].source, s[0].user_id),
        (ClassSource::Operator, Some(1))
    );
    let audited: i64 = w
        .conn
        .query_row(
            "SELECT count(*) FROM audit_log WHERE ticket_id = ?1 AND action = 'ticket.classification_confirmed' AND actor = 'user:1'",
            [t],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audited, 1);
    // A macro-category alone, or an unknown code, is refused and changes nothing.
    for bad in ["ALT", "XYZ.01"] {
        let r = workflow::in_transaction(&mut w.conn, |tx| {
            workflow::confirm(
                tx,
                &op,
                t,
                &Confirmation::Suggestion {
                    field: ClassField::Category,
                    value: bad.into(),
                },
            )
        });
        assert!(r.is_err(), "{bad}");
    }
    assert_eq!(w.category_code(t).as_deref(), Some("INF.02"));
    // A viewer cannot confirm.
    let viewer = Actor {
        id: 1,
        name: "V".into(),
        role: Role::Viewer,
    };
    assert!(workflow::in_transaction(&mut w.conn, |tx| {
        workflow::confirm(tx, &viewer, t, &Confirmation::Current)
    })
    .is_err());
}
