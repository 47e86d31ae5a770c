//! The platforms this Crier publishes to: the sandbox and the real providers, each built on the
//! API state's SSRF-safe client, vault and media store (e-mail checks relay addresses itself, by
//! the same rules).

use std::sync::Arc;

use crier_api::AppState;
use crier_core::Store;
use crier_providers::Registry;
use crier_providers::bluesky::Bluesky;
use crier_providers::discord::{Discord, DiscordSettings};
use crier_providers::email::{Email, EmailSettings};
use crier_providers::linkedin::{LinkedIn, LinkedInSettings};
use crier_providers::mastodon::Mastodon;
use crier_providers::meta::MetaSettings;
use crier_providers::meta::facebook::Facebook;
use crier_providers::meta::instagram::Instagram;
use crier_providers::meta::threads::Threads;
use crier_providers::pinterest::{Pinterest, PinterestSettings};
use crier_providers::reddit::{Reddit, RedditSettings};
use crier_providers::sandbox::Sandbox;
use crier_providers::slack::{Slack, SlackSettings};
use crier_providers::telegram::{Telegram, TelegramSettings};
use crier_providers::tiktok::{TikTok, TikTokSettings};
use crier_providers::x::{X, XSettings};
use crier_providers::youtube::{YouTube, YouTubeSettings};

/// The deployment's own apps on the platforms that need one; `None` where it is not configured.
#[derive(Debug, Default)]
pub struct Apps {
    pub x: Option<XSettings>,
    pub reddit: Option<RedditSettings>,
    pub slack: Option<SlackSettings>,
    pub pinterest: Option<PinterestSettings>,
    pub linkedin: Option<LinkedInSettings>,
    pub youtube: Option<YouTubeSettings>,
    pub tiktok: Option<TikTokSettings>,
    /// One Meta app for Facebook Pages, Instagram and Threads.
    pub meta: Option<MetaSettings>,
}

pub fn registry(state: &AppState, store: Arc<dyn Store>, email: EmailSettings, apps: Apps) -> Registry {
    let platform = state.platform();
    // Platforms that need an app of the deployment's own are offered only when it is configured.
    let mut registry = Registry::default();
    if let Some(settings) = apps.x {
        registry = registry.with(Arc::new(X::new(platform.clone(), settings)));
    }
    if let Some(settings) = apps.reddit {
        registry = registry.with(Arc::new(Reddit::new(platform.clone(), settings)));
    }
    if let Some(settings) = apps.slack {
        registry = registry.with(Arc::new(Slack::new(platform.clone(), settings)));
    }
    if let Some(settings) = apps.pinterest {
        registry = registry.with(Arc::new(Pinterest::new(platform.clone(), settings)));
    }
    if let Some(settings) = apps.linkedin {
        registry = registry.with(Arc::new(LinkedIn::new(platform.clone(), settings)));
    }
    if let Some(settings) = apps.youtube {
        registry = registry.with(Arc::new(YouTube::new(platform.clone(), settings)));
    }
    if let Some(settings) = apps.tiktok {
        registry = registry.with(Arc::new(TikTok::new(platform.clone(), settings)));
    }
    if let Some(settings) = apps.meta {
        registry = registry
            .with(Arc::new(Facebook::new(platform.clone(), settings.clone())))
            .with(Arc::new(Instagram::new(platform.clone(), settings.clone())))
            .with(Arc::new(Threads::new(platform.clone(), settings)));
    }
    registry
        .with(Arc::new(Email::new(platform.clone(), email)))
        .with(Arc::new(Sandbox::new(store, state.clock.clone())))
        .with(Arc::new(Bluesky::new(platform.clone())))
        .with(Arc::new(Mastodon::new(platform.clone())))
        .with(Arc::new(Telegram::new(platform.clone(), TelegramSettings::default())))
        .with(Arc::new(Discord::new(platform, DiscordSettings::default())))
}
