-- The classification ascolto starts with, applied once when the database is created. The hospital
-- edits all of it afterwards (backoffice or SQL); nothing here is read again.
--
-- Categories follow the macro-categories Italian health authorities report under; codes are
-- MACRO or MACRO.NN. Rules are case-insensitive Unicode regular expressions (Rust `regex`
-- syntax); lower priority runs first and fills what is still unset.

INSERT INTO categories (code, parent_id, label, position) VALUES
 ('REL', NULL, 'Aspetti relazionali', 10),
 ('UMA', NULL, 'Umanizzazione', 20),
 ('INF', NULL, 'Informazione', 30),
 ('TEM', NULL, 'Tempi e accessibilità', 40),
 ('ALB', NULL, 'Aspetti alberghieri e comfort', 50),
 ('STR', NULL, 'Struttura e logistica', 60),
 ('BUR', NULL, 'Aspetti burocratici amministrativi e organizzativi', 70),
 ('TEC', NULL, 'Aspetti tecnico-professionali', 80),
 ('ALT', NULL, 'Altro', 90);

INSERT INTO categories (code, parent_id, label, position)
SELECT c.code, p.id, c.label, c.position FROM (
  SELECT 'REL.01' AS code, 'REL' AS parent, 'Cortesia e comportamento del personale' AS label, 11 AS position
  UNION ALL SELECT 'REL.02', 'REL', 'Comunicazione con il personale', 12
  UNION ALL SELECT 'UMA.01', 'UMA', 'Rispetto della dignità e della riservatezza', 21
  UNION ALL SELECT 'UMA.02', 'UMA', 'Assistenza e attenzione alla persona', 22
  UNION ALL SELECT 'INF.01', 'INF', 'Informazioni sanitarie al paziente e ai familiari', 31
  UNION ALL SELECT 'INF.02', 'INF', 'Informazioni su servizi, orari e modalità di accesso', 32
  UNION ALL SELECT 'TEM.01', 'TEM', 'Liste d''attesa per visite ed esami', 41
  UNION ALL SELECT 'TEM.02', 'TEM', 'Attese il giorno della prestazione e in pronto soccorso', 42
  UNION ALL SELECT 'TEM.03', 'TEM', 'Prenotazione e raggiungibilità telefonica', 43
  UNION ALL SELECT 'ALB.01', 'ALB', 'Pulizia e igiene degli ambienti', 51
  UNION ALL SELECT 'ALB.02', 'ALB', 'Vitto', 52
  UNION ALL SELECT 'ALB.03', 'ALB', 'Comfort di stanze e spazi di attesa', 53
  UNION ALL SELECT 'STR.01', 'STR', 'Parcheggi, accessi e barriere architettoniche', 61
  UNION ALL SELECT 'STR.02', 'STR', 'Segnaletica e orientamento', 62
  UNION ALL SELECT 'BUR.01', 'BUR', 'Ticket, pagamenti e rimborsi', 71
  UNION ALL SELECT 'BUR.02', 'BUR', 'Documentazione sanitaria, referti e certificati', 72
  UNION ALL SELECT 'BUR.03', 'BUR', 'Organizzazione e procedure', 73
  UNION ALL SELECT 'TEC.01', 'TEC', 'Qualità delle cure e presunti errori', 81
  UNION ALL SELECT 'TEC.02', 'TEC', 'Diagnosi, terapie e dimissioni', 82
) AS c JOIN categories AS p ON p.code = c.parent;

INSERT INTO services (code, name) VALUES
 ('PS', 'Pronto Soccorso'),
 ('CUP', 'CUP - Centro Unico di Prenotazione'),
 ('RAD', 'Radiologia e Diagnostica per immagini'),
 ('LAB', 'Laboratorio Analisi'),
 ('CARD', 'Cardiologia'),
 ('ORT', 'Ortopedia e Traumatologia'),
 ('PED', 'Pediatria'),
 ('OST', 'Ostetricia e Ginecologia'),
 ('MED', 'Medicina Interna'),
 ('CHIR', 'Chirurgia Generale'),
 ('AMM', 'Accettazione e Servizi Amministrativi');

-- Kind rules come first: praise and suggestions are recognised before anything says "reclamo".
INSERT INTO routing_rules (priority, name, field, pattern, kind) VALUES
 (10, 'Elogi e ringraziamenti', 'text',
  '\b(ringrazi\w*|complimenti|elogi\w*|encomi\w*|gratitudine|riconoscenza|grazie di cuore|voglio ringraziare)\b', 'elogio'),
 (20, 'Suggerimenti', 'text',
  '\b(suggeri\w*|suggestion\w*|propost[ae]|propongo|sarebbe (utile|opportuno|bello))\b', 'suggerimento'),
 (30, 'Segnalazioni', 'subject',
  '\b(segnalazione|segnalo|segnalare)\b', 'segnalazione');

INSERT INTO routing_rules (priority, name, field, pattern, category_id, kind)
SELECT r.priority, r.name, r.field, r.pattern, c.id, 'reclamo' FROM (
  SELECT 100 AS priority, 'Presunti errori clinici' AS name, 'text' AS field,
    '\b(errore (medico|clinico|di diagnosi)|diagnosi (sbagliata|errata)|terapia (sbagliata|errata)|malasanità|negligen\w*|imperizia|lesion[ei] durante|infezion[ei] ospedalier\w*)\b' AS pattern,
    'TEC.01' AS code
  UNION ALL SELECT 110, 'Maleducazione del personale', 'text',
    '\b(scortes\w*|maleducat\w*|sgarbat\w*|arrogan\w*|offensiv\w*|insult\w*|urlat[oaie]|villan\w*|modi bruschi|mancanza di rispetto|trattat[oaie] male|sgarbo)\b',
    'REL.01'
  UNION ALL SELECT 120, 'Sporcizia e igiene', 'text',
    '\b(sporc\w*|lerci\w*|igiene|scarsa pulizia|non puliti?|mai pulit\w*|puzz\w*|insetti|scarafagg\w*|blatte)\b',
    'ALB.01'
  UNION ALL SELECT 130, 'Ticket, pagamenti e rimborsi', 'text',
    '\b(pagament\w*|fattur\w*|rimbors\w*|addebit\w*|pagopa|esenzion\w*|ticket (sanitario|pagato|non dovuto)|sanzion\w*)\b',
    'BUR.01'
  UNION ALL SELECT 140, 'Liste d''attesa', 'text',
    '\b(liste? d.attesa|prima data disponibile|tempi di attesa per|fra \d+ mesi|tra \d+ mesi|dopo \d+ mesi)\b',
    'TEM.01'
  UNION ALL SELECT 150, 'Attese in giornata', 'text',
    '\b(attes[ae]|aspettat[oaie]|aspettare|ore di attesa|in ritardo|ritardo di)\b',
    'TEM.02'
  UNION ALL SELECT 160, 'Telefono e prenotazioni', 'text',
    '\b(nessuno risponde|non rispond\w*|telefono (sempre )?(occupato|squilla)|impossibile prenotare|linea (sempre )?occupata)\b',
    'TEM.03'
  UNION ALL SELECT 170, 'Mancate informazioni', 'text',
    '\b(nessuna informazione|senza (alcuna )?informazion\w*|mancanza di informazion\w*|informazioni (errate|sbagliate|contraddittorie)|non (ci |mi )?(è stato|hanno) (detto|spiegato|informat\w*|comunicato)|nessuno (ci |mi )?ha (detto|spiegato|informat\w*))\b',
    'INF.01'
  UNION ALL SELECT 180, 'Documentazione sanitaria', 'text',
    '\b(cartella clinica|referto|referti|certificat\w*|lettera di dimissione)\b',
    'BUR.02'
  UNION ALL SELECT 190, 'Vitto', 'text',
    '\b(vitto|pasti|pasto|cibo|mensa)\b',
    'ALB.02'
  UNION ALL SELECT 200, 'Parcheggi e accessi', 'text',
    '\b(parchegg\w*|barriere architettoniche|ascensor\w*|sedia a rotelle)\b',
    'STR.01'
  UNION ALL SELECT 210, 'Riservatezza', 'text',
    '\b(privacy|riservatezza|dati personali|davanti a tutti)\b',
    'UMA.01'
) AS r JOIN categories AS c ON c.code = r.code;

INSERT INTO routing_rules (priority, name, field, pattern, service_id)
SELECT r.priority, r.name, 'text', r.pattern, s.id FROM (
  SELECT 500 AS priority, 'Servizio: Pronto Soccorso' AS name, '\b(pronto soccorso|p\.\s?s\.|triage|codice (bianco|verde|giallo|azzurro|arancione))' AS pattern, 'PS' AS code
  UNION ALL SELECT 510, 'Servizio: CUP', '\b(cup|centro unico di prenotazione|prenotazion\w*)\b', 'CUP'
  UNION ALL SELECT 520, 'Servizio: Radiologia', '\b(radiolog\w*|radiografi\w*|tac|risonanza|ecografi\w*|mammografi\w*)\b', 'RAD'
  UNION ALL SELECT 530, 'Servizio: Laboratorio', '\b(prelievo|prelievi|analisi del sangue|laboratorio)\b', 'LAB'
  UNION ALL SELECT 540, 'Servizio: Cardiologia', '\b(cardiolog\w*|elettrocardiogramma|ecg|holter)\b', 'CARD'
  UNION ALL SELECT 550, 'Servizio: Ortopedia', '\b(ortoped\w*|frattur\w*|gesso)\b', 'ORT'
  UNION ALL SELECT 560, 'Servizio: Pediatria', '\b(pediatri\w*|bambin[oaie]|neonat\w*)\b', 'PED'
  UNION ALL SELECT 570, 'Servizio: Ostetricia e Ginecologia', '\b(ostetric\w*|ginecolog\w*|parto|sala parto)\b', 'OST'
  UNION ALL SELECT 580, 'Servizio: Amministrazione', '\b(accettazione|sportello|ufficio ticket|cassa)\b', 'AMM'
) AS r JOIN services AS s ON s.code = r.code;
