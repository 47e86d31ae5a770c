//! Crier's count of X's weighted length against the official `twitter-text` (npm, pinned in
//! crier-testkit/peers/twitter-text, installed by scripts/test): 10,000 generated texts (links
//! with and without a scheme, emoji sequences, CJK, combining marks, invalid characters, lengths
//! around the limit) must get the same weighted length and the same verdict.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use crier_providers::x::{TextCount, parse_text};

const TEXTS: usize = 10_000;

/// SplitMix64: a seeded generator, so a failure is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] =
    &["hello", "world", "Crier", "post", "a", "I", "the", "x", "2026", "ok", "@alice", "#rust", "$CRIER"];
const SCHEMES: &[&str] = &["https://", "http://", "HTTPS://", "", "", "", "ftp://", "www.", "httpſ://"];
const HOSTS: &[&str] = &[
    "example",
    "crier",
    "t",
    "sub.domain",
    "a-b",
    "日本",
    "bücher",
    "例え",
    "xn--bcher-kva",
    "xn--zz",
    "-bad",
    "under_score",
    "123",
    "x",
];
const TLDS: &[&str] = &[
    "com",
    "org",
    "co.uk",
    "jp",
    "io",
    "xyz",
    "de",
    "foo",
    "invalid",
    "co",
    "テスト",
    "みんな",
    "comx",
    "ly",
    "com.",
    "",
];
const TAILS: &[&str] = &[
    "",
    "",
    "/",
    "/path",
    "/a/b/c.html",
    "?q=1&r=2",
    "/wiki/Foo_(bar)",
    "/x?y=z#frag",
    ":8080/p",
    "/é",
    ".",
    ",",
    "!",
    ")",
    "/path/",
    "/%E2%9C%93",
    "/~user",
    "/-",
    "#anchor",
];
const EMOJI: &[&str] = &[
    "😀",
    "❤️",
    "❤",
    "1️⃣",
    "#️⃣",
    "🇯🇵",
    "🇫🇷",
    "🇺🇳",
    "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}",
    "👨‍👩‍👧‍👦",
    "👩‍💻",
    "👍🏽",
    "👩🏽‍💻",
    "🧑🏿‍🤝‍🧑🏻",
    "🏳️‍🌈",
    "🏳‍🌈",
    "🇦",
    "🇦🇦",
    "©",
    "©️",
    "™",
    "↔️",
    "🤷‍♀️",
    "🤷🏻‍♂",
    "👁‍🗨",
    "🫠",
    "🥲",
    "😶‍🌫️",
    "❤️‍🔥",
    "🐕‍🦺",
    "⌚",
    "☺",
    "\u{1F3FB}",
    "👨‍❤️‍💋‍👨",
];
const CJK: &[&str] =
    &["日本語", "中文", "한국어", "ｆｕｌｌ", "。", "、", "カタカナ", "𠀀", "𝐀𝐁", "ᄒ\u{1161}\u{11AB}", "ㄱ"];
const MARKS: &[&str] = &[
    "e\u{301}",
    "a\u{308}\u{304}",
    "\u{344}",
    "n\u{303}",
    "Z\u{335}\u{321}\u{350}",
    "क\u{94D}ष",
    "\u{301}",
    "Å",
    "\u{212B}",
    "\u{FB01}",
    "ｶﾞ",
    "\u{1100}\u{1161}",
];
const SPECIAL: &[&str] = &[
    " ", "  ", "\n", "\t", "\u{2003}", "\u{200B}", "\u{200D}", "\u{2014}", "\u{2026}", "\u{2032}",
    "\u{2038}", "\u{2019}", "\u{00A0}", "\u{3000}", "\u{FEFF}", "\u{FFFE}", "\u{FFFF}", "\u{202E}", "@", "-",
    "_", "/", ".", "..", "(", ")", "＠", "\u{10FF}", "\u{1100}", "\u{2000}", "\u{200E}", "\u{2010}",
    "\u{201F}", "\u{2037}", "\u{FFFD}", "ß", "ÿ", "\u{7F}",
];

fn url(rng: &mut Rng) -> String {
    if rng.below(8) == 0 {
        let slug: String =
            (0..1 + rng.below(45)).map(|_| char::from(b'a' + u8::try_from(rng.below(26)).unwrap())).collect();
        let tail = rng.pick(&["", "?a=b", "/more", "?x=1&y=2!"]);
        return format!("https://t.co/{slug}{tail}");
    }
    let mut host = rng.pick(HOSTS).to_owned();
    if rng.below(10) == 0 {
        host = "a".repeat(60 + rng.below(8));
    }
    format!("{}{}.{}{}", rng.pick(SCHEMES), host, rng.pick(TLDS), rng.pick(TAILS))
}

fn fragment(rng: &mut Rng) -> String {
    match rng.below(10) {
        0..=2 => rng.pick(WORDS).to_owned(),
        3 | 4 => url(rng),
        5 | 6 => rng.pick(EMOJI).to_owned(),
        7 => rng.pick(CJK).to_owned(),
        8 => rng.pick(MARKS).to_owned(),
        _ => rng.pick(SPECIAL).to_owned(),
    }
}

fn text(rng: &mut Rng) -> String {
    let mut text = String::new();
    // Mostly short texts; some near and over the limit.
    let fragments = match rng.below(4) {
        0 => 1 + rng.below(3),
        1 => 3 + rng.below(20),
        2 => 40 + rng.below(80),
        _ => rng.below(200),
    };
    for _ in 0..fragments {
        text.push_str(&fragment(rng));
        match rng.below(4) {
            0 | 1 => text.push(' '),
            2 => text.push_str(rng.pick(&["", ",", ", ", "\n", "(", ")", "!", "-", "/", "…"])),
            _ => {}
        }
    }
    if rng.below(5) == 0 {
        let filler = rng.pick(&["a", "日", "é", "😀", "x "]);
        text.push_str(&filler.repeat(rng.below(300)));
    }
    text
}

fn twitter_text(texts: &[String]) -> Vec<TextCount> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../crier-testkit/peers/twitter-text");
    assert!(
        std::path::Path::new(dir).join("node_modules/twitter-text").exists(),
        "twitter-text is not installed (scripts/test installs it: npm ci in {dir})"
    );
    let mut child = Command::new("node")
        .arg("parse.js")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs twitter-text's parser");
    let mut stdin = child.stdin.take().unwrap();
    let lines: Vec<String> =
        texts.iter().map(|text| serde_json::json!({ "text": text }).to_string()).collect();
    let writer = std::thread::spawn(move || {
        for line in lines {
            writeln!(stdin, "{line}").unwrap();
        }
    });
    let verdicts = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
            TextCount {
                weighted_length: usize::try_from(value["weightedLength"].as_u64().unwrap()).unwrap(),
                valid: value["valid"].as_bool().unwrap(),
            }
        })
        .collect();
    writer.join().unwrap();
    assert!(child.wait().unwrap().success());
    verdicts
}

#[test]
fn crier_counts_as_twitter_text() {
    let mut rng = Rng(0x000C_41E5_2026);
    let texts: Vec<String> = (0..TEXTS).map(|_| text(&mut rng)).collect();
    let expected = twitter_text(&texts);
    assert_eq!(expected.len(), TEXTS);
    // Counted on every core: the URL patterns run on a backtracking engine (fancy-regex).
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let chunk = TEXTS.div_ceil(threads);
    let actual: Vec<TextCount> = std::thread::scope(|scope| {
        let workers: Vec<_> = texts
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|t| parse_text(t)).collect::<Vec<_>>()))
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    let mut differences = Vec::new();
    for ((text, expected), actual) in texts.iter().zip(&expected).zip(&actual) {
        if actual != expected {
            differences.push(format!("{text:?}: crier {actual:?}, twitter-text {expected:?}"));
        }
    }
    let valid = expected.iter().filter(|v| v.valid).count();
    assert!(valid > TEXTS / 5 && valid < TEXTS * 4 / 5, "both verdicts are exercised ({valid} valid)");
    assert!(
        differences.is_empty(),
        "{} of {TEXTS} texts differ; first ones:\n{}",
        differences.len(),
        differences.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}
