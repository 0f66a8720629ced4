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

/// A logged-in IMAP connection for tests that add mail as a mail program does (APPEND) or look at
/// what the server records (flags, message counts).
pub struct ImapConn {
    r: BufReader<TcpStream>,
    w: TcpStream,
    tag: u32,
}

impl ImapConn {
    pub fn login(port: u16, user: &str, password: &str) -> ImapConn {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut conn = ImapConn {
            r: BufReader::new(stream.try_clone().unwrap()),
            w: stream,
            tag: 0,
        };
        let mut greeting = Vec::new();
        conn.r.read_until(b'\n', &mut greeting).unwrap();
        conn.ok(&format!("LOGIN {user} {password}"));
        conn
    }

    /// Sends one command; its untagged lines, after checking that it ended in OK.
    pub fn ok(&mut self, command: &str) -> Vec<String> {
        let (status, lines) = self.run(command, None);
        assert!(status.starts_with("OK"), "IMAP {command}: {status}");
        lines
    }

    /// APPENDs `raw` to INBOX; the server's answer (with APPENDUID where it has UIDPLUS).
    pub fn append(&mut self, raw: &[u8]) -> String {
        let (status, _) = self.run(&format!("APPEND INBOX {{{}}}", raw.len()), Some(raw));
        assert!(status.starts_with("OK"), "IMAP APPEND: {status}");
        status
    }

    /// The number of messages in INBOX and how many carry any of `\Seen`, `\Deleted`,
    /// `\Flagged` or `\Answered`, read without changing anything (EXAMINE).
    pub fn inbox_state(&mut self) -> (usize, usize) {
        let exists = self
            .ok("EXAMINE INBOX")
            .iter()
            .find_map(|l| l.strip_suffix(" EXISTS")?.strip_prefix("* ")?.parse().ok())
            .unwrap_or(0);
        let flagged = if exists == 0 {
            0
        } else {
            self.ok("FETCH 1:* (FLAGS)")
                .iter()
                .filter(|l| {
                    ["\\Seen", "\\Deleted", "\\Flagged", "\\Answered"]
                        .iter()
                        .any(|f| l.contains(f))
                })
                .count()
        };
        (exists, flagged)
    }

    fn run(&mut self, command: &str, literal: Option<&[u8]>) -> (String, Vec<String>) {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        self.w
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .unwrap();
        let mut lines = Vec::new();
        loop {
            let mut line = Vec::new();
            self.r.read_until(b'\n', &mut line).unwrap();
            assert!(!line.is_empty(), "IMAP connection closed during {command}");
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            if text.starts_with('+') {
                let body = literal.expect("a continuation request for a command without literal");
                self.w.write_all(body).unwrap();
                self.w.write_all(b"\r\n").unwrap();
                continue;
            }
            if let Some(status) = text.strip_prefix(&format!("{tag} ")) {
                return (status.to_string(), lines);
            }
            lines.push(text);
        }
    }
}

impl Drop for ImapConn {
    fn drop(&mut self) {
        let _ = self.w.write_all(b"z LOGOUT\r\n");
    }
}
