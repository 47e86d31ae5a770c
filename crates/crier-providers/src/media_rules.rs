//! What media a platform takes, checked when a post is accepted so that a post never fails later
//! for a reason knowable at the door. Each provider states its own rules (`Provider::media_rules`).

use crier_core::{MediaFacts, MediaKind};
use serde::{Deserialize, Serialize};

use crate::provider::TargetIssue;

/// A platform's media limits. Every limit is optional except the counts.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaRules {
    /// Most images on one post (0: the platform takes no images).
    pub max_images: usize,
    /// Most videos on one post (0: the platform takes no videos).
    pub max_videos: usize,
    /// Most files on one post, images and videos together, where that is fewer than
    /// `max_images + max_videos` (an Instagram carousel: 10 of either or both); `None`: no such bound.
    pub max_items: Option<usize>,
    /// Whether images and videos may be on the same post.
    pub allow_mixed: bool,
    /// A post must carry at least one media (Instagram, TikTok, YouTube).
    pub media_required: bool,
    /// Accepted content types; empty: any Crier accepts.
    pub image_types: Vec<String>,
    pub video_types: Vec<String>,
    pub max_image_bytes: Option<u64>,
    pub max_video_bytes: Option<u64>,
    /// Largest width or height, in pixels.
    pub max_dimension: Option<u32>,
    /// Smallest width or height, in pixels.
    pub min_dimension: Option<u32>,
    /// Width ÷ height allowed, inclusive (e.g. Instagram 0.8 to 1.91).
    pub min_aspect_ratio: Option<f64>,
    pub max_aspect_ratio: Option<f64>,
    /// Width ÷ height allowed for videos where it differs from images' (Instagram: images 0.8 to
    /// 1.91, reels 0.01 to 10); `None`: the same as images.
    pub min_video_aspect_ratio: Option<f64>,
    pub max_video_aspect_ratio: Option<f64>,
    pub max_video_duration_ms: Option<u64>,
    pub min_video_duration_ms: Option<u64>,
    /// Why this channel cannot take media at the moment (Instagram and Threads without a public
    /// URL): said for any media, and for a post without media where media is required.
    pub unavailable: Option<String>,
}

impl Default for MediaRules {
    /// No media at all: a provider that takes media says what.
    fn default() -> Self {
        Self {
            max_images: 0,
            max_videos: 0,
            max_items: None,
            allow_mixed: false,
            media_required: false,
            image_types: Vec::new(),
            video_types: Vec::new(),
            max_image_bytes: None,
            max_video_bytes: None,
            max_dimension: None,
            min_dimension: None,
            min_aspect_ratio: None,
            max_aspect_ratio: None,
            min_video_aspect_ratio: None,
            max_video_aspect_ratio: None,
            max_video_duration_ms: None,
            min_video_duration_ms: None,
            unavailable: None,
        }
    }
}

fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / 1_000_000.0;
    if mb >= 10.0 { format!("{mb:.0} MB") } else { format!("{mb:.1} MB") }
}

impl MediaRules {
    /// Every way `media` (in the post's order) breaks these rules; pointers are `/media/{i}` for one
    /// file and `/media` for the set.
    pub fn check(&self, media: &[MediaFacts]) -> Vec<TargetIssue> {
        let mut issues = Vec::new();
        let images = media.iter().filter(|m| m.kind == MediaKind::Image).count();
        let videos = media.len() - images;
        if let Some(reason) = &self.unavailable
            && (self.media_required || !media.is_empty())
        {
            issues.push(TargetIssue::new("/media", reason.clone()));
            return issues;
        }
        if self.media_required && media.is_empty() {
            issues.push(TargetIssue::new("/media", "this platform needs at least one image or video"));
        }
        if images > self.max_images {
            issues.push(TargetIssue::new(
                "/media",
                match self.max_images {
                    0 => "this platform takes no images".to_owned(),
                    n => format!("{images} images; this platform takes at most {n}"),
                },
            ));
        }
        if videos > self.max_videos {
            issues.push(TargetIssue::new(
                "/media",
                match self.max_videos {
                    0 => "this platform takes no videos".to_owned(),
                    n => format!("{videos} videos; this platform takes at most {n}"),
                },
            ));
        }
        // Said only where neither kind is over its own count already.
        if let Some(max) = self.max_items
            && media.len() > max
            && images <= self.max_images
            && videos <= self.max_videos
        {
            issues.push(TargetIssue::new(
                "/media",
                format!(
                    "{} files; this platform takes at most {max} images and videos together",
                    media.len()
                ),
            ));
        }
        if images > 0 && videos > 0 && !self.allow_mixed {
            issues.push(TargetIssue::new("/media", "this platform takes images or a video, not both"));
        }
        for (i, facts) in media.iter().enumerate() {
            for problem in self.problems_of(facts) {
                issues.push(TargetIssue::new(&format!("/media/{i}"), problem));
            }
        }
        issues
    }

    fn problems_of(&self, m: &MediaFacts) -> Vec<String> {
        let mut problems = Vec::new();
        let (types, max_bytes) = match m.kind {
            MediaKind::Image => (&self.image_types, self.max_image_bytes),
            MediaKind::Video => (&self.video_types, self.max_video_bytes),
        };
        if !types.is_empty() && !types.iter().any(|t| t == &m.mime) {
            problems.push(format!("{} is not taken here (accepted: {})", m.mime, types.join(", ")));
        }
        if let Some(max) = max_bytes
            && m.size > max
        {
            problems.push(format!(
                "{} is over this platform's limit of {}",
                megabytes(m.size),
                megabytes(max)
            ));
        }
        let longest = m.width.max(m.height);
        let shortest = m.width.min(m.height);
        if let Some(max) = self.max_dimension
            && longest > max
        {
            problems.push(format!(
                "{}×{} pixels is over this platform's limit of {max} pixels a side",
                m.width, m.height
            ));
        }
        if let Some(min) = self.min_dimension
            && shortest < min
        {
            problems
                .push(format!("{}×{} pixels is under this platform's minimum of {min}", m.width, m.height));
        }
        let (min_ratio, max_ratio) = match m.kind {
            MediaKind::Video => (
                self.min_video_aspect_ratio.or(self.min_aspect_ratio),
                self.max_video_aspect_ratio.or(self.max_aspect_ratio),
            ),
            MediaKind::Image => (self.min_aspect_ratio, self.max_aspect_ratio),
        };
        if m.height > 0 {
            let ratio = f64::from(m.width) / f64::from(m.height);
            let below = min_ratio.is_some_and(|min| ratio < min - 1e-3);
            let above = max_ratio.is_some_and(|max| ratio > max + 1e-3);
            if below || above {
                problems.push(format!(
                    "aspect ratio {ratio:.2}:1 is outside this platform's {:.2}:1 to {:.2}:1",
                    min_ratio.unwrap_or(0.0),
                    max_ratio.unwrap_or(f64::INFINITY)
                ));
            }
        }
        if m.kind == MediaKind::Video {
            let duration = m.duration_ms.unwrap_or(0);
            if let Some(max) = self.max_video_duration_ms
                && duration > max
            {
                problems.push(format!(
                    "the video lasts {:.1} s; this platform takes at most {:.1} s",
                    duration as f64 / 1000.0,
                    max as f64 / 1000.0
                ));
            }
            if let Some(min) = self.min_video_duration_ms
                && duration < min
            {
                problems.push(format!(
                    "the video lasts {:.1} s; this platform needs at least {:.1} s",
                    duration as f64 / 1000.0,
                    min as f64 / 1000.0
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, height: u32, size: u64) -> MediaFacts {
        MediaFacts {
            mime: "image/png".into(),
            kind: MediaKind::Image,
            width,
            height,
            duration_ms: None,
            video_codec: None,
            audio_codec: None,
            size,
            sha256: String::new(),
        }
    }

    fn video(duration_ms: u64) -> MediaFacts {
        MediaFacts {
            mime: "video/mp4".into(),
            kind: MediaKind::Video,
            duration_ms: Some(duration_ms),
            ..image(1280, 720, 1000)
        }
    }

    fn pointers(issues: &[TargetIssue]) -> Vec<&str> {
        issues.iter().map(|i| i.pointer.as_str()).collect()
    }

    #[test]
    fn no_rules_take_no_media() {
        let issues = MediaRules::default().check(&[image(10, 10, 10)]);
        assert_eq!(pointers(&issues), ["/media"]);
        assert!(issues[0].message.contains("no images"));
        assert!(MediaRules::default().check(&[]).is_empty());
    }

    #[test]
    fn every_broken_limit_is_named_at_its_media() {
        let rules = MediaRules {
            max_images: 4,
            max_videos: 1,
            max_dimension: Some(2000),
            max_image_bytes: Some(1_000_000),
            min_aspect_ratio: Some(0.8),
            max_aspect_ratio: Some(1.91),
            max_video_duration_ms: Some(60_000),
            ..MediaRules::default()
        };
        let media = [image(1000, 1000, 10), image(3000, 1000, 2_000_000), video(61_000)];
        let issues = rules.check(&media);
        assert_eq!(
            pointers(&issues),
            ["/media", "/media/1", "/media/1", "/media/1", "/media/2"],
            "{issues:?}"
        );
        assert!(issues[0].message.contains("not both"));
        assert!(issues[1].message.contains("2.0 MB"));
        assert!(issues[2].message.contains("3000×1000"));
        assert!(issues[3].message.contains("aspect ratio 3.00:1"));
        assert!(issues[4].message.contains("61.0 s"));
    }

    #[test]
    fn counts_and_required_media() {
        let rules = MediaRules { max_images: 2, media_required: true, ..MediaRules::default() };
        assert_eq!(pointers(&rules.check(&[])), ["/media"]);
        assert_eq!(pointers(&rules.check(&vec![image(1, 1, 1); 3])), ["/media"]);
        assert!(rules.check(&vec![image(1, 1, 1); 2]).is_empty());
    }

    #[test]
    fn images_and_videos_together_are_held_to_the_total() {
        let rules = MediaRules {
            max_images: 3,
            max_videos: 3,
            max_items: Some(4),
            allow_mixed: true,
            ..MediaRules::default()
        };
        assert!(rules.check(&[image(1, 1, 1), video(1000), image(1, 1, 1), video(1000)]).is_empty());
        let issues = rules.check(&[image(1, 1, 1), video(1000), image(1, 1, 1), video(1000), video(1000)]);
        assert_eq!(pointers(&issues), ["/media"]);
        assert!(issues[0].message.contains("5 files"), "{}", issues[0].message);
    }

    #[test]
    fn unavailable_media_is_said_once() {
        let rules =
            MediaRules { max_images: 2, unavailable: Some("no public URL".into()), ..MediaRules::default() };
        let issues = rules.check(&vec![image(1, 1, 1); 3]);
        assert_eq!(pointers(&issues), ["/media"]);
        assert_eq!(issues[0].message, "no public URL");
        assert!(rules.check(&[]).is_empty(), "a text-only post needs no link");
        let required = MediaRules { media_required: true, ..rules };
        assert_eq!(required.check(&[])[0].message, "no public URL");
    }
}
