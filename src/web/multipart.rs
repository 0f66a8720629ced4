//! Forms with files (`multipart/form-data`; issue 15: scanned letters on *Nuovo reclamo*,
//! attachments on the public form; issue 19: the answer with its files), read with the MIME parser ingest already trusts with
//! hostile mail: a form-data body is a MIME multipart once its Content-Type is put in front.

use axum::http::{header, HeaderMap};
use mail_parser::{MessageParser, MimeHeaders, PartType};
use serde::de::DeserializeOwned;

use super::{WebError, WebResult};
use crate::intake::Upload;

/// A whole form with its files, at most (the guard stops reading there; 413 beyond).
pub const MAX_UPLOAD_BYTES: usize = 12 * 1024 * 1024;
/// Files one form may carry.
pub const MAX_FILES: usize = 10;
/// The forms that take files: the guard reads their bodies up to [`MAX_UPLOAD_BYTES`].
pub const UPLOAD_PATHS: &[&str] = &["/reclami/nuovo", "/segnala"];

/// The answer with its files, `/reclami/{number}/risposta/allegati` (its limit comes from
/// `[workflow] attachment_max_bytes`).
pub fn is_answer_with_files(path: &str) -> bool {
    path.strip_prefix("/reclami/")
        .and_then(|rest| rest.strip_suffix("/risposta/allegati"))
        .is_some_and(|number| !number.is_empty() && !number.contains('/'))
}

/// Whether the request's body is `multipart/form-data`.
pub fn is_multipart(headers: &HeaderMap) -> bool {
    content_type(headers).is_some_and(|ct| {
        ct.trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/form-data")
    })
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

/// A form's text fields (name, value) in order, and its files.
type Fields = (Vec<(String, String)>, Vec<Upload>);

/// The text fields and the files of a `multipart/form-data` body. None when it cannot be read
/// as one.
pub fn parse(headers: &HeaderMap, body: &[u8]) -> Option<Fields> {
    let ct = content_type(headers)?;
    if ct.contains(['\r', '\n']) {
        return None;
    }
    let mut raw = format!("Content-Type: {ct}\r\n\r\n").into_bytes();
    raw.extend_from_slice(body);
    let message = MessageParser::default().parse(&raw)?;
    let mut fields = Vec::new();
    let mut files = Vec::new();
    for part in message.parts.iter().skip(1) {
        if matches!(part.body, PartType::Multipart(_)) {
            continue;
        }
        let Some(disposition) = part.content_disposition() else {
            continue;
        };
        let Some(name) = disposition.attribute("name") else {
            continue;
        };
        // A file carries a filename, or at least its own Content-Type (an empty file input
        // sends `filename=""`, which the parser drops); a text field neither.
        let filename = disposition.attribute("filename");
        match (filename, part.content_type().is_some()) {
            (None, false) => fields.push((
                name.to_string(),
                String::from_utf8_lossy(part.contents()).into_owned(),
            )),
            (None, true) if part.contents().is_empty() => {} // a file input left empty
            (filename, _) => {
                let bytes = part.contents();
                files.push(Upload {
                    filename: filename.unwrap_or("allegato").to_string(),
                    content_type: part
                        .content_type()
                        .map(|c| match c.subtype() {
                            Some(sub) => format!("{}/{sub}", c.ctype()),
                            None => c.ctype().to_string(),
                        })
                        .unwrap_or_else(|| "application/octet-stream".into()),
                    bytes: bytes.to_vec(),
                });
            }
        }
    }
    Some((fields, files))
}

/// A form as its handler wants it: its fields into `T` and its files, from either encoding.
pub fn form<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> WebResult<(T, Vec<Upload>)> {
    let bad = || WebError::Refused(crate::texts::BAD_FORM.into());
    let (pairs, files) = if is_multipart(headers) {
        parse(headers, body).ok_or_else(bad)?
    } else {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| bad())?;
        (pairs, Vec::new())
    };
    if files.len() > MAX_FILES {
        return Err(WebError::Refused(crate::texts::TOO_MANY_FILES.into()));
    }
    // The fields, once more as a query string: one deserializer for both encodings.
    let encoded = serde_urlencoded::to_string(&pairs).map_err(|_| bad())?;
    let form = serde_urlencoded::from_str(&encoded).map_err(|_| bad())?;
    Ok((form, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            "multipart/form-data; boundary=----x".parse().unwrap(),
        );
        h
    }

    const BODY: &str = "------x\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\nabc\r\n\
------x\r\nContent-Disposition: form-data; name=\"testo\"\r\n\r\nPerché è così\r\n\
------x\r\nContent-Disposition: form-data; name=\"allegati\"; filename=\"lettera.pdf\"\r\n\
Content-Type: application/pdf\r\n\r\n%PDF-1.4 x\r\n\
------x\r\nContent-Disposition: form-data; name=\"allegati\"; filename=\"\"\r\n\
Content-Type: application/octet-stream\r\n\r\n\r\n------x--\r\n";

    #[test]
    fn fields_and_files_of_a_browsers_form() {
        let (fields, files) = parse(&headers(), BODY.as_bytes()).unwrap();
        assert_eq!(
            fields,
            [
                ("_csrf".to_string(), "abc".to_string()),
                ("testo".to_string(), "Perché è così".to_string())
            ]
        );
        assert_eq!(files.len(), 1, "the empty file input is no file");
        assert_eq!(files[0].filename, "lettera.pdf");
        assert_eq!(files[0].content_type, "application/pdf");
        assert_eq!(files[0].bytes, b"%PDF-1.4 x");
    }
}
