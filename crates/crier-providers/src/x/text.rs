//! X's weighted character count, ported from the official `twitter-text` library (3.1.0,
//! `parseTweet` with its default v3 configuration) so that Crier's verdict on a post is X's own.
//!
//! The text is NFC-normalised, then read in UTF-16 code units as JavaScript does: a URL counts
//! 23 whatever its length, an emoji (twemoji's list, ZWJ sequences and flags included) 2, a
//! code unit in U+0000–U+10FF, U+2000–U+200D, U+2010–U+201F or U+2032–U+2037 1, anything else 2
//! (a character outside the BMP once, by its low surrogate). Valid: 1 to 280, and no U+FFFE,
//! U+FEFF or U+FFFF.
//!
//! twitter-text's URL and emoji regexes are used as they are: `regex/*.txt` is generated from the
//! pinned package by `crier-testkit/peers/twitter-text/generate.js`. JavaScript matches them
//! against code units, so Crier matches them against the text with each code unit mapped to one
//! character (surrogates to U+F0000–U+F07FF, see [`Units`]); the test `x_count_differential`
//! compares Crier with the npm package on 10,000 texts.

use std::collections::HashMap;
use std::sync::LazyLock;

use fancy_regex::Regex;
use unicode_normalization::UnicodeNormalization;

/// X's limit, in weighted characters.
pub const MAX_WEIGHTED_LENGTH: usize = 280;
const SCALE: u64 = 100;
const DEFAULT_WEIGHT: u64 = 200;
const TRANSFORMED_URL_LENGTH: u64 = 23;
/// Code units that weigh 100 (one character); every other weighs `DEFAULT_WEIGHT`.
const LIGHT_RANGES: [(u16, u16); 4] =
    [(0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037)];
/// `hasInvalidCharacters`.
const INVALID_UNITS: [u16; 3] = [0xFFFE, 0xFEFF, 0xFFFF];
/// `extractUrlsWithIndices`'s bounds.
const MAX_URL_LENGTH: usize = 4096;
const MAX_TCO_SLUG_LENGTH: usize = 40;
const MAX_DOMAIN_LABEL_LENGTH: usize = 63;
const DEFAULT_PROTOCOL: &str = "https://";

fn compile(source: &str) -> Regex {
    fancy_regex::RegexBuilder::new(source.trim_end())
        .backtrack_limit(10_000_000)
        .build()
        // The patterns are generated files checked by this module's tests.
        .unwrap_or_else(|err| panic!("a generated twitter-text pattern does not compile: {err}"))
}

static EXTRACT_URL: LazyLock<Regex> = LazyLock::new(|| compile(include_str!("regex/extract_url.txt")));
static VALID_ASCII_DOMAIN: LazyLock<Regex> =
    LazyLock::new(|| compile(include_str!("regex/valid_ascii_domain.txt")));
static VALID_TCO_URL: LazyLock<Regex> = LazyLock::new(|| compile(include_str!("regex/valid_tco_url.txt")));
static EMOJI: LazyLock<Regex> = LazyLock::new(|| compile(include_str!("regex/emoji.txt")));

/// twitter-text's verdict on a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextCount {
    pub weighted_length: usize,
    pub valid: bool,
}

/// X's weighted length of `text`.
pub fn weighted_length(text: &str) -> usize {
    parse_text(text).weighted_length
}

/// `parseTweet(text)`: the weighted length, and whether X takes the text.
pub fn parse_text(text: &str) -> TextCount {
    let normalized: String = text.nfc().collect();
    let units = Units::new(&normalized);
    let mut urls = HashMap::new();
    for url in extract_urls(&units) {
        urls.insert(url.start, url.length);
    }
    let mut emoji = HashMap::new();
    for found in EMOJI.find_iter(&units.mapped).filter_map(Result::ok) {
        emoji.insert(
            units.index_of(found.start()),
            units.index_of(found.end()) - units.index_of(found.start()),
        );
    }
    let code = &units.units;
    let mut weighted: u64 = 0;
    let mut valid = true;
    let mut i = 0;
    while i < code.len() {
        if let Some(length) = urls.get(&i) {
            weighted += TRANSFORMED_URL_LENGTH * SCALE;
            i += length.saturating_sub(1);
        } else if let Some(length) = emoji.get(&i) {
            weighted += DEFAULT_WEIGHT;
            i += length.saturating_sub(1);
        } else {
            if is_surrogate_pair(code, i) {
                i += 1;
            }
            weighted += weight(code[i]);
        }
        // As twitter-text: only the last code unit of an entity is checked.
        if valid {
            valid = !code.get(i).is_some_and(|u| INVALID_UNITS.contains(u));
        }
        i += 1;
    }
    let weighted_length = usize::try_from(weighted / SCALE).unwrap_or(usize::MAX);
    TextCount {
        weighted_length,
        valid: valid && weighted_length > 0 && weighted_length <= MAX_WEIGHTED_LENGTH,
    }
}

fn weight(unit: u16) -> u64 {
    if LIGHT_RANGES.iter().any(|(start, end)| (*start..=*end).contains(&unit)) {
        SCALE
    } else {
        DEFAULT_WEIGHT
    }
}

fn is_surrogate_pair(code: &[u16], i: usize) -> bool {
    i + 1 < code.len() && (0xD800..=0xDBFF).contains(&code[i]) && (0xDC00..=0xDFFF).contains(&code[i + 1])
}

/// A text as JavaScript sees it: UTF-16 code units, and the same units as a Rust string with one
/// character per unit (a surrogate D800–DFFF as U+F0000–U+F07FF, ſ as U+F0800, any other unit as
/// itself), which the generated patterns are written for.
struct Units {
    units: Vec<u16>,
    mapped: String,
    /// The byte offset in `mapped` of each unit, and of the end.
    offsets: Vec<usize>,
}

/// Where U+017F (ſ) goes: Rust's case-insensitive matching equates it with `s`, JavaScript's
/// does not, so it is moved to a character without case (the patterns know it there).
const LONG_S: u16 = 0x017F;
const LONG_S_ALIAS: u32 = 0xF0800;

fn map_unit(unit: u16) -> char {
    let code = match unit {
        0xD800..=0xDFFF => 0xF0000 + u32::from(unit - 0xD800),
        LONG_S => LONG_S_ALIAS,
        _ => u32::from(unit),
    };
    char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)
}

fn unmap(c: char) -> u16 {
    let unit = match u32::from(c) {
        code @ 0xF0000..=0xF07FF => code - 0xF0000 + 0xD800,
        LONG_S_ALIAS => u32::from(LONG_S),
        code => code,
    };
    u16::try_from(unit).unwrap_or(0xFFFD)
}

/// Length in code units of a mapped string.
fn length(mapped: &str) -> usize {
    mapped.chars().count()
}

impl Units {
    fn new(text: &str) -> Self {
        let units: Vec<u16> = text.encode_utf16().collect();
        let mut mapped = String::with_capacity(text.len() + units.len());
        let mut offsets = Vec::with_capacity(units.len() + 1);
        for unit in &units {
            offsets.push(mapped.len());
            mapped.push(map_unit(*unit));
        }
        offsets.push(mapped.len());
        Self { units, mapped, offsets }
    }

    /// The unit at a byte offset of `mapped` (always a character boundary).
    fn index_of(&self, byte: usize) -> usize {
        self.offsets.binary_search(&byte).unwrap_or_else(|i| i)
    }
}

/// A URL twitter-text finds: where it starts, and the length of its `url` (in code units).
struct Url {
    start: usize,
    length: usize,
}

/// `extractUrlsWithIndices(text)` with its default options (URLs without a scheme included).
fn extract_urls(units: &Units) -> Vec<Url> {
    let text = units.mapped.as_str();
    let mut urls = Vec::new();
    if !text.contains('.') {
        return urls;
    }
    let mut last_index = 0;
    while last_index <= text.len() {
        let Ok(Some(caps)) = EXTRACT_URL.captures_from_pos(text, last_index) else { break };
        let Some(whole) = caps.get(0) else { break };
        last_index = if whole.end() > whole.start() {
            whole.end()
        } else {
            whole.end() + text[whole.end()..].chars().next().map_or(1, char::len_utf8)
        };
        let group = |n: usize| caps.get(n).map_or("", |m| m.as_str());
        let (before, url, protocol, domain, path) = (group(2), group(3), group(4), group(5), group(7));
        let end = units.index_of(whole.end());
        let start = end - length(url);
        let scheme = if protocol.is_empty() { DEFAULT_PROTOCOL } else { protocol };
        if !is_valid_url(url, scheme, domain) {
            continue;
        }
        if protocol.is_empty() {
            if before.ends_with(['-', '_', '.', '/']) {
                continue;
            }
            let mut last: Option<Url> = None;
            let mut last_text = "";
            let mut ascii_end = 0;
            for found in VALID_ASCII_DOMAIN.find_iter(domain).filter_map(Result::ok) {
                // `domain.indexOf(asciiDomain, asciiEndPosition)`.
                let from = domain.char_indices().nth(ascii_end).map_or(domain.len(), |(b, _)| b);
                let ascii_start =
                    domain[from..].find(found.as_str()).map_or(usize::MAX, |b| length(&domain[..from + b]));
                ascii_end = ascii_start.saturating_add(length(found.as_str()));
                if let Some(previous) = last.take() {
                    urls.push(previous);
                }
                last = Some(Url { start: start + ascii_start, length: length(found.as_str()) });
                last_text = found.as_str();
            }
            let Some(mut last) = last else { continue };
            if !path.is_empty() {
                // `url.replace(domain, asciiDomain)`: the first occurrence.
                last.length = length(&url.replacen(domain, last_text, 1));
            }
            urls.push(last);
        } else {
            let mut url_length = length(url);
            if let Ok(Some(tco)) = VALID_TCO_URL.captures(url) {
                let slug = tco.get(1).map_or("", |m| m.as_str());
                if length(slug) > MAX_TCO_SLUG_LENGTH {
                    continue;
                }
                url_length = tco.get(0).map_or(0, |m| length(m.as_str()));
            }
            urls.push(Url { start, length: url_length });
        }
    }
    urls
}

/// `isValidUrl`: the domain's labels are 1 to 63 characters once punycode-encoded, and the URL
/// with its scheme at most 4096.
fn is_valid_url(url: &str, protocol: &str, domain: &str) -> bool {
    // twitter-text's `idna.toAscii` validates the labels and returns the domain unchanged.
    domain_is_valid(domain) && length(protocol) + length(url) <= MAX_URL_LENGTH
}

fn domain_is_valid(domain: &str) -> bool {
    if domain.is_empty() {
        return false;
    }
    if domain.starts_with("xn--") && !VALID_ASCII_DOMAIN.is_match(domain).unwrap_or(false) {
        return false;
    }
    domain.split('.').all(|label| {
        let encoded = punycode_to_ascii_length(label);
        (1..=MAX_DOMAIN_LABEL_LENGTH).contains(&encoded)
    })
}

/// The length of punycode.js 1.4.1's `toASCII(label)`: the part after an `@` (if any) split at
/// dots and ideographic full stops, each non-ASCII part as `xn--` and its punycode.
fn punycode_to_ascii_length(label: &str) -> usize {
    let mut parts = label.split('@');
    let (prefix, rest) = match (parts.next(), parts.next()) {
        (Some(user), Some(host)) => (length(user) + 1, host),
        _ => (0, label),
    };
    let pieces: Vec<&str> = rest.split(['.', '\u{3002}', '\u{FF0E}', '\u{FF61}']).collect();
    let separators = pieces.len() - 1;
    prefix
        + separators
        + pieces
            .iter()
            .map(|piece| {
                if piece.chars().all(|c| (' '..='~').contains(&c)) {
                    length(piece)
                } else {
                    4 + punycode_encode(&code_points(piece)).len()
                }
            })
            .sum::<usize>()
}

/// `ucs2decode`: code points, surrogate pairs joined, lone surrogates kept.
fn code_points(mapped: &str) -> Vec<u32> {
    let units: Vec<u16> = mapped.chars().map(unmap).collect();
    let mut points = Vec::with_capacity(units.len());
    let mut i = 0;
    while i < units.len() {
        let unit = units[i];
        if is_surrogate_pair(&units, i) {
            let high = u32::from(unit - 0xD800);
            let low = u32::from(units[i + 1] - 0xDC00);
            points.push(0x10000 + (high << 10) + low);
            i += 2;
        } else {
            points.push(u32::from(unit));
            i += 1;
        }
    }
    points
}

/// RFC 3492's encoding (as punycode.js `encode`).
fn punycode_encode(input: &[u32]) -> String {
    const BASE: u64 = 36;
    const T_MIN: u64 = 1;
    const T_MAX: u64 = 26;
    fn digit(d: u64) -> char {
        let d = u8::try_from(d).unwrap_or(0);
        char::from(if d < 26 { b'a' + d } else { b'0' + d - 26 })
    }
    fn adapt(delta: u64, points: u64, first: bool) -> u64 {
        let mut delta = if first { delta / 700 } else { delta >> 1 };
        delta += delta / points;
        let mut k = 0;
        while delta > ((BASE - T_MIN) * T_MAX) >> 1 {
            delta /= BASE - T_MIN;
            k += BASE;
        }
        k + (BASE - T_MIN + 1) * delta / (delta + 38)
    }
    let mut output: String = input.iter().filter(|c| **c < 0x80).filter_map(|c| char::from_u32(*c)).collect();
    let basic = output.len() as u64;
    let mut handled = basic;
    if basic > 0 {
        output.push('-');
    }
    let (mut n, mut delta, mut bias) = (0x80_u64, 0_u64, 72_u64);
    let total = input.len() as u64;
    while handled < total {
        let Some(m) = input.iter().map(|c| u64::from(*c)).filter(|c| *c >= n).min() else { break };
        delta += (m - n) * (handled + 1);
        n = m;
        for c in input.iter().map(|c| u64::from(*c)) {
            if c < n {
                delta += 1;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        T_MIN
                    } else if k >= bias + T_MAX {
                        T_MAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    output.push(digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                output.push(digit(q));
                bias = adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta += 1;
        n += 1;
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile() {
        for pattern in [&EXTRACT_URL, &VALID_ASCII_DOMAIN, &VALID_TCO_URL, &EMOJI] {
            assert!(pattern.is_match("x").is_ok());
        }
    }

    #[test]
    fn weights_as_twitter_text() {
        assert_eq!(parse_text("hello"), TextCount { weighted_length: 5, valid: true });
        assert_eq!(weighted_length("日本語"), 6);
        assert_eq!(weighted_length("see https://example.com/a/very/long/path?q=1 now"), 4 + 23 + 4);
        assert_eq!(weighted_length("example.com"), 23);
        assert_eq!(weighted_length("👩‍👩‍👧‍👦"), 2);
        assert_eq!(weighted_length("🇫🇷👍🏽"), 4);
        assert_eq!(weighted_length("e\u{301}"), 1);
        // ſ is not an s to twitter-text (JavaScript's case-insensitive matching).
        assert_eq!(weighted_length("example.ſe"), 10);
        assert_eq!(weighted_length("httpſ://example.com"), 19);
        assert!(!parse_text("").valid);
        assert!(!parse_text("a\u{FEFF}").valid);
        assert!(parse_text(&"a".repeat(280)).valid);
        assert!(!parse_text(&"a".repeat(281)).valid);
        assert!(!parse_text(&"あ".repeat(141)).valid);
    }

    #[test]
    fn punycode_as_rfc_3492() {
        let points: Vec<u32> = "bücher".chars().map(u32::from).collect();
        assert_eq!(punycode_encode(&points), "bcher-kva");
        let points: Vec<u32> = "日本".chars().map(u32::from).collect();
        assert_eq!(punycode_encode(&points), "wgv71a");
    }
}
