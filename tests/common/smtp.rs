//! A hand-written SMTP client, as a citizen's mail program talks to Postfix.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use super::PATIENCE;

/// A minimal SMTP client: EHLO, MAIL, RCPT, DATA with dot-stuffing and CRLF line ends.
pub fn smtp_send(port: u16, from: &str, to: &str, raw: &[u8]) -> std::io::Result<()> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(PATIENCE))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let expect = |code: &str, reader: &mut BufReader<TcpStream>| -> std::io::Result<()> {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            if !line.starts_with(code) {
                return Err(std::io::Error::other(format!(
                    "expected {code}, got {line:?}"
                )));
            }
            if line.as_bytes().get(3) == Some(&b' ') {
                return Ok(());
            }
        }
    };
    expect("220", &mut reader)?;
    for (cmd, code) in [
        ("EHLO test.example\r\n".to_string(), "250"),
        (format!("MAIL FROM:<{from}> BODY=8BITMIME\r\n"), "250"),
        (format!("RCPT TO:<{to}>\r\n"), "250"),
        ("DATA\r\n".to_string(), "354"),
    ] {
        writer.write_all(cmd.as_bytes())?;
        expect(code, &mut reader)?;
    }
    let mut data = Vec::with_capacity(raw.len() + raw.len() / 30);
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b".") {
            data.push(b'.');
        }
        data.extend_from_slice(line);
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b".\r\n");
    writer.write_all(&data)?;
    expect("250", &mut reader)?;
    writer.write_all(b"QUIT\r\n")?;
    Ok(())
}
