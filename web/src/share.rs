//! The page's token and what the relay lets it do, and the Share button.
//!
//! **Token.** The page reads `?token=` from its own URL once. Every relay call carries it: the `/ws` URL as
//! `?token=` (a browser's WebSocket cannot send headers), REST calls as `Authorization: Bearer`. It is never
//! logged: [`without_query`] is what goes to the console.
//!
//! **Access.** [`PageAccess::watch`] asks `GET /api/v1/whoami` at start and again whenever the live connection is
//! lost (a restarted relay ends a share link's session). When the relay refuses the page (no token where reads are
//! closed, an expired or foreign token) the WebSocket is closed for good and the pit wall says why instead of
//! staying empty; a share link's page learns it is read-only and gets no engineer's controls.
//!
//! **Share.** What the button does is [`share_action`]'s call: the engineer's page asks the relay for a read-only
//! token and links the live session with it, a page on a relay with open reads links it plainly, a replay links
//! its recording or race folder at the current second; each with the view and the picked car. The link is copied
//! to the clipboard and always shown in a read-only field (selected when the clipboard is refused, to copy by hand).

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::{JsCast, JsValue};

use crate::live::{Connection, LiveFeed};
use crate::replay::{ReplayDeck, ReplayStatus};
use crate::view_model::replay::ReplayKind;
use crate::view_model::share::{
    self as vm, Access, LinkView, PageQuery, ShareAction, bearer, share_action, without_query,
};

/// The page's token and its access, as the relay sees them. `Copy`.
#[derive(Clone, Copy, Debug)]
pub struct PageAccess {
    /// The token from the page's URL (not reactive: it never changes).
    token: StoredValue<Option<String>>,
    /// What the relay says the page may do.
    pub status: RwSignal<Access>,
    /// A `whoami` loop is running.
    checking: StoredValue<bool>,
}

impl PageAccess {
    /// The access of a page opened with `token`, not yet asked.
    pub fn new(token: Option<String>) -> Self {
        PageAccess {
            token: StoredValue::new(token),
            status: RwSignal::new(Access::Checking),
            checking: StoredValue::new(false),
        }
    }

    /// The page's token.
    pub fn token(&self) -> Option<String> {
        self.token.get_value()
    }

    /// Asks the relay what the page may do now, and again each time the live connection is lost. A refusal closes
    /// the relay's WebSocket for good (`Connection::Denied`), unless a replay has taken the page over.
    pub fn watch(self, feed: LiveFeed, deck: ReplayDeck) {
        self.check(feed, deck);
        Effect::new(move |was_lost: Option<bool>| {
            let lost = matches!(feed.connection.get(), Connection::Reconnecting { .. });
            if lost && was_lost == Some(false) {
                self.check(feed, deck);
            }
            lost
        });
    }

    /// One `whoami` loop: asks until the relay says something about the token (it may be down), with the
    /// reconnect backoff between tries.
    fn check(self, feed: LiveFeed, deck: ReplayDeck) {
        if self.checking.get_value() {
            return;
        }
        self.checking.set_value(true);
        spawn_local(async move {
            let mut attempt = 0;
            let access = loop {
                // A replay took the page over: it never calls the relay (which may be down for good).
                if deck.status.with_untracked(|s| *s != ReplayStatus::Idle) {
                    self.checking.set_value(false);
                    return;
                }
                if let Ok((status, body)) =
                    call("GET", "/api/v1/whoami", self.token().as_deref(), None).await
                    && let Some(access) = Access::from_whoami(status, &body)
                {
                    break access;
                }
                attempt += 1;
                let wait_s = boxbox_engine::backoff::backoff_s(attempt, js_sys::Math::random());
                gloo_timers::future::TimeoutFuture::new((wait_s * 1000.0) as u32).await;
            };
            self.checking.set_value(false);
            if access.is_denied() && !deck.status.with_untracked(|s| *s != ReplayStatus::Idle) {
                deck.close_live();
                feed.connection.set(Connection::Denied);
            }
            self.status.set(access);
        });
    }
}

/// The page's query (`?token=`, `?view=`, `?car=`).
pub fn page_query() -> PageQuery {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .map(|search| PageQuery::parse(&search))
        .unwrap_or_default()
}

/// The app's own URL without query or fragment: what a link starts with.
fn page_url() -> Option<String> {
    let location = web_sys::window()?.location();
    Some(format!(
        "{}{}",
        location.origin().ok()?,
        location.pathname().ok()?
    ))
}

/// A call to the relay that served the page (`GET`, `POST`, `PUT` or `DELETE`), with the token as a bearer: its
/// HTTP status and body.
pub(crate) async fn call(
    method: &str,
    path: &str,
    token: Option<&str>,
    json: Option<&str>,
) -> Result<(u16, String), String> {
    let mut request = match method {
        "POST" => gloo_net::http::Request::post(path),
        "PUT" => gloo_net::http::Request::put(path),
        "DELETE" => gloo_net::http::Request::delete(path),
        _ => gloo_net::http::Request::get(path),
    };
    if let Some(token) = token {
        request = request.header("Authorization", &bearer(token));
    }
    let request = match json {
        Some(json) => request
            .header("Content-Type", "application/json")
            .body(json),
        None => request.build(),
    }
    .map_err(|e| format!("cannot ask the relay: {e}"))?;
    // The path holds no token (it goes in the header), so the error may name it.
    let response = request
        .send()
        .await
        .map_err(|e| format!("cannot reach the relay at {}: {e}", without_query(path)))?;
    let body = response.text().await.unwrap_or_default();
    Ok((response.status(), body))
}

/// Copies `text` to the clipboard; false when the browser refuses (no clipboard outside a secure context, no
/// permission, the click too long ago).
async fn copy(text: &str) -> bool {
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else {
        return false;
    };
    let Ok(clipboard) = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard")) else {
        return false;
    };
    let Ok(write_text) = js_sys::Reflect::get(&clipboard, &JsValue::from_str("writeText"))
        .and_then(|f| f.dyn_into::<js_sys::Function>())
    else {
        return false;
    };
    let Ok(promise) = write_text
        .call1(&clipboard, &JsValue::from_str(text))
        .and_then(|p| p.dyn_into::<js_sys::Promise>())
    else {
        return false;
    };
    wasm_bindgen_futures::JsFuture::from(promise).await.is_ok()
}

/// The share panel's content.
#[derive(Clone, Debug, PartialEq)]
struct Shared {
    /// The link, when one was made.
    url: Option<String>,
    /// What happened, for the screen.
    message: String,
    /// The clipboard refused: the field is selected for a manual copy.
    refused: bool,
    /// Something failed.
    error: bool,
}

/// The Share button and, under it, the link it made. Hidden where the page may not share (a share link's reader).
#[component]
pub fn ShareButton(
    /// The page's token and access.
    access: PageAccess,
    /// The offline replay, shared by its recording's or race folder's URL and moment.
    deck: Option<ReplayDeck>,
    /// The open view's name and the car the user picked (none: the link follows the leader), for the link.
    link_view: impl Fn() -> (Option<&'static str>, Option<u8>) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let replaying = move || deck.is_some_and(|d| d.is_active());
    let source = move || deck.and_then(|d| d.source.get());
    let action = move || {
        access
            .status
            .with(|a| share_action(a, replaying(), source().as_ref()))
    };
    let shared = RwSignal::new(None::<Shared>);
    let busy = RwSignal::new(false);
    let select_field = move || {
        let input = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector(".share-url").ok().flatten())
            .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok());
        if let Some(input) = input {
            let _ = input.focus();
            input.select();
        }
    };
    let on_click = move |_| {
        if busy.get_untracked() {
            return;
        }
        let action = untrack(action);
        let link_view = link_view();
        busy.set(true);
        spawn_local(async move {
            let outcome = make_link(access, deck, action, link_view).await;
            let outcome = match outcome {
                Ok((url, note)) => {
                    let copied = copy(&url).await;
                    let message = if copied {
                        format!("Link copied to the clipboard. {note}")
                    } else {
                        format!(
                            "Copy the link below (the browser did not allow the clipboard). {note}"
                        )
                    };
                    Shared {
                        url: Some(url),
                        message,
                        refused: !copied,
                        error: false,
                    }
                }
                Err(why) => Shared {
                    url: None,
                    message: why,
                    refused: false,
                    error: true,
                },
            };
            let refused = outcome.refused;
            shared.set(Some(outcome));
            busy.set(false);
            if refused {
                // Let the field render before selecting it.
                gloo_timers::future::TimeoutFuture::new(0).await;
                select_field();
            }
        });
    };
    let visible = Memo::new(move |_| !matches!(action(), ShareAction::Hidden));
    let message = move || shared.with(|s| s.as_ref().map(|s| s.message.clone()));
    let url = move || shared.with(|s| s.as_ref().and_then(|s| s.url.clone()));
    view! {
        {move || visible.get().then(|| view! {
        <div class="share">
            <button
                class="share-button"
                data-testid="share"
                aria-label="Share a link to this view"
                aria-haspopup="dialog"
                disabled=move || busy.get()
                on:click=on_click
            >
                "Share"
            </button>
            <section
                class="share-panel"
                role="dialog"
                aria-label="Share link"
                data-testid="share-panel"
                hidden=move || shared.with(Option::is_none)
            >
                <p
                    class="share-status"
                    class:error=move || shared.with(|s| s.as_ref().is_some_and(|s| s.error))
                    role="status"
                    data-testid="share-status"
                >
                    {message}
                </p>
                <input
                    class="share-url"
                    type="text"
                    readonly
                    aria-label="Share link"
                    data-testid="share-url"
                    hidden=move || url().is_none()
                    prop:value=move || url().unwrap_or_default()
                    on:focus=move |_| select_field()
                />
                <button class="share-close" aria-label="Close the share panel" on:click=move |_| shared.set(None)>
                    "Close"
                </button>
            </section>
        </div>
        })}
    }
}

/// Makes the link for `action`: the URL and a note on what it opens.
async fn make_link(
    access: PageAccess,
    deck: Option<ReplayDeck>,
    action: ShareAction,
    (view, car): (Option<&'static str>, Option<u8>),
) -> Result<(String, String), String> {
    let page = page_url().ok_or("this page has no address to share")?;
    let link_view = LinkView { view, car };
    match action {
        ShareAction::IssueToken => {
            let (status, body) = call(
                "POST",
                "/api/v1/share",
                access.token().as_deref(),
                Some(r#"{"role": "analyst"}"#),
            )
            .await?;
            let token = vm::issued_token(status, &body)?;
            Ok((
                vm::live_link(&page, Some(&token), link_view),
                "It opens this live session read-only, until the session ends or the link expires."
                    .to_owned(),
            ))
        }
        ShareAction::PlainLink => Ok((
            vm::live_link(&page, None, link_view),
            "This relay's reads are open: anyone who can reach it sees the race, read-only."
                .to_owned(),
        )),
        ShareAction::Replay { source } => {
            let at_s = deck.map_or(0.0, |d| d.position_s.get_untracked());
            let what = match source.kind {
                ReplayKind::Recording => "recording",
                ReplayKind::RaceFolder => "race",
            };
            Ok((
                vm::replay_link(&page, &source, at_s, link_view),
                format!("It replays the {what} from this moment, without the relay."),
            ))
        }
        ShareAction::Unavailable(why) => Err(format!("Cannot share: {why}.")),
        ShareAction::Hidden => Err("This page cannot share.".to_owned()),
    }
}
