//! A hand-written IMAP client, as a citizen's mail program reads their mailbox.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use super::PATIENCE;

/// A minimal IMAP client: LOGIN, EXAMINE INBOX, UID FETCH 1:* BODY.PEEK[]; returns the bodies.
pub fn imap_fetch_all(port: u16, user: &str, password: &str) -> Vec<Vec<u8>> {
    use std::io::Read;
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut r = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    let mut greeting = Vec::new();
    r.read_until(b'\n', &mut greeting).unwrap();
    let mut bodies = Vec::new();
    for (tag, cmd) in [
        ("a", format!("LOGIN {user} {password}")),
        ("b", "EXAMINE INBOX".to_string()),
        ("c", "UID FETCH 1:* BODY.PEEK[]".to_string()),
        ("d", "LOGOUT".to_string()),
    ] {
        w.write_all(format!("{tag} {cmd}\r\n").as_bytes()).unwrap();
        loop {
            let mut line = Vec::new();
            r.read_until(b'\n', &mut line).unwrap();
            assert!(!line.is_empty(), "IMAP connection closed");
            // A literal {N} ends the line: its N bytes are a message body.
            if let Some(len) = literal_len(&line) {
                let mut body = vec![0; len];
                r.read_exact(&mut body).unwrap();
                bodies.push(body);
                continue;
            }
            if line.starts_with(format!("{tag} ").as_bytes()) {
                let ok = line.starts_with(format!("{tag} OK").as_bytes());
                assert!(
                    ok || tag == "b",
                    "IMAP {cmd}: {}",
                    String::from_utf8_lossy(&line)
                );
                if !ok {
                    return Vec::new(); // no INBOX yet: no mail
                }
                break;
            }
        }
    }
    bodies
}

fn literal_len(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n")?.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&line[open + 1..]).ok()?.parse().ok()
}
