//! The pages for people: a reader's profile, a book, a status. Plain
//! server-rendered HTML, no script. Every piece of text is escaped
//! ([`escape`]); the content of a status is untrusted HTML (a peer wrote
//! it, or a reader's client) and is reduced to a few formatting tags with
//! no attributes ([`sanitize`]). Which statuses a page may show is decided
//! by the caller, through the library's serving guard.

use archipel::vocab::Iri;

use super::books::{BookStatus, stars};

pub use archipel::federation::routes::escape_html as escape;

const CSS: &str = "body{font:17px/1.5 Georgia,serif;max-width:46rem;margin:2rem auto;padding:0 1rem;\
color:#222;background:#fbf8f1}h1{font-size:1.8rem;margin-bottom:.2rem}h2{margin-top:2rem;\
border-bottom:1px solid #ddd}a{color:#7a4b1e}.meta{color:#666;font-size:.9rem;margin:0}\
article{background:#fff;border-left:3px solid #b8864b;padding:.4rem 1rem;margin:1rem 0}\
article h3{margin:.2rem 0}blockquote{font-style:italic;margin:.5rem 1rem}ul.books li{margin:.2rem 0}";

/// A whole page: the title (escaped here) and the body (already HTML).
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{}</title>\
         <style>{CSS}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

/// A link to `iri` with `text`, only for `http`/`https` IRIs (anything
/// else is shown as text).
pub fn link(iri: &str, text: &str) -> String {
    if iri.starts_with("https://") || iri.starts_with("http://") {
        format!("<a href=\"{}\">{}</a>", escape(iri), escape(text))
    } else {
        escape(text)
    }
}

/// A short name for an actor IRI: `host/users/name` without the scheme.
pub fn handle(actor: &Iri) -> String {
    let s = actor.as_str();
    s.split_once("://").map_or(s, |(_, rest)| rest).to_owned()
}

/// One status as an `<article>`: its title, what it is about, its author,
/// its rating, its (sanitized) text. `link_to` is where the status itself
/// is read (a local page, or the remote original); without it the article
/// has no heading (the page's own title names the status).
pub fn status(
    status: &BookStatus,
    author: &Iri,
    book: (&str, &str),
    link_to: Option<&str>,
) -> String {
    let o = status.object();
    let (kind, rating, quote) = match status {
        BookStatus::Review(s) => ("Review", s.ext.rating, None),
        BookStatus::Rating(s) => ("Rating", s.ext.rating, None),
        BookStatus::Comment(_) => ("Comment", None, None),
        BookStatus::Quotation(s) => ("Quotation", None, s.ext.quote.as_deref()),
    };
    let title = o.name.as_deref().unwrap_or(kind);
    let heading = link_to
        .map(|url| format!("<h3>{}</h3>", link(url, title)))
        .unwrap_or_default();
    let stars = rating.map(|r| escape(&stars(r))).unwrap_or_default();
    let quote = quote
        .map(|q| format!("<blockquote>{}</blockquote>", sanitize(q)))
        .unwrap_or_default();
    format!(
        "<article class=\"status\">{heading}<p class=\"meta\">{kind} of <cite>{}</cite> \
         by {}<span class=\"stars\">{stars}</span></p>{quote}<div class=\"content\">{}</div></article>",
        link(book.0, book.1),
        link(author.as_str(), &handle(author)),
        sanitize(o.content.as_deref().unwrap_or_default()),
    )
}

/// The formatting tags kept from a status's HTML, without attributes.
const KEPT: &[&str] = &[
    "p",
    "br",
    "em",
    "i",
    "strong",
    "b",
    "blockquote",
    "ul",
    "ol",
    "li",
    "code",
];
/// Elements dropped with everything inside them.
const DROPPED: &[&str] = &[
    "script", "style", "template", "iframe", "object", "embed", "svg", "math", "noscript",
    "textarea", "title", "select",
];

/// Untrusted HTML reduced to text and the [`KEPT`] tags, with no
/// attributes (so no script, style, event handler or URL survives), the
/// contents of [`DROPPED`] elements removed, and every tag opened here
/// closed here.
pub fn sanitize(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut open: Vec<&'static str> = Vec::new();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        text(&mut out, rest.get(..lt).unwrap_or_default());
        let after = rest.get(lt + 1..).unwrap_or_default();
        // As in a browser, `<` starts a tag only before a letter, `/`, `!`
        // or `?`; otherwise it is text.
        if !after.starts_with(|c: char| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?')) {
            out.push_str("&lt;");
            rest = after;
            continue;
        }
        let Some(gt) = after.find('>') else {
            text(&mut out, rest.get(lt..).unwrap_or_default());
            return close_all(out, open);
        };
        let tag = after.get(..gt).unwrap_or_default();
        rest = after.get(gt + 1..).unwrap_or_default();
        let closing = tag.starts_with('/');
        let name = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        if !closing && DROPPED.contains(&name.as_str()) {
            // Skip to its end tag, found in place: lower-casing the whole
            // rest for each dropped element made a page of many
            // `<svg></svg>` quadratic to render.
            rest = rest
                .match_indices("</")
                .map(|(i, _)| i)
                .find(|&i| {
                    rest.get(i + 2..i + 2 + name.len())
                        .is_some_and(|n| n.eq_ignore_ascii_case(&name))
                })
                .and_then(|i| rest.get(i..))
                .unwrap_or_default();
            continue;
        }
        let Some(&kept) = KEPT.iter().find(|k| **k == name) else {
            continue;
        };
        if kept == "br" {
            out.push_str("<br>");
        } else if !closing {
            out.push_str(&format!("<{kept}>"));
            open.push(kept);
        } else if let Some(at) = open.iter().rposition(|t| *t == kept) {
            for t in open.drain(at..).rev() {
                out.push_str(&format!("</{t}>"));
            }
        }
    }
    text(&mut out, rest);
    close_all(out, open)
}

fn close_all(mut out: String, open: Vec<&str>) -> String {
    for t in open.into_iter().rev() {
        out.push_str(&format!("</{t}>"));
    }
    out
}

/// Text of an HTML document, re-escaped: a well-formed character
/// reference (`&amp;`, `&#8217;`) is kept, every other `&`, `<`, `>`,
/// `"` and `'` escaped.
fn text(out: &mut String, s: &str) {
    for (i, c) in s.char_indices() {
        match c {
            '&' if is_reference(s.get(i..).unwrap_or_default()) => out.push('&'),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn is_reference(s: &str) -> bool {
    let body: String = s
        .chars()
        .skip(1)
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '#')
        .take(12)
        .collect();
    !body.is_empty() && s.get(1 + body.len()..).is_some_and(|r| r.starts_with(';'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_keeps_formatting_and_drops_everything_active() {
        let hostile = "<p onclick=\"x()\">Fine &amp; <b>bold</b></p><script>document.title='pwned'</script>\
                       <img src=x onerror=\"document.title='pwned'\"><a href=\"javascript:alert(1)\">link</a>\
                       <SCRIPT>alert(2)</SCRIPT><style>p{}</style><blockquote>open";
        assert_eq!(
            sanitize(hostile),
            "<p>Fine &amp; <b>bold</b></p>link<blockquote>open</blockquote>"
        );
        assert_eq!(sanitize("a < b > c \"q\""), "a &lt; b &gt; c &quot;q&quot;");
        assert_eq!(sanitize("<p>x</i></p>"), "<p>x</p>");
        assert_eq!(sanitize("tail <unclosed"), "tail &lt;unclosed");
        assert_eq!(sanitize("<Svg><p>x</p></sVG>y<svg>z"), "y");
        // Many dropped elements stay linear (this took seconds when each
        // one lower-cased the rest of the input).
        let many = "<svg></svg>".repeat(50_000);
        let started = std::time::Instant::now();
        assert_eq!(sanitize(&many), "");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(escape("<b>\"&"), "&lt;b&gt;&quot;&amp;");
    }
}
