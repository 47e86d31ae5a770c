//! The calendar: a week or a month of posts by the day they are due, in the viewer's time zone.
//!
//! The browser's IANA zone reaches the server in the `crier_tz` cookie, which the dashboard's
//! script sets; without it (no script yet) the calendar is in UTC and says so.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::session::SignedIn;
use super::{DashError, Nav, render};
use crate::extract::ApiQuery;
use crate::routes::posts::{PostListQuery, PostOut, list_posts};
use crate::state::AppState;

/// The cookie holding the viewer's time zone (an IANA name such as `Europe/Paris`).
pub const ZONE_COOKIE: &str = "crier_tz";
/// At most this many posts are shown in one period (10 pages of the API's largest page).
const MOST_POSTS: usize = 1_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/calendar", get(calendar))
}

#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum View {
    Week,
    Month,
}

impl View {
    const fn as_str(self) -> &'static str {
        match self {
            View::Week => "week",
            View::Month => "month",
        }
    }
}

#[derive(Deserialize)]
struct CalendarQuery {
    view: Option<View>,
    /// Any day of the period to show (`YYYY-MM-DD`); today by default.
    date: Option<NaiveDate>,
}

/// One post on a day: its local time, status and a link.
struct Entry {
    time: String,
    due: DateTime<Utc>,
    post: PostOut,
}

struct Day {
    date: NaiveDate,
    /// Outside the month shown (the grid's leading and trailing days).
    outside: bool,
    today: bool,
    entries: Vec<Entry>,
}

impl Day {
    fn label(&self) -> String {
        self.date.format("%a %-d %b").to_string()
    }

    fn iso(&self) -> String {
        self.date.to_string()
    }
}

#[derive(askama::Template)]
#[template(path = "dashboard/calendar.html")]
struct CalendarPage {
    nav: Option<Nav>,
    view: &'static str,
    title: String,
    zone: String,
    zone_known: bool,
    weeks: Vec<Vec<Day>>,
    previous: String,
    next: String,
    today: String,
    /// More posts fell in the period than are shown.
    truncated: bool,
    can_write: bool,
}

/// The viewer's zone from the cookie, or UTC.
fn viewer_zone(headers: &HeaderMap) -> Option<Tz> {
    let cookies = headers.get_all(axum::http::header::COOKIE);
    cookies
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == ZONE_COOKIE)
        .and_then(|(_, value)| percent_decode(value).parse::<Tz>().ok())
}

/// Zone names travel percent-encoded (`America%2FNew_York`) because `/` is not a cookie-safe
/// character everywhere.
fn percent_decode(value: &str) -> String {
    url::form_urlencoded::parse(format!("z={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The instant a local day starts (the first valid local time, across a DST gap at midnight).
fn start_of(zone: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    (0..4)
        .find_map(|hours| zone.from_local_datetime(&(midnight + chrono::Duration::hours(hours))).earliest())
        .map_or_else(|| Utc.from_utc_datetime(&midnight), |t| t.with_timezone(&Utc))
}

/// The days shown: a Monday-to-Sunday week, or whole weeks covering the month.
fn period(view: View, date: NaiveDate) -> (NaiveDate, NaiveDate, String) {
    let monday = |d: NaiveDate| d - Days::new(u64::from(d.weekday().num_days_from_monday()));
    match view {
        View::Week => {
            let first = monday(date);
            let last = first + Days::new(6);
            (
                first,
                first + Days::new(7),
                format!("Week of {} – {}", first.format("%-d %b"), last.format("%-d %b %Y")),
            )
        }
        View::Month => {
            let first_of_month = date.with_day(1).unwrap_or(date);
            let next_month = first_of_month + Months::new(1);
            let first = monday(first_of_month);
            let last_day = next_month - Days::new(1);
            let end = monday(last_day) + Days::new(7);
            (first, end, first_of_month.format("%B %Y").to_string())
        }
    }
}

async fn calendar(
    who: SignedIn,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CalendarQuery>,
) -> Result<Response, DashError> {
    let known = viewer_zone(&headers);
    let zone = known.unwrap_or(Tz::UTC);
    let view = query.view.unwrap_or(View::Week);
    let today = state.clock.now().with_timezone(&zone).date_naive();
    let date = query.date.unwrap_or(today);
    let (first, end, title) = period(view, date);
    let (from, until) = (start_of(zone, first), start_of(zone, end));

    let mut posts = Vec::new();
    let mut cursor = None;
    let truncated = loop {
        let list = PostListQuery {
            status: None,
            channel_id: None,
            cursor: cursor.take(),
            due_from: Some(from),
            due_until: Some(until),
            limit: Some(100),
        };
        let Json(page) = list_posts(who.tenant.clone(), State(state.clone()), ApiQuery(list)).await?;
        posts.extend(page.data);
        match page.next_cursor {
            Some(next) if posts.len() < MOST_POSTS => cursor = Some(next),
            Some(_) => break true,
            None => break false,
        }
    };

    let mut by_day: BTreeMap<NaiveDate, Vec<Entry>> = BTreeMap::new();
    for post in posts {
        let due = post.scheduled_at.unwrap_or(post.created_at);
        let local = due.with_timezone(&zone);
        by_day.entry(local.date_naive()).or_default().push(Entry {
            time: local.format("%H:%M").to_string(),
            due,
            post,
        });
    }
    let month = date.month();
    let mut weeks = Vec::new();
    let mut day = first;
    while day < end {
        let mut week = Vec::with_capacity(7);
        for _ in 0..7 {
            let mut entries = by_day.remove(&day).unwrap_or_default();
            entries.sort_by_key(|e| e.due);
            week.push(Day {
                date: day,
                outside: view == View::Month && day.month() != month,
                today: day == today,
                entries,
            });
            day = day + Days::new(1);
        }
        weeks.push(week);
    }

    let step = |forward: bool| {
        let moved = match (view, forward) {
            (View::Week, true) => date + Days::new(7),
            (View::Week, false) => date - Days::new(7),
            (View::Month, true) => date.with_day(1).unwrap_or(date) + Months::new(1),
            (View::Month, false) => date.with_day(1).unwrap_or(date) - Months::new(1),
        };
        format!("/calendar?view={}&date={moved}", view.as_str())
    };
    Ok(render(&CalendarPage {
        nav: Some(who.nav()),
        view: view.as_str(),
        title,
        zone: zone.name().to_owned(),
        zone_known: known.is_some(),
        weeks,
        previous: step(false),
        next: step(true),
        today: today.to_string(),
        truncated,
        can_write: who.tenant.scopes.contains(crier_core::Scope::PostsWrite),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn weeks_start_on_monday_and_months_cover_whole_weeks() {
        let (first, end, _) = period(View::Week, day("2026-11-26"));
        assert_eq!((first, end), (day("2026-11-23"), day("2026-11-30")));
        // November 2026 starts on a Sunday and ends on a Monday.
        let (first, end, title) = period(View::Month, day("2026-11-15"));
        assert_eq!((first, end), (day("2026-10-26"), day("2026-12-07")));
        assert_eq!(title, "November 2026");
    }

    #[test]
    fn a_local_day_starts_at_local_midnight_even_across_a_dst_gap() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        assert_eq!(start_of(paris, day("2026-07-01")).to_rfc3339(), "2026-06-30T22:00:00+00:00");
        // Santiago skips from 00:00 to 01:00 on 2026-09-06: the day starts at 01:00 local.
        let santiago: Tz = "America/Santiago".parse().unwrap();
        assert_eq!(start_of(santiago, day("2026-09-06")).to_rfc3339(), "2026-09-06T04:00:00+00:00");
    }

    #[test]
    fn the_zone_cookie_is_read_percent_encoded() {
        let mut headers = HeaderMap::new();
        headers.insert(axum::http::header::COOKIE, "a=b; crier_tz=America%2FNew_York".parse().unwrap());
        assert_eq!(viewer_zone(&headers), Some(chrono_tz::America::New_York));
        headers.insert(axum::http::header::COOKIE, "crier_tz=Not%2FA_Zone".parse().unwrap());
        assert_eq!(viewer_zone(&headers), None);
    }
}
