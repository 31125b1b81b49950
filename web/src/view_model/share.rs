//! Share links and the page's access, as data: the page's query (`?token=`, `?view=`, `?car=`, `?nats=`), the relay URLs
//! that carry the token, the link the Share button makes (a live session read-only, or a replay at a moment), and
//! what the relay's `GET /api/v1/whoami` says the page may do. Pure, tested natively; `share` (wasm only) does the
//! fetching, the clipboard and the buttons.
//!
//! The token is a secret: nothing here puts it anywhere but the URLs it must be in, and [`without_query`] is how a
//! URL that carries it is written to a log.

use serde::Deserialize;

use super::replay::{ReplaySource, percent_decode};

/// What the page's own query asks for, besides a replay ([`super::replay::ReplayQuery`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageQuery {
    /// The relay token the page was opened with (`?token=`), percent-decoded; `None` when absent or empty.
    pub token: Option<String>,
    /// The view to open (`?view=car`, `field`, `strategy`…): the app checks the name.
    pub view: Option<String>,
    /// The car to select, by `car_idx` (`?car=`); `None` when absent or not a number from 0 to 255.
    pub car: Option<u8>,
    /// A NATS server's WebSocket listener to read the race from instead of the relay's `/ws` (`?nats=ws://…` or
    /// `wss://…`; anything else is ignored).
    pub nats: Option<String>,
}

impl PageQuery {
    /// Reads `token`, `view`, `car` and `nats` from a query string (`location.search`, with or without the `?`). Unknown
    /// keys are ignored; the last of a repeated key wins.
    pub fn parse(search: &str) -> PageQuery {
        let mut query = PageQuery::default();
        for pair in search.trim_start_matches('?').split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            let value = value.trim();
            match key {
                "token" => query.token = (!value.is_empty()).then(|| value.to_owned()),
                "view" => query.view = (!value.is_empty()).then(|| value.to_ascii_lowercase()),
                "car" => query.car = value.parse().ok(),
                "nats" => {
                    query.nats = (value.starts_with("ws://") || value.starts_with("wss://"))
                        .then(|| value.to_owned());
                }
                _ => {}
            }
        }
        query
    }
}

/// `s` escaped for a URL's query value: everything but `A–Z a–z 0–9 - . _ ~` as `%XX` (UTF-8 bytes).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `url` with `?token=` added (a browser's WebSocket cannot send an `Authorization` header); `url` itself without
/// a token.
pub fn with_token(url: &str, token: Option<&str>) -> String {
    match token {
        Some(token) => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}token={}", percent_encode(token))
        }
        None => url.to_owned(),
    }
}

/// `url` without its query and fragment: how a URL that may carry a token is written to a log.
pub fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// The `Authorization` header's value for a token.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The `Authorization` header for fetching `url` (an offline replay's recording) with the page's token: only for
/// the relay that served the page (a path on the same origin under `/api/`, e.g.
/// `/api/v1/sessions/{id}/recording`) and only when the URL carries no token of its own (a recording's share link
/// does, and the relay would read the header first). `None` otherwise: the token never goes to another server.
pub fn bearer_for(url: &str, token: Option<&str>) -> Option<String> {
    let token = token?;
    let own_token = url
        .split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|pair| pair.starts_with("token=")));
    (url.starts_with("/api/") && !own_token).then(|| bearer(token))
}

/// Where a shared link opens: the view and the selected car, besides the session or the replay.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkView<'a> {
    /// The view's name as [`PageQuery::view`] reads it; `None` leaves the app's default.
    pub view: Option<&'a str>,
    /// The car the user picked; `None` follows the leader.
    pub car: Option<u8>,
}

impl LinkView<'_> {
    /// `&view=…&car=…` for what is set.
    fn query(&self) -> String {
        let mut out = String::new();
        if let Some(view) = self.view {
            out.push_str(&format!("&view={}", percent_encode(view)));
        }
        if let Some(car) = self.car {
            out.push_str(&format!("&car={car}"));
        }
        out
    }
}

/// The link that opens the live session at `page` (the app's URL: origin and path, no query) with `token` (a share
/// token, or none where the relay's reads are open), on `view`.
pub fn live_link(page: &str, token: Option<&str>, view: LinkView<'_>) -> String {
    let rest = view.query();
    let link = with_token(page, token);
    match (token, rest.strip_prefix('&')) {
        (None, Some(rest)) => format!("{link}?{rest}"),
        _ => format!("{link}{rest}"),
    }
}

/// The link that opens the recording or race folder of `source` in the app at `page` (`?replay=` or `?race=`),
/// `at_s` seconds into it (whole seconds, rounded down: the link says where, not which frame), on `view`. It carries
/// no token: the replay never contacts the relay (a relay's recording URL carries its own).
pub fn replay_link(page: &str, source: &ReplaySource, at_s: f64, view: LinkView<'_>) -> String {
    let at_s = if at_s.is_finite() { at_s.max(0.0) } else { 0.0 };
    format!(
        "{page}?{}={}&t={}{}",
        source.kind.query_key(),
        percent_encode(&source.url),
        at_s.floor() as u64,
        view.query()
    )
}

/// What a token may do, as the relay names roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads only: a share link.
    Analyst,
    /// Reads, and locks strategy options.
    Strategist,
    /// Everything, sharing included: the control token.
    Engineer,
}

/// What the page may do on its relay, from `GET /api/v1/whoami`.
#[derive(Clone, Debug, PartialEq)]
pub enum Access {
    /// Not asked yet, or the relay has not answered.
    Checking,
    /// No token, and the relay's reads are open: the page reads, like an analyst.
    Open,
    /// The page's token and what it may do.
    Granted {
        /// The token's role.
        role: Role,
        /// When the token stops working (RFC 3339), for a share link.
        expires_at: Option<String>,
    },
    /// The relay refuses the page: it shows why instead of an empty pit wall.
    Denied(Denial),
}

/// Why the relay refuses the page.
#[derive(Clone, Debug, PartialEq)]
pub enum Denial {
    /// Reads need a token, and the page has none.
    NeedsToken,
    /// The token is not one this relay issued.
    InvalidToken,
    /// The token has expired.
    Expired,
    /// The token is for a session that is no longer the live one (a new session, or a restarted relay).
    SessionEnded,
}

impl Denial {
    /// A heading and a sentence for the screen.
    pub fn message(&self) -> (&'static str, &'static str) {
        match self {
            Denial::NeedsToken => (
                "This pit wall needs a token",
                "The relay only shows the race to a link with a token. Open the link the race engineer shared \
                 (it ends in ?token=…), or add ?token= and the engineer's control token to this page's address.",
            ),
            Denial::InvalidToken => (
                "This link's token is not valid",
                "The relay did not issue this token (or it was cut short when copied). Ask the race engineer for a \
                 new link.",
            ),
            Denial::Expired => (
                "This link has expired",
                "Share links work for a limited time. Ask the race engineer for a new link.",
            ),
            Denial::SessionEnded => (
                "This link was for another session",
                "The session it opened has ended (a new session started, or the relay restarted). Ask the race \
                 engineer for a link to the current one.",
            ),
        }
    }
}

/// `GET /api/v1/whoami`'s answer, as far as the page reads it.
#[derive(Deserialize)]
struct WhoAmI {
    role: Option<Role>,
    #[serde(default)]
    expires_at: Option<String>,
}

/// The relay's JSON error body: `{"error": {"code", "message"}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    #[serde(default)]
    message: String,
}

/// The error code and message of a relay error body, if it is one.
pub(crate) fn relay_error(body: &str) -> Option<(String, String)> {
    serde_json::from_str::<ErrorBody>(body)
        .ok()
        .map(|e| (e.error.code, e.error.message))
}

impl Access {
    /// What `whoami`'s answer (HTTP `status` and `body`) says; `None` for an answer that says nothing about the
    /// token (rate limited, a server error, a proxy's page, an older relay without `whoami`): ask again later.
    pub fn from_whoami(status: u16, body: &str) -> Option<Access> {
        if status == 200 {
            let me = serde_json::from_str::<WhoAmI>(body).ok()?;
            return Some(match me.role {
                Some(role) => Access::Granted {
                    role,
                    expires_at: me.expires_at.filter(|e| !e.is_empty()),
                },
                None => Access::Open,
            });
        }
        let (code, _) = relay_error(body)?;
        let denial = match (status, code.as_str()) {
            (401, "unauthorized") => Denial::NeedsToken,
            (401, "invalid_token") => Denial::InvalidToken,
            (401, "token_expired") => Denial::Expired,
            (403, "wrong_session") => Denial::SessionEnded,
            _ => return None,
        };
        Some(Access::Denied(denial))
    }

    /// Whether the relay refuses the page.
    pub fn is_denied(&self) -> bool {
        matches!(self, Access::Denied(_))
    }

    /// The badge the session bar shows for a token (`None` without one): a share link reads `READ-ONLY`.
    pub fn badge(&self) -> Option<(&'static str, &'static str)> {
        match self {
            Access::Granted { role, .. } => Some(match role {
                Role::Analyst => (
                    "READ-ONLY",
                    "A share link: you see the live session and can change nothing on the relay",
                ),
                Role::Strategist => (
                    "STRATEGIST",
                    "A strategist's token: reads, and may lock a strategy option",
                ),
                Role::Engineer => ("ENGINEER", "The engineer's control token"),
            }),
            _ => None,
        }
    }
}

/// What the Share button does for a page.
#[derive(Clone, Debug, PartialEq)]
pub enum ShareAction {
    /// Ask the relay for a read-only token (`POST /api/v1/share`, the engineer's) and link the live session with it.
    IssueToken,
    /// Link the live session with no token: the relay's reads are open, so anyone who can reach it may read.
    PlainLink,
    /// Link the replay: its recording's or race folder's URL and the moment.
    Replay {
        /// What the page replays and its URL, as the page opened it.
        source: ReplaySource,
    },
    /// There is a Share button, but it cannot make a link: why.
    Unavailable(&'static str),
    /// No Share button: a page that may not issue links (a share link's reader) or that shows nothing.
    Hidden,
}

/// What the Share button does: in a replay, a replay link (a file picked from disk has no URL to share); live, a
/// token from the relay for the engineer, a plain link where reads are open, and no button for a share link's
/// reader (handing on one's own token is the engineer's call to make, with a link of its own in the audit log).
pub fn share_action(
    access: &Access,
    replaying: bool,
    source: Option<&ReplaySource>,
) -> ShareAction {
    if replaying {
        return match source {
            Some(source) => ShareAction::Replay {
                source: source.clone(),
            },
            None => ShareAction::Unavailable(
                "a replay opened from this device has no address to share: open it from a URL (?replay=… or \
                 ?race=…) to share it",
            ),
        };
    }
    match access {
        Access::Granted {
            role: Role::Engineer,
            ..
        } => ShareAction::IssueToken,
        Access::Open => ShareAction::PlainLink,
        Access::Checking => {
            ShareAction::Unavailable("still asking the relay what this page may do")
        }
        Access::Granted { .. } | Access::Denied(_) => ShareAction::Hidden,
    }
}

/// The share token from `POST /api/v1/share`'s answer, or why there is none, for the screen.
///
/// # Errors
/// The relay's error message (or the HTTP status) when the answer is not a `201` with a token.
pub fn issued_token(status: u16, body: &str) -> Result<String, String> {
    #[derive(Deserialize)]
    struct Shared {
        token: String,
    }
    if status == 201
        && let Ok(shared) = serde_json::from_str::<Shared>(body)
    {
        return Ok(shared.token);
    }
    Err(match relay_error(body) {
        Some((code, message)) => format!("the relay refused: {message} ({code})"),
        None => format!("the relay answered HTTP {status}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view_model::replay::ReplayKind;

    #[test]
    fn the_query_gives_token_view_and_car() {
        assert_eq!(
            PageQuery::parse("?token=bb1.analyst.6c.99.ab.cd&view=Field&car=7&workers=2"),
            PageQuery {
                token: Some("bb1.analyst.6c.99.ab.cd".into()),
                view: Some("field".into()),
                car: Some(7),
                nats: None,
            }
        );
        assert_eq!(PageQuery::parse(""), PageQuery::default());
        assert_eq!(
            PageQuery::parse("nats=ws%3A%2F%2F10.0.0.2%3A8443")
                .nats
                .as_deref(),
            Some("ws://10.0.0.2:8443")
        );
        assert_eq!(PageQuery::parse("nats=http://x:8443").nats, None);
        assert_eq!(
            PageQuery::parse("token=&view=&car=300"),
            PageQuery::default()
        );
        assert_eq!(
            PageQuery::parse("token=a%2Bb%20&car=x").token.as_deref(),
            Some("a+b")
        );
    }

    #[test]
    fn tokens_are_escaped_into_urls_and_kept_out_of_logs() {
        assert_eq!(percent_encode("a.b-c_d~e"), "a.b-c_d~e");
        assert_eq!(percent_encode("a b/c?d&é"), "a%20b%2Fc%3Fd%26%C3%A9");
        assert_eq!(
            with_token("ws://h:8080/ws", Some("t&x")),
            "ws://h:8080/ws?token=t%26x"
        );
        assert_eq!(with_token("/ws?a=1", Some("t")), "/ws?a=1&token=t");
        assert_eq!(with_token("ws://h/ws", None), "ws://h/ws");
        assert_eq!(without_query("ws://h/ws?token=secret"), "ws://h/ws");
        assert_eq!(without_query("http://h/#token=secret"), "http://h/");
        assert_eq!(bearer("t"), "Bearer t");
        // Whatever the token, what a log gets never holds it.
        for token in ["secret", "a b", "x?y", "bb1.analyst.aa.1.bb.cc"] {
            let url = with_token("wss://wall.example/ws", Some(token));
            assert!(!without_query(&url).contains(&percent_encode(token)));
            assert_eq!(
                PageQuery::parse(url.split_once('?').unwrap().1)
                    .token
                    .as_deref(),
                Some(token)
            );
        }
    }

    #[test]
    fn a_recording_is_fetched_with_the_token_only_from_the_relay() {
        let token = Some("t");
        assert_eq!(
            bearer_for("/api/v1/sessions/live-1/recording", token).as_deref(),
            Some("Bearer t")
        );
        assert_eq!(bearer_for("/api/v1/sessions/a/recording", None), None);
        assert_eq!(
            bearer_for("/api/v1/sessions/a/recording?token=bb1.x", token),
            None,
            "its own token"
        );
        for elsewhere in [
            "/x.pcap",
            "http://evil.example/api/x",
            "//evil.example/api/x",
            "recordings/a.pcap",
        ] {
            assert_eq!(bearer_for(elsewhere, token), None, "{elsewhere}");
        }
    }

    #[test]
    fn live_links_carry_the_share_token_view_and_car() {
        let page = "http://10.0.0.5:8080/";
        let view = LinkView {
            view: Some("field"),
            car: Some(16),
        };
        assert_eq!(
            live_link(page, Some("bb1.analyst.x"), view),
            "http://10.0.0.5:8080/?token=bb1.analyst.x&view=field&car=16"
        );
        assert_eq!(
            live_link(page, None, view),
            "http://10.0.0.5:8080/?view=field&car=16"
        );
        assert_eq!(live_link(page, None, LinkView::default()), page);
        assert_eq!(
            live_link(page, Some("t"), LinkView::default()),
            "http://10.0.0.5:8080/?token=t"
        );
        // The link opens what it says.
        let link = live_link(page, Some("bb1.analyst.x"), view);
        let query = PageQuery::parse(link.split_once('?').unwrap().1);
        assert_eq!(query.token.as_deref(), Some("bb1.analyst.x"));
        assert_eq!(
            (query.view.as_deref(), query.car),
            (Some("field"), Some(16))
        );
    }

    #[test]
    fn replay_links_carry_the_recording_and_the_moment_and_no_token() {
        let page = "http://wall.example/";
        let recording = |url: &str| ReplaySource {
            kind: ReplayKind::Recording,
            url: url.into(),
        };
        let link = replay_link(
            page,
            &recording("/api/v1/sessions/a b/recording?token=r"),
            612.9,
            LinkView {
                view: Some("strategy"),
                car: None,
            },
        );
        assert_eq!(
            link,
            "http://wall.example/?replay=%2Fapi%2Fv1%2Fsessions%2Fa%20b%2Frecording%3Ftoken%3Dr&t=612&view=strategy"
        );
        let search = link.split_once('?').unwrap().1;
        let replay = crate::view_model::replay::ReplayQuery::parse(search).unwrap();
        assert_eq!(
            replay.source,
            recording("/api/v1/sessions/a b/recording?token=r")
        );
        assert_eq!(replay.start_s, Some(612.0));
        let query = PageQuery::parse(search);
        assert_eq!(
            query.token, None,
            "the recording's own token is not the page's"
        );
        assert_eq!(query.view.as_deref(), Some("strategy"));
        let x = recording("/x.pcap");
        assert!(replay_link(page, &x, f64::NAN, LinkView::default()).ends_with("&t=0"));
        assert!(replay_link(page, &x, -3.0, LinkView::default()).ends_with("&t=0"));
        // A race folder is linked with `?race=`, which opens it again.
        let folder = ReplaySource {
            kind: ReplayKind::RaceFolder,
            url: "/races/2019_07_canada".into(),
        };
        let link = replay_link(page, &folder, 2700.4, LinkView::default());
        assert_eq!(
            link,
            "http://wall.example/?race=%2Fraces%2F2019_07_canada&t=2700"
        );
        let replay =
            crate::view_model::replay::ReplayQuery::parse(link.split_once('?').unwrap().1).unwrap();
        assert_eq!((replay.source, replay.start_s), (folder, Some(2700.0)));
    }

    #[test]
    fn whoami_answers_become_the_page_access() {
        let answer = |status, body: &str| Access::from_whoami(status, body);
        assert_eq!(
            answer(
                200,
                r#"{"schema_version":1,"role":null,"token_id":null,"session":null,"expires_at":null,"expires_at_unix_s":null,"reads_need_token":false}"#
            ),
            Some(Access::Open)
        );
        assert_eq!(
            answer(200, r#"{"role":"engineer","expires_at":null}"#),
            Some(Access::Granted {
                role: Role::Engineer,
                expires_at: None
            })
        );
        assert_eq!(
            answer(
                200,
                r#"{"role":"analyst","expires_at":"2026-12-06T16:00:00Z"}"#
            ),
            Some(Access::Granted {
                role: Role::Analyst,
                expires_at: Some("2026-12-06T16:00:00Z".into())
            })
        );
        let error = |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#);
        assert_eq!(
            answer(401, &error("unauthorized")),
            Some(Access::Denied(Denial::NeedsToken))
        );
        assert_eq!(
            answer(401, &error("invalid_token")),
            Some(Access::Denied(Denial::InvalidToken))
        );
        assert_eq!(
            answer(401, &error("token_expired")),
            Some(Access::Denied(Denial::Expired))
        );
        assert_eq!(
            answer(403, &error("wrong_session")),
            Some(Access::Denied(Denial::SessionEnded))
        );
        // Nothing said about the token: ask again.
        assert_eq!(answer(429, &error("rate_limited")), None);
        assert_eq!(answer(502, "<html>bad gateway</html>"), None);
        assert_eq!(answer(404, &error("not_found")), None);
        assert_eq!(answer(200, "{"), None);
        for denial in [
            Denial::NeedsToken,
            Denial::InvalidToken,
            Denial::Expired,
            Denial::SessionEnded,
        ] {
            let (title, text) = denial.message();
            assert!(!title.is_empty() && text.ends_with('.'), "{denial:?}");
        }
    }

    #[test]
    fn the_share_button_fits_the_page() {
        let engineer = Access::Granted {
            role: Role::Engineer,
            expires_at: None,
        };
        let analyst = Access::Granted {
            role: Role::Analyst,
            expires_at: Some("x".into()),
        };
        assert_eq!(
            share_action(&engineer, false, None),
            ShareAction::IssueToken
        );
        assert_eq!(
            share_action(&Access::Open, false, None),
            ShareAction::PlainLink
        );
        assert_eq!(share_action(&analyst, false, None), ShareAction::Hidden);
        assert_eq!(
            share_action(&Access::Denied(Denial::NeedsToken), false, None),
            ShareAction::Hidden
        );
        assert!(matches!(
            share_action(&Access::Checking, false, None),
            ShareAction::Unavailable(_)
        ));
        // A replay is shared by its URL, whoever the page is; a file from disk has none.
        let source = ReplaySource {
            kind: ReplayKind::RaceFolder,
            url: "/races/x".into(),
        };
        for access in [&engineer, &analyst, &Access::Open, &Access::Checking] {
            assert_eq!(
                share_action(access, true, Some(&source)),
                ShareAction::Replay {
                    source: source.clone()
                }
            );
            assert!(matches!(
                share_action(access, true, None),
                ShareAction::Unavailable(_)
            ));
        }
        assert_eq!(analyst.badge().map(|b| b.0), Some("READ-ONLY"));
        assert_eq!(Access::Open.badge(), None);
    }

    #[test]
    fn the_issued_token_or_why_not() {
        assert_eq!(
            issued_token(
                201,
                r#"{"schema_version":1,"token":"bb1.t","url":"http://h/?token=bb1.t"}"#
            ),
            Ok("bb1.t".into())
        );
        assert_eq!(
            issued_token(
                403,
                r#"{"error":{"code":"forbidden","message":"POST /api/v1/share needs the engineer role"}}"#
            ),
            Err("the relay refused: POST /api/v1/share needs the engineer role (forbidden)".into())
        );
        assert_eq!(
            issued_token(500, "oops"),
            Err("the relay answered HTTP 500".into())
        );
    }
}
