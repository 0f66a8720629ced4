//! Synthetic tickets for benchmarks and demonstrations (`ascolto generate-demo`): plausible
//! Italian complaints spread over several years, most of them closed, with citizens who write
//! more than once. Deterministic for a given seed. Never run it on a real database: it refuses
//! one that already has tickets.

use anyhow::{bail, Result};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection};

use crate::domain::{time, Channel, Direction, Kind, Outcome, State};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const SUBJECTS: &[&str] = &[
    "Attesa in pronto soccorso",
    "Reclamo per scortesia",
    "Prenotazione impossibile",
    "Bagni sporchi nel reparto",
    "Parcheggio",
    "Ringraziamento",
    "Richiesta rimborso ticket",
    "Referto non consegnato",
    "Vitto scadente",
    "Lista d'attesa troppo lunga",
    "Suggerimento",
    "Segnalazione guasto",
    "Informazioni mancanti",
    "Dimissioni frettolose",
    "Call center irraggiungibile",
    "Ascensore fermo",
    "Cartella clinica",
    "Comportamento del medico",
    "Stanza fredda",
    "Segnaletica confusa",
];

const SENTENCES: &[&str] = &[
    "Sono stata in pronto soccorso con mia madre e abbiamo atteso più di sette ore.",
    "L'infermiere al triage ci ha risposto in modo sgarbato.",
    "Ho provato a prenotare una visita cardiologica ma il CUP non risponde mai.",
    "I bagni del reparto di medicina erano sporchi e senza sapone.",
    "Il parcheggio dell'ospedale è sempre pieno e non ci sono posti per disabili.",
    "Desidero ringraziare tutto il personale della chirurgia per la gentilezza.",
    "Ho pagato il ticket due volte e chiedo il rimborso della somma.",
    "Il referto della risonanza non mi è ancora stato consegnato dopo un mese.",
    "Il vitto servito in reparto era freddo e poco curato.",
    "La lista d'attesa per l'ecografia è di otto mesi.",
    "Suggerisco di esporre gli orari delle visite all'ingresso.",
    "L'ascensore del padiglione B è guasto da giorni.",
    "Nessuno ci ha informati sulle condizioni di mio padre.",
    "Mio marito è stato dimesso senza una terapia chiara.",
    "Il numero verde squilla a vuoto per ore.",
    "Il medico non si è presentato e non ha spiegato la diagnosi.",
    "La stanza era fredda e il riscaldamento non funzionava.",
    "Le indicazioni per raggiungere la radiologia sono confuse.",
    "Ringrazio il reparto di pediatria per l'attenzione verso mio figlio.",
    "La sala d'attesa non ha abbastanza sedie.",
    "Ho chiesto copia della cartella clinica e aspetto ancora.",
    "Il personale dell'accettazione è stato molto disponibile.",
    "Il distributore dell'acqua era rotto.",
    "La fisioterapia è stata sospesa senza preavviso.",
    "Chiedo che venga verificato quanto accaduto.",
    "Resto in attesa di una risposta scritta.",
    "Cordiali saluti.",
    "Vi prego di intervenire al più presto.",
    "Non è la prima volta che succede.",
    "Spero che la mia segnalazione serva a migliorare il servizio.",
];

const FIRST: &[&str] = &[
    "Maria",
    "Giuseppe",
    "Anna",
    "Luca",
    "Francesca",
    "Marco",
    "Giulia",
    "Antonio",
    "Sara",
    "Paolo",
    "Chiara",
    "Roberto",
];
const LAST: &[&str] = &[
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
    "Greco", "Bruno", "Gallo",
];
/// Kinds in the proportions a hospital sees them (complaints first).
const KINDS: &[Kind] = &[
    Kind::Reclamo,
    Kind::Reclamo,
    Kind::Reclamo,
    Kind::Reclamo,
    Kind::Segnalazione,
    Kind::Segnalazione,
    Kind::Elogio,
    Kind::Suggerimento,
];

/// Fills an empty database with `count` tickets received over the `years` before `until`.
pub fn generate(
    conn: &mut Connection,
    count: usize,
    years: i64,
    until: DateTime<Utc>,
    seed: u64,
) -> Result<()> {
    let existing: i64 = conn.query_row("SELECT count(*) FROM tickets", [], |r| r.get(0))?;
    if existing > 0 {
        bail!("the database already has {existing} tickets: generate-demo fills only an empty one");
    }
    let mut rng = Rng(seed | 1);
    let categories: Vec<i64> = conn
        .prepare("SELECT id FROM categories WHERE parent_id IS NOT NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let services: Vec<i64> = conn
        .prepare("SELECT id FROM services")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let span = Duration::days(365 * years).num_seconds();
    let start = until - Duration::seconds(span);
    let contacts = (count / 3).max(1);
    let tx = conn.transaction()?;
    {
        let mut contact = tx.prepare(
            "INSERT INTO contacts (id, email, name, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for i in 0..contacts {
            let (f, l) = (rng.pick(FIRST), rng.pick(LAST));
            contact.execute(params![
                i as i64 + 1,
                format!(
                    "{}.{}{}@example.test",
                    f.to_lowercase(),
                    l.to_lowercase(),
                    i
                ),
                format!("{f} {l}"),
                crate::store::time_text(start)
            ])?;
        }
        let mut ticket = tx.prepare(
            "INSERT INTO tickets (number, year, seq, thread_token, state, kind, category_id, service_id, contact_id,
               subject, received_at, due_at, channel, needs_attention, taken_in_charge_at, first_answered_at,
               closed_at, outcome, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?11, ?11)",
        )?;
        let mut message = tx.prepare(
            "INSERT INTO messages (ticket_id, direction, message_id, from_email, from_name, subject, body_text, received_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        )?;
        let mut seqs = std::collections::HashMap::<i32, i64>::new();
        // Received times in order, so that numbers follow time as they do for real.
        let step = span / count as i64;
        for i in 0..count {
            let received = start
                + Duration::seconds(step * i as i64 + (rng.below(step.max(1) as usize) as i64));
            let year = time::rome_year(received);
            let seq = seqs.entry(year).or_insert(0);
            *seq += 1;
            let number = format!("URP-{year}-{:06}", seq);
            let age = until - received;
            // Recent tickets are still in work; older ones are closed.
            let state = match age.num_days() {
                d if d < 2 => State::Pending,
                d if d < 10 => *rng.pick(&[State::InCharge, State::Answered, State::Pending]),
                d if d < 40 => *rng.pick(&[
                    State::Answered,
                    State::Closed,
                    State::Closed,
                    State::InCharge,
                ]),
                _ => State::Closed,
            };
            let t = |d: i64| Some(crate::store::time_text(received + Duration::hours(d)));
            let in_charge = (state != State::Pending)
                .then(|| t(1 + rng.below(72) as i64))
                .flatten();
            let answered = matches!(state, State::Answered | State::Closed)
                .then(|| t(24 + rng.below(24 * 40) as i64))
                .flatten();
            let closed = (state == State::Closed)
                .then(|| t(24 * 41 + rng.below(24 * 20) as i64))
                .flatten();
            let contact_id = rng.below(contacts) as i64 + 1;
            let subject = *rng.pick(SUBJECTS);
            let body = (0..3)
                .map(|_| *rng.pick(SENTENCES))
                .collect::<Vec<_>>()
                .join(" ");
            let received_text = crate::store::time_text(received);
            ticket.execute(params![
                number,
                year,
                *seq,
                format!("{:016x}", rng.next()),
                state,
                (rng.below(10) > 0).then(|| *rng.pick(KINDS)),
                (rng.below(20) > 0).then(|| *rng.pick(&categories)),
                (rng.below(3) > 0).then(|| *rng.pick(&services)),
                contact_id,
                subject,
                received_text,
                crate::store::time_text(time::due_at(received, 30)),
                if rng.below(10) == 0 {
                    Channel::Pec
                } else {
                    Channel::Email
                },
                (state.is_open() && rng.below(4) == 0) as i64,
                in_charge,
                answered,
                closed,
                (state == State::Closed).then(|| *rng.pick(Outcome::ALL)),
            ])?;
            let id = tx.last_insert_rowid();
            message.execute(params![
                id,
                Direction::In,
                format!("demo-{i}@example.test"),
                Option::<String>::None,
                Option::<String>::None,
                subject,
                body,
                received_text
            ])?;
            if let Some(at) = &answered {
                if i % 10 == 0 {
                    message.execute(params![id, Direction::Out, format!("demo-answer-{i}@hospital.test"), Option::<String>::None, Option::<String>::None, format!("[{number}] {subject}"), "Gentile utente, abbiamo verificato quanto segnalato e ci scusiamo per il disagio.", at])?;
                }
            }
        }
        for (year, last) in seqs {
            tx.execute(
                "INSERT INTO ticket_sequences (year, last) VALUES (?1, ?2)",
                params![year, last],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}
