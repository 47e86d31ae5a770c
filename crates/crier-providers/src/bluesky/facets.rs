//! Bluesky (AT Protocol) rich-text facet detection.
//!
//! A port of `RichText.detectFacets` from the official TypeScript SDK `@atproto/api`
//! (`packages/api/src/rich-text/detection.ts` and `util.ts`, checked against the published
//! 0.19.19 package), so that Crier marks up links, mentions, hashtags and cashtags the same way
//! the Bluesky app does. The JS regexes are reproduced with these care points:
//!
//! * JavaScript's `\s` is not Rust's `\s` (JS includes U+FEFF and excludes U+0085), so an explicit
//!   class ([`JS_WS`]) is used everywhere the SDK says `\s`, `\S` or `trim()`.
//! * JS `\d` is ASCII only and the mention `\b` is an ASCII word boundary (no `u` flag).
//! * The link regex is case-insensitive without the `u` flag, i.e. ASCII-only case folding.
//! * The tag and cashtag patterns use lookaheads, which the `regex` crate lacks; they are matched
//!   by hand following the JS `exec` loop (where the next search starts).
//!
//! Offsets are UTF-8 byte offsets of the original text, as the AT Protocol counts them. The SDK
//! counts the 64-character hashtag limit in UTF-16 code units, and so does this module.
//!
//! One deliberate difference: the SDK skips the domain check and the `https://` prefix for any
//! bare-domain match that merely starts with the letters `http` (e.g. `httpbin.org`), producing a
//! facet whose `uri` has no scheme, which the PDS rejects as an invalid `uri`. Here such a match is
//! treated like every other bare domain (TLD check, then `https://` prepended).

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Value, json};
use unicode_segmentation::UnicodeSegmentation;

/// A span of the text in UTF-8 byte offsets, as AT Protocol counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ByteSlice {
    pub byte_start: usize,
    pub byte_end: usize,
}

/// What a facet marks up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FacetFeature {
    /// A link; bare domains get `https://` prepended, as the SDK does.
    Link { uri: String },
    /// A mention of `@handle`; `handle` is without the `@` and must be resolved to a DID.
    Mention { handle: String },
    /// A hashtag (`tag` without the `#`), or a cashtag (`tag` is `$` + the upper-cased ticker).
    Tag { tag: String },
}

/// One facet found in the text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DetectedFacet {
    pub index: ByteSlice,
    pub feature: FacetFeature,
}

/// JavaScript's `\s` (ECMAScript WhiteSpace + LineTerminator), for use inside a regex class.
const JS_WS: &str =
    r"\t\n\x0B\x0C\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}";

/// The zero-width characters the SDK's `TAG_REGEX` refuses inside a tag (U+200A is also in `JS_WS`).
const TAG_ZERO_WIDTH: &str = r"\x{AD}\x{2060}\x{200A}\x{200B}\x{200C}\x{200D}\x{20E2}";

/// JavaScript's `\s` as a predicate.
fn is_js_ws(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{B}' | '\u{C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\u{FEFF}'
    )
}

/// A character that ends a hashtag: whitespace or one of the SDK's zero-width characters.
fn ends_tag(c: char) -> bool {
    is_js_ws(c) || matches!(c, '\u{AD}' | '\u{2060}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{20E2}')
}

struct Patterns {
    /// `MENTION_REGEX`: `(^|\s|\()(@)([a-zA-Z0-9.-]+)(\b)`.
    mention: Regex,
    /// `URL_REGEX` (flags `gim`).
    link: Regex,
    /// `CASHTAG_REGEX` without its trailing lookahead, which is checked by hand.
    cashtag: Regex,
    /// Matches if a tag body has a character that is not an ASCII digit, whitespace, punctuation
    /// or zero-width: the `[^\d\s\p{P}…]+` part of `TAG_REGEX`.
    tag_core: Regex,
    /// `TRAILING_PUNCTUATION_REGEX`: `\p{P}+$`.
    trailing_punct: Regex,
}

impl Patterns {
    fn new() -> Result<Self, regex::Error> {
        Ok(Self {
            mention: Regex::new(&format!(r"(?:^|[{JS_WS}(])@([a-zA-Z0-9.-]+)(?-u:\b)"))?,
            link: Regex::new(&format!(
                r"(?:^|[{JS_WS}(])(?:(?P<url>[hH][tT][tT][pP][sS]?://[^{JS_WS}]+)|(?P<bare>(?P<domain>[a-zA-Z][a-zA-Z0-9]*(?:\.[a-zA-Z0-9]+)+)[^{JS_WS}]*))"
            ))?,
            cashtag: Regex::new(&format!(r"(?:^|[{JS_WS}(])\$([A-Za-z][A-Za-z0-9]{{0,4}})"))?,
            tag_core: Regex::new(&format!(r"[^0-9{JS_WS}{TAG_ZERO_WIDTH}\p{{P}}]"))?,
            trailing_punct: Regex::new(r"\p{P}+\z")?,
        })
    }
}

/// `None` only if a constant pattern failed to compile, which the tests rule out.
static PATTERNS: LazyLock<Option<Patterns>> = LazyLock::new(|| Patterns::new().ok());

/// Finds links, mentions, hashtags and cashtags in `text`, in text order (stable by start offset,
/// as the SDK sorts them).
pub fn detect_facets(text: &str) -> Vec<DetectedFacet> {
    let Some(p) = PATTERNS.as_ref() else {
        return Vec::new();
    };
    let mut facets = Vec::new();
    detect_mentions(p, text, &mut facets);
    detect_links(p, text, &mut facets);
    detect_tags(p, text, &mut facets);
    detect_cashtags(p, text, &mut facets);
    facets.sort_by_key(|f| f.index.byte_start);
    facets
}

fn push(facets: &mut Vec<DetectedFacet>, byte_start: usize, byte_end: usize, feature: FacetFeature) {
    facets.push(DetectedFacet { index: ByteSlice { byte_start, byte_end }, feature });
}

fn detect_mentions(p: &Patterns, text: &str, facets: &mut Vec<DetectedFacet>) {
    for caps in p.mention.captures_iter(text) {
        let Some(handle) = caps.get(1) else { continue };
        if !is_valid_domain(handle.as_str()) && !handle.as_str().ends_with(".test") {
            continue; // probably not a handle
        }
        // The facet covers the `@`, which is one byte.
        let feature = FacetFeature::Mention { handle: handle.as_str().to_owned() };
        push(facets, handle.start() - 1, handle.end(), feature);
    }
}

fn detect_links(p: &Patterns, text: &str, facets: &mut Vec<DetectedFacet>) {
    for caps in p.link.captures_iter(text) {
        let (mut uri, start, mut end) = if let Some(url) = caps.name("url") {
            // The SDK's `startsWith('http')` is case-sensitive: an upper-case scheme matched the
            // regex (flag `i`) but has no `domain` group, so the SDK skips it.
            if !url.as_str().starts_with("http") {
                continue;
            }
            (url.as_str().to_owned(), url.start(), url.end())
        } else if let (Some(bare), Some(domain)) = (caps.name("bare"), caps.name("domain")) {
            if !is_valid_domain(domain.as_str()) {
                continue;
            }
            (format!("https://{}", bare.as_str()), bare.start(), bare.end())
        } else {
            continue;
        };
        // Strip one ending punctuation mark, then one `)` unless the link has a `(`.
        if uri.ends_with(['.', ',', ';', ':', '!', '?']) {
            uri.pop();
            end -= 1;
        }
        if uri.ends_with(')') && !uri.contains('(') {
            uri.pop();
            end -= 1;
        }
        push(facets, start, end, FacetFeature::Link { uri });
    }
}

/// `TAG_REGEX`: `(^|\s)[#＃]((?!\ufe0f)[^\s ZW]*[^\d\s\p{P} ZW]+[^\s ZW]*)?`, following the JS
/// `exec` loop: when the optional body does not match, the next search starts after the `#`.
fn detect_tags(p: &Patterns, text: &str, facets: &mut Vec<DetectedFacet>) {
    let mut from = 0;
    loop {
        // The next `#` at the start of the text or after whitespace that is itself at or past
        // `from` (the JS match includes that whitespace).
        let mut prev: Option<char> = None;
        let mut found = None;
        for (i, c) in text[from..].char_indices() {
            let i = from + i;
            if (c == '#' || c == '＃') && (i == 0 || prev.is_some_and(is_js_ws)) {
                found = Some((i, i + c.len_utf8()));
                break;
            }
            prev = Some(c);
        }
        let Some((hash_start, body_start)) = found else { break };
        let rest = &text[body_start..];
        let run = &rest[..rest.find(ends_tag).unwrap_or(rest.len())];
        if run.starts_with('\u{FE0F}') || !p.tag_core.is_match(run) {
            from = body_start;
            continue;
        }
        from = body_start + run.len();
        let tag = match p.trailing_punct.find(run) {
            Some(m) => &run[..m.start()],
            None => run,
        };
        // At most 64 characters, which the SDK counts in UTF-16 code units.
        if tag.is_empty() || tag.encode_utf16().count() > 64 {
            continue;
        }
        push(facets, hash_start, body_start + tag.len(), FacetFeature::Tag { tag: tag.to_owned() });
    }
}

/// `CASHTAG_REGEX`: `(^|\s|\()\$([A-Za-z][A-Za-z0-9]{0,4})(?=\s|$|[.,;:!?)"'\u2019])`.
fn detect_cashtags(p: &Patterns, text: &str, facets: &mut Vec<DetectedFacet>) {
    let mut from = 0;
    while let Some(caps) = p.cashtag.captures_at(text, from) {
        let (Some(whole), Some(ticker)) = (caps.get(0), caps.get(1)) else { break };
        let lookahead_ok = text[ticker.end()..].chars().next().is_none_or(|c| {
            is_js_ws(c) || matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | ')' | '"' | '\'' | '\u{2019}')
        });
        if lookahead_ok {
            // Shorter tickers would be followed by a letter or digit, so the greedy one decides.
            let tag = format!("${}", ticker.as_str().to_ascii_uppercase());
            push(facets, ticker.start() - 1, ticker.end(), FacetFeature::Tag { tag });
            from = whole.end();
        } else {
            // As JS does after a failed attempt: retry one character later.
            from = whole.start() + text[whole.start()..].chars().next().map_or(1, char::len_utf8);
        }
    }
}

/// The SDK's `isValidDomain`: the text ends with `.` and a TLD from the `tlds` list (case-sensitive).
fn is_valid_domain(s: &str) -> bool {
    s.rsplit_once('.').is_some_and(|(_, tld)| TLDS.binary_search(&tld).is_ok())
}

/// The record form of the facets, for `app.bsky.feed.post`'s `facets` field. Mentions take their
/// DID from `dids` (handle -> DID, looked up as detected, then lower-cased); a mention whose
/// handle is missing or maps to an empty DID is dropped.
pub fn to_record_facets(facets: &[DetectedFacet], dids: &HashMap<String, String>) -> Value {
    let records = facets
        .iter()
        .filter_map(|f| {
            let feature = match &f.feature {
                FacetFeature::Link { uri } => json!({"$type": "app.bsky.richtext.facet#link", "uri": uri}),
                FacetFeature::Mention { handle } => {
                    let did = dids
                        .get(handle)
                        .or_else(|| dids.get(&handle.to_ascii_lowercase()))
                        .filter(|did| !did.is_empty())?;
                    json!({"$type": "app.bsky.richtext.facet#mention", "did": did})
                }
                FacetFeature::Tag { tag } => json!({"$type": "app.bsky.richtext.facet#tag", "tag": tag}),
            };
            Some(json!({
                "index": {"byteStart": f.index.byte_start, "byteEnd": f.index.byte_end},
                "features": [feature],
            }))
        })
        .collect();
    Value::Array(records)
}

/// Length as Bluesky counts it for its 300 limit: extended grapheme clusters.
pub fn grapheme_len(text: &str) -> usize {
    text.graphemes(true).count()
}

/// The ASCII entries of the `tlds` npm package 1.261.0 (`index.json`), which the SDK uses, sorted
/// for binary search. Its 151 internationalised entries (e.g. `рф`) are left out: the SDK's
/// patterns only ever pass ASCII text to `isValidDomain`, so they can never match.
#[rustfmt::skip]
static TLDS: [&str; 1287] = [
    "aaa", "aarp", "abb", "abbott", "abbvie", "abc", "able", "abogado", "abudhabi", "ac", "academy",
    "accenture", "accountant", "accountants", "aco", "actor", "ad", "ads", "adult", "ae", "aeg", "aero",
    "aetna", "af", "afl", "africa", "ag", "agakhan", "agency", "ai", "aig", "airbus", "airforce", "airtel",
    "akdn", "al", "alibaba", "alipay", "allfinanz", "allstate", "ally", "alsace", "alstom", "am", "amazon",
    "americanexpress", "americanfamily", "amex", "amfam", "amica", "amsterdam", "analytics", "android",
    "anquan", "anz", "ao", "aol", "apartments", "app", "apple", "aq", "aquarelle", "ar", "arab", "aramco",
    "archi", "army", "arpa", "art", "arte", "as", "asda", "asia", "associates", "at", "athleta", "attorney",
    "au", "auction", "audi", "audible", "audio", "auspost", "author", "auto", "autos", "aw", "aws", "ax",
    "axa", "az", "azure", "ba", "baby", "baidu", "banamex", "band", "bank", "bar", "barcelona",
    "barclaycard", "barclays", "barefoot", "bargains", "baseball", "basketball", "bauhaus", "bayern", "bb",
    "bbc", "bbt", "bbva", "bcg", "bcn", "bd", "be", "beats", "beauty", "beer", "berlin", "best", "bestbuy",
    "bet", "bf", "bg", "bh", "bharti", "bi", "bible", "bid", "bike", "bing", "bingo", "bio", "biz", "bj",
    "black", "blackfriday", "blockbuster", "blog", "bloomberg", "blue", "bm", "bms", "bmw", "bn",
    "bnpparibas", "bo", "boats", "boehringer", "bofa", "bom", "bond", "boo", "book", "booking", "bosch",
    "bostik", "boston", "bot", "boutique", "box", "br", "bradesco", "bridgestone", "broadway", "broker",
    "brother", "brussels", "bs", "bt", "build", "builders", "business", "buy", "buzz", "bv", "bw", "by",
    "bz", "bzh", "ca", "cab", "cafe", "cal", "call", "calvinklein", "cam", "camera", "camp", "canon",
    "capetown", "capital", "capitalone", "car", "caravan", "cards", "care", "career", "careers", "cars",
    "casa", "case", "cash", "casino", "cat", "catering", "catholic", "cba", "cbn", "cbre", "cc", "cd",
    "center", "ceo", "cern", "cf", "cfa", "cfd", "cg", "ch", "chanel", "channel", "charity", "chase",
    "chat", "cheap", "chintai", "christmas", "chrome", "church", "ci", "cipriani", "circle", "cisco",
    "citadel", "citi", "citic", "city", "ck", "cl", "claims", "cleaning", "click", "clinic", "clinique",
    "clothing", "cloud", "club", "clubmed", "cm", "cn", "co", "coach", "codes", "coffee", "college",
    "cologne", "com", "commbank", "community", "company", "compare", "computer", "comsec", "condos",
    "construction", "consulting", "contact", "contractors", "cooking", "cool", "coop", "corsica", "country",
    "coupon", "coupons", "courses", "cpa", "cr", "credit", "creditcard", "creditunion", "cricket", "crown",
    "crs", "cruise", "cruises", "cu", "cuisinella", "cv", "cw", "cx", "cy", "cymru", "cyou", "cz", "dad",
    "dance", "data", "date", "dating", "datsun", "day", "dclk", "dds", "de", "deal", "dealer", "deals",
    "degree", "delivery", "dell", "deloitte", "delta", "democrat", "dental", "dentist", "desi", "design",
    "dev", "dhl", "diamonds", "diet", "digital", "direct", "directory", "discount", "discover", "dish",
    "diy", "dj", "dk", "dm", "dnp", "do", "docs", "doctor", "dog", "domains", "dot", "download", "drive",
    "dtv", "dubai", "dupont", "durban", "dvag", "dvr", "dz", "earth", "eat", "ec", "eco", "edeka", "edu",
    "education", "ee", "eg", "email", "emerck", "energy", "engineer", "engineering", "enterprises", "epson",
    "equipment", "er", "ericsson", "erni", "es", "esq", "estate", "et", "eu", "eurovision", "eus", "events",
    "exchange", "expert", "exposed", "express", "extraspace", "fage", "fail", "fairwinds", "faith",
    "family", "fan", "fans", "farm", "farmers", "fashion", "fast", "fedex", "feedback", "ferrari",
    "ferrero", "fi", "fidelity", "fido", "film", "final", "finance", "financial", "fire", "firestone",
    "firmdale", "fish", "fishing", "fit", "fitness", "fj", "fk", "flickr", "flights", "flir", "florist",
    "flowers", "fly", "fm", "fo", "foo", "food", "football", "ford", "forex", "forsale", "forum",
    "foundation", "fox", "fr", "free", "fresenius", "frl", "frogans", "frontier", "ftr", "fujitsu", "fun",
    "fund", "furniture", "futbol", "fyi", "ga", "gal", "gallery", "gallo", "gallup", "game", "games", "gap",
    "garden", "gay", "gb", "gbiz", "gd", "gdn", "ge", "gea", "gent", "genting", "george", "gf", "gg",
    "ggee", "gh", "gi", "gift", "gifts", "gives", "giving", "gl", "glass", "gle", "global", "globo", "gm",
    "gmail", "gmbh", "gmo", "gmx", "gn", "godaddy", "gold", "goldpoint", "golf", "goo", "goodyear", "goog",
    "google", "gop", "got", "gov", "gp", "gq", "gr", "grainger", "graphics", "gratis", "green", "gripe",
    "grocery", "group", "gs", "gt", "gu", "gucci", "guge", "guide", "guitars", "guru", "gw", "gy", "hair",
    "hamburg", "hangout", "haus", "hbo", "hdfc", "hdfcbank", "health", "healthcare", "help", "helsinki",
    "here", "hermes", "hiphop", "hisamitsu", "hitachi", "hiv", "hk", "hkt", "hm", "hn", "hockey",
    "holdings", "holiday", "homedepot", "homegoods", "homes", "homesense", "honda", "horse", "hospital",
    "host", "hosting", "hot", "hotels", "hotmail", "house", "how", "hr", "hsbc", "ht", "hu", "hughes",
    "hyatt", "hyundai", "ibm", "icbc", "ice", "icu", "id", "ie", "ieee", "ifm", "ikano", "il", "im",
    "imamat", "imdb", "immo", "immobilien", "in", "inc", "industries", "infiniti", "info", "ing", "ink",
    "institute", "insurance", "insure", "int", "international", "intuit", "investments", "io", "ipiranga",
    "iq", "ir", "irish", "is", "ismaili", "ist", "istanbul", "it", "itau", "itv", "jaguar", "java", "jcb",
    "je", "jeep", "jetzt", "jewelry", "jio", "jll", "jm", "jmp", "jnj", "jo", "jobs", "joburg", "jot",
    "joy", "jp", "jpmorgan", "jprs", "juegos", "juniper", "kaufen", "kddi", "ke", "kerryhotels",
    "kerryproperties", "kfh", "kg", "kh", "ki", "kia", "kids", "kim", "kindle", "kitchen", "kiwi", "km",
    "kn", "koeln", "komatsu", "kosher", "kp", "kpmg", "kpn", "kr", "krd", "kred", "kuokgroup", "kw", "ky",
    "kyoto", "kz", "la", "lacaixa", "lamborghini", "lamer", "land", "landrover", "lanxess", "lasalle",
    "lat", "latino", "latrobe", "law", "lawyer", "lb", "lc", "lds", "lease", "leclerc", "lefrak", "legal",
    "lego", "lexus", "lgbt", "li", "lidl", "life", "lifeinsurance", "lifestyle", "lighting", "like",
    "lilly", "limited", "limo", "lincoln", "link", "live", "living", "lk", "llc", "llp", "loan", "loans",
    "locker", "locus", "lol", "london", "lotte", "lotto", "love", "lpl", "lplfinancial", "lr", "ls", "lt",
    "ltd", "ltda", "lu", "lundbeck", "luxe", "luxury", "lv", "ly", "ma", "madrid", "maif", "maison",
    "makeup", "man", "management", "mango", "map", "market", "marketing", "markets", "marriott",
    "marshalls", "mattel", "mba", "mc", "mckinsey", "md", "me", "med", "media", "meet", "melbourne", "meme",
    "memorial", "men", "menu", "merckmsd", "mg", "mh", "miami", "microsoft", "mil", "mini", "mint", "mit",
    "mitsubishi", "mk", "ml", "mlb", "mls", "mm", "mma", "mn", "mo", "mobi", "mobile", "moda", "moe", "moi",
    "mom", "monash", "money", "monster", "mormon", "mortgage", "moscow", "moto", "motorcycles", "mov",
    "movie", "mp", "mq", "mr", "ms", "msd", "mt", "mtn", "mtr", "mu", "museum", "music", "mv", "mw", "mx",
    "my", "mz", "na", "nab", "nagoya", "name", "navy", "nba", "nc", "ne", "nec", "net", "netbank",
    "netflix", "network", "neustar", "new", "news", "next", "nextdirect", "nexus", "nf", "nfl", "ng", "ngo",
    "nhk", "ni", "nico", "nike", "nikon", "ninja", "nissan", "nissay", "nl", "no", "nokia", "norton", "now",
    "nowruz", "nowtv", "np", "nr", "nra", "nrw", "ntt", "nu", "nyc", "nz", "obi", "observer", "office",
    "okinawa", "olayan", "olayangroup", "ollo", "om", "omega", "one", "ong", "onl", "online", "ooo", "open",
    "oracle", "orange", "org", "organic", "origins", "osaka", "otsuka", "ott", "ovh", "pa", "page",
    "panasonic", "paris", "pars", "partners", "parts", "party", "pay", "pccw", "pe", "pet", "pf", "pfizer",
    "pg", "ph", "pharmacy", "phd", "philips", "phone", "photo", "photography", "photos", "physio", "pics",
    "pictet", "pictures", "pid", "pin", "ping", "pink", "pioneer", "pizza", "pk", "pl", "place", "play",
    "playstation", "plumbing", "plus", "pm", "pn", "pnc", "pohl", "poker", "politie", "porn", "post", "pr",
    "praxi", "press", "prime", "pro", "prod", "productions", "prof", "progressive", "promo", "properties",
    "property", "protection", "pru", "prudential", "ps", "pt", "pub", "pw", "pwc", "py", "qa", "qpon",
    "quebec", "quest", "racing", "radio", "re", "read", "realestate", "realtor", "realty", "recipes", "red",
    "redumbrella", "rehab", "reise", "reisen", "reit", "reliance", "ren", "rent", "rentals", "repair",
    "report", "republican", "rest", "restaurant", "review", "reviews", "rexroth", "rich", "richardli",
    "ricoh", "ril", "rio", "rip", "ro", "rocks", "rodeo", "rogers", "room", "rs", "rsvp", "ru", "rugby",
    "ruhr", "run", "rw", "rwe", "ryukyu", "sa", "saarland", "safe", "safety", "sakura", "sale", "salon",
    "samsclub", "samsung", "sandvik", "sandvikcoromant", "sanofi", "sap", "sarl", "sas", "save", "saxo",
    "sb", "sbi", "sbs", "sc", "scb", "schaeffler", "schmidt", "scholarships", "school", "schule", "schwarz",
    "science", "scot", "sd", "se", "search", "seat", "secure", "security", "seek", "select", "sener",
    "services", "seven", "sew", "sex", "sexy", "sfr", "sg", "sh", "shangrila", "sharp", "shell", "shia",
    "shiksha", "shoes", "shop", "shopping", "shouji", "show", "si", "silk", "sina", "singles", "site", "sj",
    "sk", "ski", "skin", "sky", "skype", "sl", "sling", "sm", "smart", "smile", "sn", "sncf", "so",
    "soccer", "social", "softbank", "software", "sohu", "solar", "solutions", "song", "sony", "soy", "spa",
    "space", "sport", "spot", "sr", "srl", "ss", "st", "stada", "staples", "star", "statebank", "statefarm",
    "stc", "stcgroup", "stockholm", "storage", "store", "stream", "studio", "study", "style", "su", "sucks",
    "supplies", "supply", "support", "surf", "surgery", "suzuki", "sv", "swatch", "swiss", "sx", "sy",
    "sydney", "systems", "sz", "tab", "taipei", "talk", "taobao", "target", "tatamotors", "tatar", "tattoo",
    "tax", "taxi", "tc", "tci", "td", "tdk", "team", "tech", "technology", "tel", "temasek", "tennis",
    "teva", "tf", "tg", "th", "thd", "theater", "theatre", "tiaa", "tickets", "tienda", "tips", "tires",
    "tirol", "tj", "tjmaxx", "tjx", "tk", "tkmaxx", "tl", "tm", "tmall", "tn", "to", "today", "tokyo",
    "tools", "top", "toray", "toshiba", "total", "tours", "town", "toyota", "toys", "tr", "trade",
    "trading", "training", "travel", "travelers", "travelersinsurance", "trust", "trv", "tt", "tube", "tui",
    "tunes", "tushu", "tv", "tvs", "tw", "tz", "ua", "ubank", "ubs", "ug", "uk", "unicom", "university",
    "uno", "uol", "ups", "us", "uy", "uz", "va", "vacations", "vana", "vanguard", "vc", "ve", "vegas",
    "ventures", "verisign", "versicherung", "vet", "vg", "vi", "viajes", "video", "vig", "viking", "villas",
    "vin", "vip", "virgin", "visa", "vision", "viva", "vivo", "vlaanderen", "vn", "vodka", "volvo", "vote",
    "voting", "voto", "voyage", "vu", "wales", "walmart", "walter", "wang", "wanggou", "watch", "watches",
    "weather", "weatherchannel", "webcam", "weber", "website", "wed", "wedding", "weibo", "weir", "wf",
    "whoswho", "wien", "wiki", "williamhill", "win", "windows", "wine", "winners", "wme", "wolterskluwer",
    "woodside", "work", "works", "world", "wow", "ws", "wtc", "wtf", "xbox", "xerox", "xihuan", "xin",
    "xxx", "xyz", "yachts", "yahoo", "yamaxun", "yandex", "ye", "yodobashi", "yoga", "yokohama", "you",
    "youtube", "yt", "yun", "za", "zappos", "zara", "zero", "zip", "zm", "zone", "zuerich", "zw",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The SDK test's `segments()` + `segmentToOutput`, with handles "resolved" to
    /// `did:fake:<handle>` and tags shown as `""`, as that test does.
    fn segments(text: &str) -> Vec<Vec<String>> {
        let facets = detect_facets(text);
        if facets.is_empty() {
            return vec![vec![text.to_owned()]];
        }
        let mut out = Vec::new();
        let mut cursor = 0;
        for f in &facets {
            let ByteSlice { byte_start, byte_end } = f.index;
            if cursor < byte_start {
                out.push(vec![text[cursor..byte_start].to_owned()]);
            } else if cursor > byte_start {
                continue;
            }
            if byte_start < byte_end {
                let value = match &f.feature {
                    FacetFeature::Mention { handle } => format!("did:fake:{handle}"),
                    FacetFeature::Link { uri } => uri.clone(),
                    FacetFeature::Tag { .. } => String::new(),
                };
                out.push(vec![text[byte_start..byte_end].to_owned(), value]);
            }
            cursor = byte_end;
        }
        if cursor < text.len() {
            out.push(vec![text[cursor..].to_owned()]);
        }
        out
    }

    fn tags_and_indices(text: &str, only_cashtags: bool) -> (Vec<String>, Vec<(usize, usize)>) {
        let mut tags = Vec::new();
        let mut indices = Vec::new();
        for f in detect_facets(text) {
            let is_cashtag = matches!(&f.feature, FacetFeature::Tag { tag } if tag.starts_with('$'));
            if only_cashtags && !is_cashtag {
                continue;
            }
            if let FacetFeature::Tag { tag } = &f.feature {
                tags.push(tag.clone());
            }
            indices.push((f.index.byte_start, f.index.byte_end));
        }
        (tags, indices)
    }

    /// (input, expected tags, expected byte ranges of every facet)
    type TagCase = (&'static str, &'static [&'static str], &'static [(usize, usize)]);

    // ---- Cases ported verbatim from @atproto/api 0.19.19 tests/rich-text-detection.test.ts ----

    const SEGMENT_CASES: &[(&str, &[&[&str]])] = &[
        ("no mention", &[&["no mention"]]),
        ("@handle.com middle end", &[&["@handle.com", "did:fake:handle.com"], &[" middle end"]]),
        ("start @handle.com end", &[&["start "], &["@handle.com", "did:fake:handle.com"], &[" end"]]),
        ("start middle @handle.com", &[&["start middle "], &["@handle.com", "did:fake:handle.com"]]),
        (
            "@handle.com @handle.com @handle.com",
            &[
                &["@handle.com", "did:fake:handle.com"],
                &[" "],
                &["@handle.com", "did:fake:handle.com"],
                &[" "],
                &["@handle.com", "did:fake:handle.com"],
            ],
        ),
        ("@full123-chars.test", &[&["@full123-chars.test", "did:fake:full123-chars.test"]]),
        ("not@right", &[&["not@right"]]),
        ("@handle.com!@#$chars", &[&["@handle.com", "did:fake:handle.com"], &["!@#$chars"]]),
        (
            "@handle.com\n@handle.com",
            &[&["@handle.com", "did:fake:handle.com"], &["\n"], &["@handle.com", "did:fake:handle.com"]],
        ),
        (
            "parenthetical (@handle.com)",
            &[&["parenthetical ("], &["@handle.com", "did:fake:handle.com"], &[")"]],
        ),
        (
            "👨\u{200D}👩\u{200D}👧\u{200D}👧 @handle.com 👨\u{200D}👩\u{200D}👧\u{200D}👧",
            &[
                &["👨\u{200D}👩\u{200D}👧\u{200D}👧 "],
                &["@handle.com", "did:fake:handle.com"],
                &[" 👨\u{200D}👩\u{200D}👧\u{200D}👧"],
            ],
        ),
        (
            "start https://middle.com end",
            &[&["start "], &["https://middle.com", "https://middle.com"], &[" end"]],
        ),
        (
            "start https://middle.com/foo/bar end",
            &[&["start "], &["https://middle.com/foo/bar", "https://middle.com/foo/bar"], &[" end"]],
        ),
        (
            "start https://middle.com/foo/bar?baz=bux end",
            &[
                &["start "],
                &["https://middle.com/foo/bar?baz=bux", "https://middle.com/foo/bar?baz=bux"],
                &[" end"],
            ],
        ),
        (
            "start https://middle.com/foo/bar?baz=bux#hash end",
            &[
                &["start "],
                &["https://middle.com/foo/bar?baz=bux#hash", "https://middle.com/foo/bar?baz=bux#hash"],
                &[" end"],
            ],
        ),
        (
            "https://start.com/foo/bar?baz=bux#hash middle end",
            &[
                &["https://start.com/foo/bar?baz=bux#hash", "https://start.com/foo/bar?baz=bux#hash"],
                &[" middle end"],
            ],
        ),
        (
            "start middle https://end.com/foo/bar?baz=bux#hash",
            &[
                &["start middle "],
                &["https://end.com/foo/bar?baz=bux#hash", "https://end.com/foo/bar?baz=bux#hash"],
            ],
        ),
        (
            "https://newline1.com\nhttps://newline2.com",
            &[
                &["https://newline1.com", "https://newline1.com"],
                &["\n"],
                &["https://newline2.com", "https://newline2.com"],
            ],
        ),
        (
            "👨\u{200D}👩\u{200D}👧\u{200D}👧 https://middle.com 👨\u{200D}👩\u{200D}👧\u{200D}👧",
            &[
                &["👨\u{200D}👩\u{200D}👧\u{200D}👧 "],
                &["https://middle.com", "https://middle.com"],
                &[" 👨\u{200D}👩\u{200D}👧\u{200D}👧"],
            ],
        ),
        ("start middle.com end", &[&["start "], &["middle.com", "https://middle.com"], &[" end"]]),
        (
            "start middle.com/foo/bar end",
            &[&["start "], &["middle.com/foo/bar", "https://middle.com/foo/bar"], &[" end"]],
        ),
        (
            "start middle.com/foo/bar?baz=bux end",
            &[&["start "], &["middle.com/foo/bar?baz=bux", "https://middle.com/foo/bar?baz=bux"], &[" end"]],
        ),
        (
            "start middle.com/foo/bar?baz=bux#hash end",
            &[
                &["start "],
                &["middle.com/foo/bar?baz=bux#hash", "https://middle.com/foo/bar?baz=bux#hash"],
                &[" end"],
            ],
        ),
        (
            "start.com/foo/bar?baz=bux#hash middle end",
            &[
                &["start.com/foo/bar?baz=bux#hash", "https://start.com/foo/bar?baz=bux#hash"],
                &[" middle end"],
            ],
        ),
        (
            "start middle end.com/foo/bar?baz=bux#hash",
            &[&["start middle "], &["end.com/foo/bar?baz=bux#hash", "https://end.com/foo/bar?baz=bux#hash"]],
        ),
        (
            "newline1.com\nnewline2.com",
            &[&["newline1.com", "https://newline1.com"], &["\n"], &["newline2.com", "https://newline2.com"]],
        ),
        (
            "a example.com/index.php php link",
            &[&["a "], &["example.com/index.php", "https://example.com/index.php"], &[" php link"]],
        ),
        ("a trailing bsky.app: colon", &[&["a trailing "], &["bsky.app", "https://bsky.app"], &[": colon"]]),
        ("not.. a..url ..here", &[&["not.. a..url ..here"]]),
        ("e.g.", &[&["e.g."]]),
        ("something-cool.jpg", &[&["something-cool.jpg"]]),
        ("website.com.jpg", &[&["website.com.jpg"]]),
        ("e.g./foo", &[&["e.g./foo"]]),
        ("website.com.jpg/foo", &[&["website.com.jpg/foo"]]),
        (
            "Classic article https://socket3.wordpress.com/2018/02/03/designing-windows-95s-user-interface/",
            &[
                &["Classic article "],
                &[
                    "https://socket3.wordpress.com/2018/02/03/designing-windows-95s-user-interface/",
                    "https://socket3.wordpress.com/2018/02/03/designing-windows-95s-user-interface/",
                ],
            ],
        ),
        (
            "Classic article https://socket3.wordpress.com/2018/02/03/designing-windows-95s-user-interface/ ",
            &[
                &["Classic article "],
                &[
                    "https://socket3.wordpress.com/2018/02/03/designing-windows-95s-user-interface/",
                    "https://socket3.wordpress.com/2018/02/03/designing-windows-95s-user-interface/",
                ],
                &[" "],
            ],
        ),
        (
            "https://foo.com https://bar.com/whatever https://baz.com",
            &[
                &["https://foo.com", "https://foo.com"],
                &[" "],
                &["https://bar.com/whatever", "https://bar.com/whatever"],
                &[" "],
                &["https://baz.com", "https://baz.com"],
            ],
        ),
        (
            "punctuation https://foo.com, https://bar.com/whatever; https://baz.com.",
            &[
                &["punctuation "],
                &["https://foo.com", "https://foo.com"],
                &[", "],
                &["https://bar.com/whatever", "https://bar.com/whatever"],
                &["; "],
                &["https://baz.com", "https://baz.com"],
                &["."],
            ],
        ),
        (
            "parenthentical (https://foo.com)",
            &[&["parenthentical ("], &["https://foo.com", "https://foo.com"], &[")"]],
        ),
        (
            "except for https://foo.com/thing_(cool)",
            &[&["except for "], &["https://foo.com/thing_(cool)", "https://foo.com/thing_(cool)"]],
        ),
    ];

    const TAG_CASES: &[TagCase] = &[
        ("#a", &["a"], &[(0, 2)]),
        ("#a #b", &["a", "b"], &[(0, 2), (3, 5)]),
        ("#1", &[], &[]),
        ("#1a", &["1a"], &[(0, 3)]),
        ("#tag", &["tag"], &[(0, 4)]),
        ("body #tag", &["tag"], &[(5, 9)]),
        ("#tag body", &["tag"], &[(0, 4)]),
        ("body #tag body", &["tag"], &[(5, 9)]),
        ("body #1", &[], &[]),
        ("body #1a", &["1a"], &[(5, 8)]),
        ("body #a1", &["a1"], &[(5, 8)]),
        ("#", &[], &[]),
        ("#?", &[], &[]),
        ("text #", &[], &[]),
        ("text # text", &[], &[]),
        (
            "body #thisisa64characterstring_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            &["thisisa64characterstring_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
            &[(5, 70)],
        ),
        ("body #thisisa65characterstring_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", &[], &[]),
        (
            "body #thisisa64characterstring_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
            &["thisisa64characterstring_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
            &[(5, 70)],
        ),
        ("its a #double#rainbow", &["double#rainbow"], &[(6, 21)]),
        ("##hashash", &["#hashash"], &[(0, 9)]),
        ("##", &[], &[]),
        ("some #n0n3s@n5e!", &["n0n3s@n5e"], &[(5, 15)]),
        ("works #with,punctuation", &["with,punctuation"], &[(6, 23)]),
        (
            "strips trailing #punctuation, #like. #this!",
            &["punctuation", "like", "this"],
            &[(16, 28), (30, 35), (37, 42)],
        ),
        ("strips #multi_trailing___...", &["multi_trailing"], &[(7, 22)]),
        ("works with #🦋 emoji, and #butter🦋fly", &["🦋", "butter🦋fly"], &[(11, 16), (28, 42)]),
        ("#same #same #but #diff", &["same", "same", "but", "diff"], &[(0, 5), (6, 11), (12, 16), (17, 22)]),
        ("this #\u{FE0F}\u{20E3}tag should not be a tag", &[], &[]),
        ("this ##\u{FE0F}\u{20E3}tag should be a tag", &["#\u{FE0F}\u{20E3}tag"], &[(5, 16)]),
        ("this #t\nag should be a tag", &["t"], &[(5, 7)]),
        ("no match (\\u200B): #\u{200B}", &[], &[]),
        ("no match (\\u200Ba): #\u{200B}a", &[], &[]),
        ("match (a\\u200Bb): #a\u{200B}b", &["a"], &[(18, 20)]),
        ("match (ab\\u200B): #ab\u{200B}", &["ab"], &[(18, 21)]),
        ("no match (\\u20e2tag): #\u{20E2}tag", &[], &[]),
        ("no match (a\\u20e2b): #a\u{20E2}b", &["a"], &[(21, 23)]),
        ("match full width number sign (tag): \u{FF03}tag", &["tag"], &[(36, 42)]),
        (
            "match full width number sign (tag): \u{FF03}#\u{FE0F}\u{20E3}tag",
            &["#\u{FE0F}\u{20E3}tag"],
            &[(36, 49)],
        ),
        ("no match 1?: #1?", &[], &[]),
    ];

    const CASHTAG_CASES: &[TagCase] = &[
        ("$AAPL", &["$AAPL"], &[(0, 5)]),
        ("$aapl", &["$AAPL"], &[(0, 5)]),
        ("$A", &["$A"], &[(0, 2)]),
        ("$a", &["$A"], &[(0, 2)]),
        ("$BTC $ETH", &["$BTC", "$ETH"], &[(0, 4), (5, 9)]),
        ("$100", &[], &[]),
        ("$GOOGL", &["$GOOGL"], &[(0, 6)]),
        ("$TOOLONG", &[], &[]),
        ("check $LEGO now", &["$LEGO"], &[(6, 11)]),
        ("($GOOG)", &["$GOOG"], &[(1, 6)]),
        ("$AAPL.", &["$AAPL"], &[(0, 5)]),
        ("$AAPL, $MSFT!", &["$AAPL", "$MSFT"], &[(0, 5), (7, 12)]),
        ("no$SPACE", &[], &[]),
        ("$", &[], &[]),
        ("$ AAPL", &[], &[]),
        ("$123ABC", &[], &[]),
        ("$ABC12", &["$ABC12"], &[(0, 6)]),
        ("$ABC123", &[], &[]),
    ];

    #[test]
    fn patterns_compile() {
        assert!(PATTERNS.is_some());
    }

    #[test]
    fn sdk_segment_cases() {
        for (input, expected) in SEGMENT_CASES {
            let expected: Vec<Vec<String>> =
                expected.iter().map(|seg| seg.iter().map(|s| (*s).to_owned()).collect()).collect();
            assert_eq!(segments(input), expected, "input: {input:?}");
        }
    }

    #[test]
    fn sdk_tag_cases() {
        for (input, tags, indices) in TAG_CASES {
            let (got_tags, got_indices) = tags_and_indices(input, false);
            assert_eq!(got_tags, *tags, "input: {input:?}");
            assert_eq!(got_indices, *indices, "input: {input:?}");
        }
    }

    #[test]
    fn sdk_cashtag_cases() {
        for (input, tags, indices) in CASHTAG_CASES {
            let (got_tags, got_indices) = tags_and_indices(input, true);
            assert_eq!(got_tags, *tags, "input: {input:?}");
            assert_eq!(got_indices, *indices, "input: {input:?}");
        }
    }

    /// From tests/rich-text.test.ts, "calculates bytelength and grapheme length correctly".
    #[test]
    fn sdk_grapheme_cases() {
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F467}";
        assert_eq!(("Hello!".len(), grapheme_len("Hello!")), (6, 6));
        assert_eq!((family.len(), grapheme_len(family)), (25, 1));
        let mixed = format!("{family}🔥 good!✅");
        assert_eq!((mixed.len(), grapheme_len(&mixed)), (38, 9));
    }

    // ---- Crier's own cases ----

    #[test]
    fn grapheme_len_counts_clusters_not_bytes_or_chars() {
        assert_eq!(grapheme_len(""), 0);
        assert_eq!(grapheme_len("日本語"), 3);
        assert_eq!(grapheme_len("e\u{301}"), 1); // e + combining acute
        assert_eq!(grapheme_len("🇫🇷🇩🇪"), 2); // two flags
        assert_eq!(grapheme_len("👍🏽"), 1); // skin-tone modifier
        assert_eq!(grapheme_len(&"a".repeat(300)), 300);
    }

    #[test]
    fn byte_offsets_after_emoji_and_cjk() {
        let text = "🦋 日本語のテキスト example.com/パス と https://bsky.app/profile/x?q=1 です";
        let facets = detect_facets(text);
        assert_eq!(facets.len(), 2);
        assert_eq!(&text[facets[0].index.byte_start..facets[0].index.byte_end], "example.com/パス");
        assert_eq!(facets[0].index, ByteSlice { byte_start: 30, byte_end: 48 });
        assert_eq!(facets[0].feature, FacetFeature::Link { uri: "https://example.com/パス".into() });
        assert_eq!(
            &text[facets[1].index.byte_start..facets[1].index.byte_end],
            "https://bsky.app/profile/x?q=1"
        );
        // The JS SDK converts UTF-16 indices to UTF-8 ones; check against an independent count.
        let utf16_start = text.encode_utf16().count() - " です".encode_utf16().count() - 30;
        let utf8_start =
            String::from_utf16(&text.encode_utf16().take(utf16_start).collect::<Vec<_>>()).unwrap().len();
        assert_eq!(facets[1].index.byte_start, utf8_start);
    }

    #[test]
    fn mentions_and_tags_after_multibyte_text() {
        let text = "こんにちは @alice.bsky.social さん #日本語タグ！ 🎉";
        let facets = detect_facets(text);
        let spans: Vec<&str> = facets.iter().map(|f| &text[f.index.byte_start..f.index.byte_end]).collect();
        assert_eq!(spans, ["@alice.bsky.social", "#日本語タグ"]);
        assert_eq!(facets[0].feature, FacetFeature::Mention { handle: "alice.bsky.social".into() });
        // The full-width `！` is punctuation and is stripped.
        assert_eq!(facets[1].feature, FacetFeature::Tag { tag: "日本語タグ".into() });
    }

    #[test]
    fn mixed_facets_come_out_in_text_order() {
        let text = "$AAPL #stocks by @bob.test see example.org, and (https://x.com/a)";
        let got: Vec<(&str, FacetFeature)> = detect_facets(text)
            .into_iter()
            .map(|f| (&text[f.index.byte_start..f.index.byte_end], f.feature))
            .collect();
        assert_eq!(
            got,
            [
                ("$AAPL", FacetFeature::Tag { tag: "$AAPL".into() }),
                ("#stocks", FacetFeature::Tag { tag: "stocks".into() }),
                ("@bob.test", FacetFeature::Mention { handle: "bob.test".into() }),
                ("example.org", FacetFeature::Link { uri: "https://example.org".into() }),
                ("https://x.com/a", FacetFeature::Link { uri: "https://x.com/a".into() }),
            ]
        );
    }

    #[test]
    fn no_facets() {
        assert!(detect_facets("").is_empty());
        assert!(detect_facets("just words, no links. e.g. this").is_empty());
        assert!(detect_facets("email me@example.com").is_empty());
        assert!(detect_facets("@nodot and @unknown.notatld").is_empty());
    }

    #[test]
    fn tld_check_matches_the_sdk() {
        assert!(is_valid_domain("bsky.app"));
        assert!(is_valid_domain("a.b.co.uk"));
        assert!(!is_valid_domain("file.jpg"));
        assert!(!is_valid_domain("com"));
        assert!(!is_valid_domain("trailing."));
        // The SDK compares case-sensitively against a lower-case list.
        assert!(!is_valid_domain("EXAMPLE.COM"));
        assert!(detect_facets("see Example.COM now").is_empty());
        assert_eq!(
            detect_facets("see Example.com now")[0].feature,
            FacetFeature::Link { uri: "https://Example.com".into() }
        );
    }

    #[test]
    fn tld_list_is_sorted_unique_lowercase_ascii() {
        assert!(TLDS.windows(2).all(|w| w[0] < w[1]));
        assert!(
            TLDS.iter().all(|t| !t.is_empty()
                && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        );
        for tld in ["com", "app", "social", "io", "dev", "xn--p1ai"] {
            assert_eq!(TLDS.binary_search(&tld).is_ok(), tld != "xn--p1ai", "{tld}");
        }
        assert!(TLDS.binary_search(&"test").is_err()); // hence the SDK's `.test` exception
    }

    #[test]
    fn link_scheme_rules() {
        // An upper-case scheme matches the SDK's regex but fails its case-sensitive `http` check.
        assert!(detect_facets("HTTPS://example.com").is_empty());
        // http:// links are kept as they are, without a TLD check.
        assert_eq!(
            detect_facets("go http://localhost.invalid:8080/x")[0].feature,
            FacetFeature::Link { uri: "http://localhost.invalid:8080/x".into() }
        );
        // Deliberate deviation: a bare domain starting with "http" is checked and prefixed.
        assert_eq!(
            detect_facets("try httpbin.org/get")[0].feature,
            FacetFeature::Link { uri: "https://httpbin.org/get".into() }
        );
        assert!(detect_facets("try httpfoo.notatld").is_empty());
    }

    #[test]
    fn link_trailing_punctuation() {
        let uris = |t: &str| -> Vec<String> {
            detect_facets(t)
                .into_iter()
                .filter_map(|f| match f.feature {
                    FacetFeature::Link { uri } => Some(uri),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(uris("go to example.com!"), ["https://example.com"]);
        assert_eq!(uris("really? example.com?"), ["https://example.com"]);
        // Only one mark is stripped, as in the SDK.
        assert_eq!(uris("wow example.com!!"), ["https://example.com!"]);
        assert_eq!(uris("(example.com/a)."), ["https://example.com/a"]); // `.` then `)`
        assert_eq!(uris("(example.com/a)"), ["https://example.com/a"]);
        assert_eq!(
            uris("https://en.wikipedia.org/wiki/Rust_(language)"),
            ["https://en.wikipedia.org/wiki/Rust_(language)"]
        );
        let text = "end: https://a.io/x.";
        let f = &detect_facets(text)[0];
        assert_eq!(&text[f.index.byte_start..f.index.byte_end], "https://a.io/x");
    }

    #[test]
    fn javascript_whitespace_semantics() {
        // U+FEFF is whitespace in JS (not in Rust's \s); U+0085 is not whitespace in JS.
        assert_eq!(detect_facets("a\u{FEFF}example.com").len(), 1);
        assert!(detect_facets("a\u{85}example.com").is_empty());
        // No-break space, ideographic space and line separator all start a facet.
        assert_eq!(detect_facets("x\u{A0}#tag").len(), 1);
        assert_eq!(detect_facets("日本\u{3000}#タグ").len(), 1);
        assert_eq!(detect_facets("one\u{2028}example.com").len(), 1);
        assert_eq!(detect_facets("line\n@alice.test").len(), 1);
        // A tag after a zero-width space is not preceded by whitespace.
        assert!(detect_facets("a\u{200B}#tag").is_empty());
    }

    #[test]
    fn mention_boundaries() {
        let handles = |t: &str| -> Vec<String> {
            detect_facets(t)
                .into_iter()
                .filter_map(|f| match f.feature {
                    FacetFeature::Mention { handle } => Some(handle),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(handles("hi @alice.bsky.social."), ["alice.bsky.social"]);
        assert_eq!(handles("hi @alice.bsky.social, @bob.test!"), ["alice.bsky.social", "bob.test"]);
        assert_eq!(handles("(@Alice.Example.com)"), ["Alice.Example.com"]);
        assert_eq!(handles("@alice.bsky.social日本"), ["alice.bsky.social"]);
        assert!(handles("x@alice.bsky.social").is_empty());
        let text = "日本 @alice.test";
        let f = &detect_facets(text)[0];
        assert_eq!(f.index, ByteSlice { byte_start: 7, byte_end: 18 });
    }

    #[test]
    fn hashtag_rules() {
        let tags = |t: &str| tags_and_indices(t, false).0;
        assert!(tags("#2024").is_empty()); // pure numbers
        assert!(tags("#12.5").is_empty()); // numbers and punctuation
        assert_eq!(tags("#2024年"), ["2024年"]);
        assert_eq!(tags("＃全角"), ["全角"]);
        assert_eq!(tags("#tag…"), ["tag"]); // U+2026 is punctuation
        assert_eq!(tags("#a_b_"), ["a_b"]); // `_` is connector punctuation
        assert_eq!(tags("#café"), ["café"]);
        assert!(tags("foo#bar").is_empty());
        // 64 UTF-16 code units is the limit: 32 astral emoji fit, 33 do not.
        assert_eq!(tags(&format!("#{}", "🦋".repeat(32))), ["🦋".repeat(32)]);
        assert!(tags(&format!("#{}", "🦋".repeat(33))).is_empty());
        // The limit applies after trailing punctuation is stripped.
        assert_eq!(tags(&format!("#{}!!!", "a".repeat(64))), ["a".repeat(64)]);
    }

    #[test]
    fn cashtag_rules() {
        let tags = |t: &str| tags_and_indices(t, true).0;
        assert_eq!(tags("buy $tsla’s"), ["$TSLA"]); // U+2019 ends a cashtag
        assert_eq!(tags("$AAPL's"), ["$AAPL"]);
        assert!(tags("$AAPL-B").is_empty());
        assert!(tags("$5 coffee").is_empty());
        assert_eq!(tags("$ABCDEF $XYZ"), ["$XYZ"]);
    }

    #[test]
    fn record_facets_shape() {
        let text = "hi @alice.test, see example.com #rust";
        let facets = detect_facets(text);
        let dids = HashMap::from([("alice.test".to_owned(), "did:plc:alice".to_owned())]);
        let record = to_record_facets(&facets, &dids);
        assert_eq!(
            record,
            json!([
                {"index": {"byteStart": 3, "byteEnd": 14},
                 "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:alice"}]},
                {"index": {"byteStart": 20, "byteEnd": 31},
                 "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com"}]},
                {"index": {"byteStart": 32, "byteEnd": 37},
                 "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "rust"}]},
            ])
        );
    }

    #[test]
    fn record_facets_drop_unresolved_mentions() {
        let facets = detect_facets("@Alice.test @bob.test @carol.test");
        let dids = HashMap::from([
            ("alice.test".to_owned(), "did:plc:a".to_owned()),
            ("carol.test".to_owned(), String::new()),
        ]);
        let record = to_record_facets(&facets, &dids);
        let arr = record.as_array().unwrap();
        assert_eq!(arr.len(), 1);
        assert_eq!(arr[0]["features"][0]["did"], "did:plc:a");
        assert_eq!(arr[0]["index"], json!({"byteStart": 0, "byteEnd": 11}));
        assert_eq!(to_record_facets(&[], &dids), json!([]));
    }

    #[test]
    fn long_input_is_handled() {
        let text = "word #tag example.com @a.test ".repeat(2_000);
        assert_eq!(detect_facets(&text).len(), 6_000);
    }
}
