//! How Mastodon counts a status's length (its `StatusLengthValidator`): grapheme clusters of the
//! content warning followed by the text, where every URL counts as the instance's
//! `characters_reserved_per_url` whatever its length, and a remote mention `@user@domain` counts
//! only as `@user` (the domain is free, so mentioning someone on a long-named server costs the
//! same as mentioning a neighbour).
//!
//! Mastodon finds URLs with twitter-text's extractor; this is an approximation of it: an
//! `http(s)://` URL (no bare domains: Mastodon asks for `extract_url_without_protocol: false`)
//! whose host has a dot and an alphabetic top-level label, ending before white space and without
//! trailing sentence punctuation. Mentions follow Mastodon's `Account::MENTION_RE` exactly.

use unicode_segmentation::UnicodeSegmentation;

/// The length Mastodon gives a status with this text and content warning.
pub fn character_count(text: &str, spoiler_text: &str, url_weight: usize) -> usize {
    let mut combined = String::with_capacity(spoiler_text.len() + text.len());
    combined.push_str(spoiler_text);
    combined.push_str(&countable_text(text, url_weight));
    combined.graphemes(true).count()
}

/// The text with each URL replaced by `url_weight` placeholder characters and each mention cut
/// to its user part, as Mastodon rewrites it before counting.
fn countable_text(text: &str, url_weight: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        if let Some(end) = url_end(&chars, i, prev) {
            out.extend(std::iter::repeat_n('x', url_weight));
            i = end;
        } else if let Some((user_end, end)) = mention_end(&chars, i, prev) {
            out.extend(&chars[i..user_end]);
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `[[:word:]]`, as Ruby's regular expressions mean it (letters, marks, digits, `_`).
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn starts_with_ignore_case(chars: &[char], at: usize, prefix: &str) -> bool {
    let mut i = at;
    for expected in prefix.chars() {
        match chars.get(i) {
            Some(c) if c.eq_ignore_ascii_case(&expected) => i += 1,
            _ => return false,
        }
    }
    true
}

/// The end of a URL starting at `start`, if one does.
fn url_end(chars: &[char], start: usize, prev: Option<char>) -> Option<usize> {
    // twitter-text does not start a URL right after a word, `@`, `$`, `#` (or inside a path).
    if prev.is_some_and(|p| is_word(p) || "@$#/.".contains(p)) {
        return None;
    }
    let scheme = if starts_with_ignore_case(chars, start, "https://") {
        8
    } else if starts_with_ignore_case(chars, start, "http://") {
        7
    } else {
        return None;
    };
    let body = start + scheme;
    let mut end = body;
    while chars.get(end).is_some_and(|c| !c.is_whitespace() && !"<>\"".contains(*c)) {
        end += 1;
    }
    // Trailing punctuation belongs to the sentence; a closing parenthesis only when unbalanced
    // (`(see https://example.com)`), not in `https://en.wikipedia.org/wiki/Rust_(language)`.
    while end > body {
        let last = chars[end - 1];
        let unbalanced = last == ')' && {
            let count = |p: char| chars[start..end].iter().filter(|&&c| c == p).count();
            count(')') > count('(')
        };
        if !(".,:;!?'".contains(last) || unbalanced) {
            break;
        }
        end -= 1;
    }
    let rest: String = chars[body..end].iter().collect();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let host = host_port.split(':').next().unwrap_or(host_port);
    let (_, tld) = host.rsplit_once('.')?;
    let labels_ok =
        host.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
    let tld_ok = tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic);
    (labels_ok && tld_ok).then_some(end)
}

/// After a run of `part` characters, more runs joined by `.` or `-`: `a.b-c`. Returns where it
/// ends, or `at` when no `part` character is there.
fn dotted_run(chars: &[char], at: usize, part: impl Fn(char) -> bool) -> usize {
    let mut end = at;
    while chars.get(end).copied().is_some_and(&part) {
        end += 1;
    }
    if end == at {
        return at;
    }
    loop {
        let mut next = end;
        while chars.get(next).is_some_and(|c| *c == '.' || *c == '-') {
            next += 1;
        }
        if next == end || !chars.get(next).copied().is_some_and(&part) {
            return end;
        }
        end = next;
        while chars.get(end).copied().is_some_and(&part) {
            end += 1;
        }
    }
}

/// A mention at `start`: (end of `@user`, end of the whole `@user@domain`). Mastodon's
/// `(?<![=\/[:word:]])@(([a-z0-9_]+([.-]+[a-z0-9_]+)*)(?:@[[:word:]]+([.-]+[[:word:]]+)*)?)`,
/// case-insensitive.
fn mention_end(chars: &[char], start: usize, prev: Option<char>) -> Option<(usize, usize)> {
    if chars.get(start) != Some(&'@') || prev.is_some_and(|p| is_word(p) || p == '=' || p == '/') {
        return None;
    }
    let user_end = dotted_run(chars, start + 1, |c| c.is_ascii_alphanumeric() || c == '_');
    if user_end == start + 1 {
        return None;
    }
    let mut end = user_end;
    if chars.get(user_end) == Some(&'@') {
        let domain_end = dotted_run(chars, user_end + 1, is_word);
        if domain_end > user_end + 1 {
            end = domain_end;
        }
    }
    Some((user_end, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(text: &str) -> usize {
        character_count(text, "", 23)
    }

    #[test]
    fn plain_text_counts_graphemes() {
        assert_eq!(count("hello"), 5);
        assert_eq!(count("👨‍👩‍👧‍👦 é"), 3, "a family emoji and a combined accent are one each");
    }

    #[test]
    fn every_url_counts_as_reserved_characters() {
        let long = format!("https://example.com/{}", "a".repeat(200));
        assert_eq!(count(&long), 23);
        assert_eq!(count("see https://x.co."), 4 + 23 + 1, "the full stop is the sentence's");
        assert_eq!(count("(https://en.wikipedia.org/wiki/Rust_(language))"), 1 + 23 + 1);
        assert_eq!(count("HTTPS://EXAMPLE.COM/a"), 23);
        assert_eq!(count("http://localhost/x"), 18, "no dot in the host: not a URL");
        assert_eq!(count("example.com/path"), 16, "no scheme: not a URL");
        assert_eq!(count("a/https://example.com"), 21, "inside a path: not a URL");
    }

    #[test]
    fn mentions_count_without_their_domain() {
        assert_eq!(count("@alice@mastodon.example.org hi"), "@alice hi".len());
        assert_eq!(count("@alice hi"), 9);
        assert_eq!(count("mail me@example.org"), 19, "an address is not a mention");
        assert_eq!(
            count("@alice.@bob@example.org."),
            "@alice.@bob.".len(),
            "a trailing dot is the sentence's"
        );
        assert_eq!(count("@_@"), 3);
    }

    #[test]
    fn the_content_warning_counts_too() {
        assert_eq!(character_count("body", "cw", 23), 6);
        assert_eq!(character_count("https://example.com", "cw", 10), 12);
    }
}
