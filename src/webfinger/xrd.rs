//! A small, bounded reader for XRD 1.0 documents (RFC 6415 host-meta and
//! legacy LRDD answers), turning them into a [`Jrd`].
//!
//! Only what WebFinger needs is read: `Subject`, `Alias` and `Link`
//! (`rel`, `type`, `href`, `template`). It is not a general XML parser:
//! comments, processing instructions and other elements are skipped, entity
//! references are the five predefined ones plus numeric references.

use super::{Jrd, JrdLink, WebFingerError};

/// Largest XRD document accepted, in bytes.
pub const MAX_XRD_BYTES: usize = 64 * 1024;

/// Parses an XRD document into a [`Jrd`].
///
/// ```
/// let xrd = br#"<?xml version="1.0"?><XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">
///   <Link rel="lrdd" type="application/xrd+xml"
///         template="https://example.com/.well-known/webfinger?resource={uri}"/></XRD>"#;
/// let jrd = archipel::webfinger::parse_xrd(xrd).unwrap();
/// assert_eq!(jrd.links()[0].template.as_deref(),
///            Some("https://example.com/.well-known/webfinger?resource={uri}"));
/// ```
///
/// # Errors
/// [`WebFingerError::InvalidXrd`] when the input is too large, not UTF-8,
/// has no `XRD` element, or has a malformed tag.
pub fn parse_xrd(bytes: &[u8]) -> Result<Jrd, WebFingerError> {
    let bad = |reason: &str| WebFingerError::InvalidXrd {
        reason: reason.to_owned(),
    };
    if bytes.len() > MAX_XRD_BYTES {
        return Err(bad("document exceeds 65536 bytes"));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
    let mut jrd = Jrd::default();
    let mut saw_xrd = false;
    let mut rest = text;
    while let Some(pos) = rest.find('<') {
        rest = rest.get(pos + 1..).unwrap_or("");
        if let Some(r) = rest.strip_prefix("!--") {
            let end = r.find("-->").ok_or_else(|| bad("unterminated comment"))?;
            rest = r.get(end + 3..).unwrap_or("");
            continue;
        }
        let end = rest.find('>').ok_or_else(|| bad("unterminated tag"))?;
        let tag = rest.get(..end).unwrap_or("");
        rest = rest.get(end + 1..).unwrap_or("");
        if tag.starts_with(['?', '!', '/']) {
            continue;
        }
        let name_end = tag
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(tag.len());
        let name = tag.get(..name_end).unwrap_or("");
        let local = name.rsplit(':').next().unwrap_or(name);
        let attrs = tag.get(name_end..).unwrap_or("");
        match local {
            "XRD" => saw_xrd = true,
            "Subject" | "Alias" => {
                let end = rest.find('<').unwrap_or(rest.len());
                let value = unescape(rest.get(..end).unwrap_or("").trim())
                    .ok_or_else(|| bad("invalid entity reference"))?;
                if local == "Subject" {
                    jrd.subject = Some(value);
                } else {
                    jrd.aliases.get_or_insert_with(Vec::new).push(value);
                }
            }
            "Link" => {
                if jrd.links().len() >= super::jrd::MAX_LINKS {
                    return Err(bad("too many links"));
                }
                let mut link = JrdLink::default();
                for (k, v) in attributes(attrs).ok_or_else(|| bad("malformed Link attributes"))? {
                    match k {
                        "rel" => link.rel = v,
                        "type" => link.media_type = Some(v),
                        "href" => link.href = Some(v),
                        "template" => link.template = Some(v),
                        _ => {}
                    }
                }
                jrd.push_link(link);
            }
            _ => {}
        }
    }
    if !saw_xrd {
        return Err(bad("no XRD element"));
    }
    Ok(jrd)
}

/// `name="value"` pairs of a start tag; `None` on a malformed list.
fn attributes(mut s: &str) -> Option<Vec<(&str, String)>> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() || s == "/" {
            return Some(out);
        }
        let eq = s.find('=')?;
        let name = s.get(..eq)?.trim();
        let after = s.get(eq + 1..)?.trim_start();
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let body = after.get(1..)?;
        let close = body.find(quote)?;
        out.push((name, unescape(body.get(..close)?)?));
        s = body.get(close + 1..)?;
    }
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(rest.get(..pos)?);
        rest = rest.get(pos + 1..)?;
        let end = rest.find(';')?;
        let ent = rest.get(..end)?;
        let c = match ent {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let n = if let Some(h) = ent.strip_prefix("#x").or_else(|| ent.strip_prefix("#X")) {
                    u32::from_str_radix(h, 16).ok()?
                } else {
                    ent.strip_prefix('#')?.parse().ok()?
                };
                char::from_u32(n)?
            }
        };
        out.push(c);
        rest = rest.get(end + 1..)?;
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_subject_alias_links_and_entities() {
        let xrd = br#"<?xml version='1.0' encoding='UTF-8'?>
<!-- a comment with <Link rel="fake"/> inside -->
<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>
  <Subject>acct:a@b.example</Subject>
  <Alias>https://b.example/@a</Alias>
  <Link rel='lrdd' type="application/jrd+json" template="https://b.example/wf?x=1&amp;resource={uri}"></Link>
  <Link rel="self" href="https://b.example/&#x61;"/>
</XRD>"#;
        let jrd = parse_xrd(xrd).unwrap();
        assert_eq!(jrd.subject.as_deref(), Some("acct:a@b.example"));
        assert_eq!(jrd.aliases(), ["https://b.example/@a"]);
        assert_eq!(jrd.links().len(), 2);
        assert_eq!(
            jrd.links()[0].template.as_deref(),
            Some("https://b.example/wf?x=1&resource={uri}")
        );
        assert_eq!(jrd.links()[1].href.as_deref(), Some("https://b.example/a"));
    }

    #[test]
    fn rejects_malformed() {
        for (input, reason) in [
            (&b"<html><body>hi</body></html>"[..], "no XRD element"),
            (
                b"<XRD><Link rel=\"x\" href=unquoted/></XRD>",
                "malformed Link attributes",
            ),
            (b"<XRD><Link rel=\"x\"", "unterminated tag"),
            (b"<XRD><!-- open", "unterminated comment"),
            (
                b"<XRD><Subject>&bogus;</Subject></XRD>",
                "invalid entity reference",
            ),
            (b"\xff\xfe", "not UTF-8"),
        ] {
            match parse_xrd(input) {
                Err(WebFingerError::InvalidXrd { reason: r }) => assert_eq!(r, reason),
                other => panic!("{other:?}"),
            }
        }
    }
}
