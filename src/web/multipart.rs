//! A small reader of `multipart/form-data` bodies (RFC 7578), for the one form that uploads
//! files: the answer with its attachments. The body has already been read whole, within the
//! guard's size limit; this only splits it into fields.

/// One field of a form: a text field, or a file (with its file name and media type).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// The boundary of a `multipart/form-data` content type, if it is one.
pub fn boundary(content_type: &str) -> Option<String> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty() && b.len() <= 200)
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// A parameter of a `Content-Disposition` header (`name="…"`, `filename="…"`).
fn param(header: &str, key: &str) -> Option<String> {
    let mut rest = header;
    while let Some(i) = rest.find(';') {
        rest = &rest[i + 1..];
        let (k, v) = rest.split_once('=')?;
        let v = v.trim_start();
        let value = if let Some(quoted) = v.strip_prefix('"') {
            quoted.split('"').next().unwrap_or("")
        } else {
            v.split(';').next().unwrap_or("").trim()
        };
        if k.trim().eq_ignore_ascii_case(key) {
            return Some(value.to_string());
        }
    }
    None
}

/// The fields of `body`; None when it is not well formed.
pub fn parse(body: &[u8], boundary: &str) -> Option<Vec<Part>> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut at = find(body, &delimiter, 0)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Some(parts);
        }
        at = find(body, b"\r\n", at)? + 2;
        let head_end = find(body, b"\r\n\r\n", at)?;
        let head = std::str::from_utf8(&body[at..head_end]).ok()?;
        let data_start = head_end + 4;
        let next = find(body, &[b"\r\n", delimiter.as_slice()].concat(), data_start)?;
        let (mut name, mut filename, mut content_type) = (None, None, None);
        for line in head.split("\r\n") {
            let (k, v) = line.split_once(':')?;
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                name = param(v, "name");
                filename = param(v, "filename");
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(v.trim().to_string());
            }
        }
        parts.push(Part {
            name: name?,
            filename,
            content_type,
            data: body[data_start..next].to_vec(),
        });
        at = next + 2 + delimiter.len();
    }
}

/// The first text field called `name`.
pub fn text<'a>(parts: &'a [Part], name: &str) -> Option<&'a str> {
    parts
        .iter()
        .find(|p| p.name == name && p.filename.is_none())
        .and_then(|p| std::str::from_utf8(&p.data).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browsers_form_is_split_into_fields_and_files() {
        let ct = "multipart/form-data; boundary=----x7";
        let b = boundary(ct).unwrap();
        let mut body = Vec::new();
        body.extend_from_slice(
            b"------x7\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\ntok\r\n",
        );
        body.extend_from_slice(b"------x7\r\nContent-Disposition: form-data; name=\"testo\"\r\n\r\nGentile utente,\r\nsaluti\r\n");
        body.extend_from_slice(b"------x7\r\nContent-Disposition: form-data; name=\"allegati\"; filename=\"ref; erto.pdf\"\r\nContent-Type: application/pdf\r\n\r\n");
        body.extend_from_slice(&[0, 1, 2, b'\r', b'\n', 255]);
        body.extend_from_slice(b"\r\n------x7\r\nContent-Disposition: form-data; name=\"allegati\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n------x7--\r\n");
        let parts = parse(&body, &b).unwrap();
        assert_eq!(text(&parts, "_csrf"), Some("tok"));
        assert_eq!(text(&parts, "testo"), Some("Gentile utente,\r\nsaluti"));
        assert_eq!(parts[2].filename.as_deref(), Some("ref; erto.pdf"));
        assert_eq!(parts[2].content_type.as_deref(), Some("application/pdf"));
        assert_eq!(parts[2].data, [0, 1, 2, b'\r', b'\n', 255]);
        assert_eq!(parts[3].filename.as_deref(), Some(""));
        assert!(parts[3].data.is_empty());
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        assert_eq!(parse(b"garbage", &b), None);
    }
}
