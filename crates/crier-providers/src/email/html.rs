//! The HTML part: the text itself, escaped by the template, its `http(s)` URLs made links and
//! its line breaks kept. No other markup: the plain part says the same.

use std::sync::LazyLock;

use askama::Template;
use regex::Regex;

/// A run of the text; a link when `href` is set.
struct Piece {
    text: String,
    href: Option<String>,
}

#[derive(Template)]
#[template(path = "email.html")]
struct EmailHtml {
    lines: Vec<Vec<Piece>>,
}

/// Only `http` and `https`: any other scheme (`javascript:`) stays text. A URL ends at white
/// space, at characters that cannot be in one unescaped, and at a quote.
static URL: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r#"(?i)\bhttps?://[^\s<>"'`]+"#).ok());

/// `None` only if the template failed to render, which its tests rule out.
pub(super) fn render(text: &str) -> Option<String> {
    let lines = text.lines().map(pieces).collect();
    EmailHtml { lines }.render().ok()
}

fn pieces(line: &str) -> Vec<Piece> {
    let text = |s: &str| Piece { text: s.to_owned(), href: None };
    let Some(url) = URL.as_ref() else { return vec![text(line)] };
    let mut out = Vec::new();
    let mut at = 0;
    for found in url.find_iter(line) {
        let link = trim_punctuation(found.as_str());
        out.push(text(&line[at..found.start()]));
        out.push(Piece { text: link.to_owned(), href: Some(link.to_owned()) });
        at = found.start() + link.len();
    }
    out.push(text(&line[at..]));
    out.retain(|p| !p.text.is_empty());
    out
}

/// A sentence's full stop or a closing parenthesis after a URL is not part of it (as the
/// Bluesky provider's link detection decides).
fn trim_punctuation(url: &str) -> &str {
    let url = url.strip_suffix(['.', ',', ';', ':', '!', '?']).unwrap_or(url);
    if url.ends_with(')') && !url.contains('(') { &url[..url.len() - 1] } else { url }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(html: &str) -> &str {
        let start = html.find("<div>").unwrap() + 5;
        &html[start..html.find("</div>").unwrap()]
    }

    #[test]
    fn text_is_escaped_links_made_and_lines_kept() {
        let html = render("Hi <b>you</b> & \"them\"\nSee https://example.com/a?b=1&c=2.\n\nBye").unwrap();
        assert_eq!(
            body(&html),
            "Hi &#60;b&#62;you&#60;/b&#62; &#38; &#34;them&#34;<br>\n\
             See <a href=\"https://example.com/a?b=1&#38;c=2\">https://example.com/a?b=1&#38;c=2</a>.<br>\n\
             <br>\nBye"
        );
    }

    #[test]
    fn only_web_links_are_links() {
        let html = render("javascript:alert(1) (http://x.example/p) ftp://f.example").unwrap();
        assert_eq!(
            body(&html),
            "javascript:alert(1) (<a href=\"http://x.example/p\">http://x.example/p</a>) ftp://f.example"
        );
        let quoted = render("<a href=\"https://e.example/\"onmouseover=x>").unwrap();
        assert!(!quoted.contains("onmouseover=x\""), "{quoted}");
        assert!(body(&quoted).contains("<a href=\"https://e.example/\">"), "{quoted}");
    }
}
