//! The offline replay: a `.pcap` recording opened from disk (`<input type=file>`) or a URL (`?replay=URL&t=S`),
//! decoded once in WASM into a [`Timeline`] and played into the same [`LiveFeed`] signals the relay's WebSocket
//! feeds, so the tower, the twins and the strategy desk work unchanged. No relay is involved: while a replay is
//! open the relay's WebSocket is closed and never reopened (the page was opened with `?replay=`, or the live
//! connection is aborted when a file is picked).
//!
//! A tick of the page's clock (every [`TICK_MS`]) moves the play head by real time times the speed and publishes
//! one state, as the relay publishes at most 10 states a second. A seek rebuilds the race at the target from the
//! timeline's checkpoints and restarts the twins with the laps completed by then, like a relay snapshot.

use futures::future::AbortHandle;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::live::{Connection, LiveFeed};
use crate::timeline::Timeline;
use crate::view_model::replay::{self as vm, ReplayQuery, SPEEDS, Transport};

/// Real time between two ticks of the replay, in milliseconds (10 states a second, the relay's default rate).
pub const TICK_MS: u32 = 100;

/// Where the replay is.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplayStatus {
    /// No recording opened: the live view.
    Idle,
    /// Fetching or decoding; what is being done.
    Loading(String),
    /// A recording is open.
    Ready,
    /// The recording could not be opened: why, for the screen.
    Failed(String),
}

/// The replay's state as signals, and the timeline it plays. `Copy`.
#[derive(Clone, Copy, Debug)]
pub struct ReplayDeck {
    /// The feed the replay drives (the live view's own).
    feed: LiveFeed,
    /// Where the replay is.
    pub status: RwSignal<ReplayStatus>,
    /// The recording's name (file name or URL).
    pub name: RwSignal<String>,
    /// The recording's URL when it was opened from one (`?replay=`), which a share link can point to; `None` for
    /// a file picked from disk.
    pub url: RwSignal<Option<String>>,
    /// The play head, in seconds of recording time.
    pub position_s: RwSignal<f64>,
    /// The recording's length, in seconds.
    pub duration_s: RwSignal<f64>,
    /// Playing (else paused).
    pub playing: RwSignal<bool>,
    /// Recording seconds per real second.
    pub speed: RwSignal<f64>,
    /// What opening the recording skipped, in one line.
    pub note: RwSignal<Option<String>>,
    timeline: StoredValue<Option<Timeline>>,
    transport: StoredValue<Transport>,
    /// The live connection, aborted when a replay opens.
    live: StoredValue<Option<AbortHandle>>,
    ticking: StoredValue<bool>,
}

impl ReplayDeck {
    /// A deck with no recording, driving `feed`.
    pub fn new(feed: LiveFeed) -> Self {
        ReplayDeck {
            feed,
            status: RwSignal::new(ReplayStatus::Idle),
            name: RwSignal::new(String::new()),
            url: RwSignal::new(None),
            position_s: RwSignal::new(0.0),
            duration_s: RwSignal::new(0.0),
            playing: RwSignal::new(false),
            speed: RwSignal::new(vm::DEFAULT_SPEED),
            note: RwSignal::new(None),
            timeline: StoredValue::new(None),
            transport: StoredValue::new(Transport::new()),
            live: StoredValue::new(None),
            ticking: StoredValue::new(false),
        }
    }

    /// Whether the page is in replay mode (a recording is open, loading or failed to open).
    pub fn is_active(&self) -> bool {
        self.status.with(|s| *s != ReplayStatus::Idle)
    }

    /// Remembers the live connection, so opening a recording can close it.
    pub fn hold_live(&self, handle: AbortHandle) {
        self.live.set_value(Some(handle));
    }

    /// Closes the relay's WebSocket and stops reconnecting, for good.
    pub fn close_live(&self) {
        if let Some(live) = self.live.try_update_value(Option::take).flatten() {
            live.abort();
        }
    }

    /// Leaves the live view for good: closes the relay's WebSocket and stops reconnecting.
    fn go_offline(&self) {
        self.close_live();
        self.feed.connection.set(Connection::Offline);
    }

    /// Fetches and opens the recording the query names; `token` is the page's, sent only to the relay that served
    /// the page ([`crate::view_model::share::bearer_for`]).
    pub fn open_url(self, query: ReplayQuery, token: Option<String>) {
        self.go_offline();
        self.url.set(Some(query.url.clone()));
        self.status
            .set(ReplayStatus::Loading(format!("fetching {}", query.url)));
        spawn_local(async move {
            let authorization = crate::view_model::share::bearer_for(&query.url, token.as_deref());
            match fetch(&query.url, authorization.as_deref()).await {
                Ok(bytes) => self.open_bytes(query.url, bytes, query.start_s).await,
                Err(why) => self.status.set(ReplayStatus::Failed(why)),
            }
        });
    }

    /// Reads and opens a file the user picked.
    pub fn open_file(self, file: web_sys::File) {
        self.go_offline();
        self.url.set(None);
        let name = file.name();
        self.status
            .set(ReplayStatus::Loading(format!("reading {name}")));
        spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
                Ok(buffer) => {
                    let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
                    self.open_bytes(name, bytes, None).await;
                }
                Err(_) => self
                    .status
                    .set(ReplayStatus::Failed(format!("cannot read {name}"))),
            }
        });
    }

    /// Decodes a recording and shows it at `start_s` (the first race state by default), paused.
    async fn open_bytes(self, name: String, bytes: Vec<u8>, start_s: Option<f64>) {
        self.status
            .set(ReplayStatus::Loading(format!("decoding {name}")));
        // Let the page show that before the decoding holds the thread.
        gloo_timers::future::TimeoutFuture::new(20).await;
        let mut timeline = match Timeline::open(&bytes) {
            Ok(t) => t,
            Err(e) => {
                self.status
                    .set(ReplayStatus::Failed(format!("{name}: {e}")));
                return;
            }
        };
        drop(bytes);
        timeline.seek(start_s.unwrap_or_else(|| timeline.first_state_s()));
        self.note.set(vm::skipped_note(timeline.skipped()));
        self.duration_s.set(timeline.duration_s());
        self.name.set(name);
        self.timeline.set_value(Some(timeline));
        self.set_playing(false);
        self.publish(true);
        self.status.set(ReplayStatus::Ready);
        if !self.ticking.get_value() {
            self.ticking.set_value(true);
            gloo_timers::callback::Interval::new(TICK_MS, move || self.tick()).forget();
        }
    }

    /// Sends the race at the play head to the feed: as a snapshot (the twins restart with the laps so far) after a
    /// jump, else as an update.
    fn publish(&self, snapshot: bool) {
        let Some(Some((state, history, position_s))) = self.timeline.try_with_value(|t| {
            t.as_ref().map(|t| {
                let history = if snapshot { t.history() } else { Vec::new() };
                (t.state(), history, t.position_s())
            })
        }) else {
            return;
        };
        self.position_s.set(position_s);
        let Some(state) = state else { return };
        if snapshot {
            self.feed.start(state, history);
        } else {
            self.feed.update(state);
        }
    }

    /// One tick of the page's clock.
    fn tick(&self) {
        let now = js_sys::Date::now();
        let Some(step_s) = self.transport.try_update_value(|t| t.tick(now)) else {
            return;
        };
        if step_s <= 0.0 {
            return;
        }
        let moved = self.timeline.try_update_value(|t| {
            t.as_mut()
                .map(|t| (t.advance_to(t.position_s() + step_s), t.at_end()))
        });
        let Some(Some((applied, at_end))) = moved else {
            return;
        };
        if applied > 0 {
            self.publish(false);
        } else {
            self.position_s.set(
                self.timeline
                    .with_value(|t| t.as_ref().map_or(0.0, Timeline::position_s)),
            );
        }
        if at_end {
            self.set_playing(false);
        }
    }

    /// Plays or pauses; playing at the end starts again from the first race state.
    pub fn toggle(&self) {
        let play = !self.playing.get_untracked();
        if play {
            let restart = self.timeline.with_value(|t| {
                t.as_ref()
                    .filter(|t| t.at_end())
                    .map(Timeline::first_state_s)
            });
            if let Some(start) = restart {
                self.seek(start);
            }
        }
        self.set_playing(play);
    }

    fn set_playing(&self, playing: bool) {
        self.transport.update_value(|t| t.set_playing(playing));
        self.playing.set(playing);
    }

    /// Sets the speed (recording seconds per real second).
    pub fn set_speed(&self, speed: f64) {
        self.transport.update_value(|t| t.speed = speed);
        self.speed.set(speed);
    }

    /// Moves the play head to `t_s`, forwards or backwards.
    pub fn seek(&self, t_s: f64) {
        self.timeline.update_value(|t| {
            if let Some(t) = t.as_mut() {
                t.seek(t_s);
            }
        });
        self.publish(true);
    }
}

/// The recording at `url`, as bytes.
async fn fetch(url: &str, authorization: Option<&str>) -> Result<Vec<u8>, String> {
    let mut request = gloo_net::http::Request::get(url);
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("cannot fetch {url}: {e}"))?;
    if !response.ok() {
        return Err(format!(
            "cannot fetch {url}: HTTP {} {}",
            response.status(),
            response.status_text()
        ));
    }
    response
        .binary()
        .await
        .map_err(|e| format!("cannot read {url}: {e}"))
}

/// The replay asked for in the page's query, if any.
pub fn query() -> Option<ReplayQuery> {
    let search = web_sys::window()?.location().search().ok()?;
    ReplayQuery::parse(&search)
}

/// The button that opens a recording from disk (a label around a file input, so it is one touch target).
#[component]
pub fn OpenRecording(
    /// The deck that plays what is picked.
    deck: ReplayDeck,
) -> impl IntoView {
    let on_change = move |ev: leptos::ev::Event| {
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        if let Some(file) = input.files().and_then(|files| files.get(0)) {
            deck.open_file(file);
        }
        // Picking the same file again must fire `change` again.
        input.set_value("");
    };
    view! {
        <label class="open-rec" title="Replay a .pcap recording in this browser, without the relay">
            "Open recording"
            <input
                type="file"
                accept=".pcap,.cap,application/vnd.tcpdump.pcap"
                aria-label="Open a recording (.pcap) to replay offline"
                data-testid="replay-file"
                on:change=on_change
            />
        </label>
    }
}

/// The replay's transport: play/pause, speed, the scrub bar and the replay clock, with the status and what was
/// skipped. Built only in replay mode.
#[component]
pub fn ReplayBar(
    /// The replay to control.
    deck: ReplayDeck,
) -> impl IntoView {
    // While the scrub bar is dragged, the clock shows where it would go; the seek happens on release.
    let scrub = RwSignal::new(None::<f64>);
    let ready = move || deck.status.with(|s| *s == ReplayStatus::Ready);
    let message = move || {
        deck.status.with(|s| match s {
            ReplayStatus::Idle | ReplayStatus::Ready => String::new(),
            ReplayStatus::Loading(what) => format!("{what}…"),
            ReplayStatus::Failed(why) => why.clone(),
        })
    };
    let failed = move || deck.status.with(|s| matches!(s, ReplayStatus::Failed(_)));
    let clock = move || {
        let at = scrub.get().unwrap_or_else(|| deck.position_s.get());
        format!("{} / {}", vm::clock(at), vm::clock(deck.duration_s.get()))
    };
    let range_value = move |ev: &leptos::ev::Event| event_target_value(ev).parse::<f64>().ok();
    view! {
        <section class="replay-bar" aria-label="Offline replay" data-testid="replay-bar">
            <span class="replay-name" title=move || deck.name.get()>{move || deck.name.get()}</span>
            <Show when=ready>
                <button
                    class="replay-play"
                    data-testid="replay-play"
                    aria-label=move || if deck.playing.get() { "Pause the replay" } else { "Play the replay" }
                    on:click=move |_| deck.toggle()
                >
                    {move || if deck.playing.get() { "❚❚" } else { "▶" }}
                </button>
                <select
                    data-testid="replay-speed"
                    aria-label="Replay speed"
                    on:change=move |ev| {
                        if let Ok(speed) = event_target_value(&ev).parse::<f64>() {
                            deck.set_speed(speed);
                        }
                    }
                >
                    {SPEEDS
                        .iter()
                        .map(|&s| {
                            view! {
                                // Only this control sets the speed: the DOM keeps the choice, no reactive attribute needed.
                                <option value=s.to_string() selected=s == vm::DEFAULT_SPEED>
                                    {vm::speed_label(s)}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                <input
                    type="range"
                    class="replay-seek"
                    data-testid="replay-seek"
                    aria-label="Replay position, seconds"
                    min="0"
                    step="1"
                    max=move || deck.duration_s.get().ceil().to_string()
                    prop:value=move || scrub.get().unwrap_or_else(|| deck.position_s.get()).floor().to_string()
                    on:input=move |ev| scrub.set(range_value(&ev))
                    on:change=move |ev| {
                        scrub.set(None);
                        if let Some(t) = range_value(&ev) {
                            deck.seek(t);
                        }
                    }
                />
                <span class="replay-clock" data-testid="replay-clock">{clock}</span>
            </Show>
            <span class=move || if failed() { "replay-status error" } else { "replay-status" } data-testid="replay-status" role="status">
                {message}
            </span>
            {move || deck.note.get().map(|n| view! { <span class="replay-note dim" data-testid="replay-note">{n}</span> })}
        </section>
    }
}
