//! The offline replay: a `.pcap` recording or a race folder (the five CSV files of `shared/data/races/<race>/`)
//! opened from disk (`<input type=file>`, a folder picker) or a URL (`?replay=URL&t=S`, `?race=URL&t=S`), decoded
//! or imported once in WASM, in the replay Web Worker ([`crate::replay_worker`], a `Timeline` there), and played
//! into the same [`LiveFeed`] the relay's WebSocket feeds, through the same messages (a snapshot, then deltas), so
//! the tower, the twins and the strategy desk work unchanged and a big recording never holds the page's thread. No
//! relay is involved: while a replay is open the relay's WebSocket is closed and never reopened (the page was
//! opened with `?replay=` or `?race=`, or the live connection is aborted when files are picked).
//!
//! A tick of the page's clock (every [`TICK_MS`]) moves the play head by real time times the speed: the worker
//! answers with one delta, as the relay publishes at most 10 states a second. One command is in the worker at a
//! time; ticks meanwhile add up into the next step, and a seek waiting replaces them. A seek rebuilds the race at
//! the target from the timeline's checkpoints and restarts the twins with the laps completed by then, a snapshot.

use boxbox_engine::race::FILE_NAMES;
use futures::future::AbortHandle;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::{JsCast, JsValue};

use crate::live::{Connection, LiveFeed};
use crate::replay_protocol::{ReplayCommand, ReplayHeader, split_answer};
use crate::replay_worker::ReplayWorker;
use crate::view_model::replay::{
    self as vm, Pick, PickError, ReplayKind, ReplayQuery, ReplaySource, SPEEDS, Transport,
};
use crate::view_model::share::without_query;

/// Real time between two ticks of the replay, in milliseconds (10 states a second, the relay's default rate).
pub const TICK_MS: u32 = 100;

/// Where the replay is.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplayStatus {
    /// No replay opened: the live view.
    Idle,
    /// Fetching, reading, decoding or importing; what is being done.
    Loading(String),
    /// A recording or a race folder is open.
    Ready,
    /// The recording or race folder could not be opened: why, for the screen.
    Failed(String),
}

/// The replay's state as signals, and the timeline it plays (a recording's or a race folder's). `Copy`.
#[derive(Clone, Copy, Debug)]
pub struct ReplayDeck {
    /// The feed the replay drives (the live view's own).
    feed: LiveFeed,
    /// Where the replay is.
    pub status: RwSignal<ReplayStatus>,
    /// What is replayed: a recording's file name or URL, a race's official name.
    pub name: RwSignal<String>,
    /// The recording or race folder and its URL when it was opened from one (`?replay=`, `?race=`), which a share
    /// link can point to; `None` for files picked from disk.
    pub source: RwSignal<Option<ReplaySource>>,
    /// The play head, in seconds of replay time.
    pub position_s: RwSignal<f64>,
    /// The replay's length, in seconds.
    pub duration_s: RwSignal<f64>,
    /// Playing (else paused).
    pub playing: RwSignal<bool>,
    /// Replay seconds per real second.
    pub speed: RwSignal<f64>,
    /// What opening the recording skipped, in one line.
    pub note: RwSignal<Option<String>>,
    /// The worker holds a replay.
    open: StoredValue<bool>,
    /// Replay time of its first race state, seconds.
    first_state_s: StoredValue<f64>,
    /// The play head is at the end.
    at_end: StoredValue<bool>,
    /// A command is in the worker.
    busy: StoredValue<bool>,
    /// Replay seconds the ticks added while the worker was busy.
    queued_step_s: StoredValue<f64>,
    /// A seek asked for while the worker was busy.
    queued_seek: StoredValue<Option<f64>>,
    transport: StoredValue<Transport>,
    /// The live connection, aborted when a replay opens.
    live: StoredValue<Option<AbortHandle>>,
    ticking: StoredValue<bool>,
    /// Counts the opens asked for: only the latest may show its progress, fail or open (an older one still fetching
    /// when the user picks a file would otherwise replace it when its bytes arrive).
    opening: StoredValue<u64>,
}

impl ReplayDeck {
    /// A deck with no recording, driving `feed`.
    pub fn new(feed: LiveFeed) -> Self {
        ReplayDeck {
            feed,
            status: RwSignal::new(ReplayStatus::Idle),
            name: RwSignal::new(String::new()),
            source: RwSignal::new(None),
            position_s: RwSignal::new(0.0),
            duration_s: RwSignal::new(0.0),
            playing: RwSignal::new(false),
            speed: RwSignal::new(vm::DEFAULT_SPEED),
            note: RwSignal::new(None),
            open: StoredValue::new(false),
            first_state_s: StoredValue::new(0.0),
            at_end: StoredValue::new(false),
            busy: StoredValue::new(false),
            queued_step_s: StoredValue::new(0.0),
            queued_seek: StoredValue::new(None),
            transport: StoredValue::new(Transport::new()),
            live: StoredValue::new(None),
            ticking: StoredValue::new(false),
            opening: StoredValue::new(0),
        }
    }

    /// Whether the page is in replay mode (a replay is open, loading or failed to open).
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

    /// Fetches and opens the recording or race folder the query names; `token` is the page's, sent only to the
    /// relay that served the page ([`crate::view_model::share::bearer_for`], asked for each file of a folder).
    pub fn open_url(self, query: ReplayQuery, token: Option<String>) {
        let serial = self.begin_open();
        self.go_offline();
        self.source.set(Some(query.source.clone()));
        let ReplaySource { kind, url } = query.source;
        spawn_local(async move {
            let bearer = |url: &str| crate::view_model::share::bearer_for(url, token.as_deref());
            match kind {
                ReplayKind::Recording => {
                    // What the page shows of the address: never its query (a `?token=` in it).
                    let shown = without_query(&url).to_owned();
                    self.loading(serial, format!("fetching {shown}"));
                    match fetch(&url, bearer(&url).as_deref()).await {
                        Ok(response) => match array_buffer(response).await {
                            Ok(buffer) => {
                                let command = ReplayCommand::OpenRecording {
                                    label: shown,
                                    start_s: query.start_s,
                                };
                                self.open_with(serial, command, Some(buffer)).await;
                            }
                            Err(()) => self.fail(serial, format!("cannot read {shown}")),
                        },
                        Err(why) => self.fail(serial, why),
                    }
                }
                ReplayKind::RaceFolder => {
                    let mut texts: [String; 5] = Default::default();
                    for (text, name) in texts.iter_mut().zip(FILE_NAMES) {
                        let file_url = vm::race_file_url(&url, name);
                        let shown = without_query(&file_url);
                        self.loading(serial, format!("fetching {shown}"));
                        let read = match fetch(&file_url, bearer(&file_url).as_deref()).await {
                            Ok(response) => response
                                .text()
                                .await
                                .map_err(|e| format!("cannot read {shown}: {e}")),
                            Err(why) => Err(why),
                        };
                        match read {
                            Ok(read) => *text = read,
                            Err(why) => return self.fail(serial, why),
                        }
                    }
                    let command = ReplayCommand::OpenRace {
                        label: without_query(&url).to_owned(),
                        files: texts.into(),
                        start_s: query.start_s,
                    };
                    self.open_with(serial, command, None).await;
                }
            }
        });
    }

    /// Opens files the user picked: one recording, or a race folder (picked as a folder, or its five files).
    /// Nothing picked does nothing; files that are neither leave the live view with a message saying why.
    pub fn open_files(self, files: Vec<web_sys::File>) {
        let paths: Vec<String> = files.iter().map(relative_path).collect();
        let pick = vm::classify_pick(&paths.iter().map(String::as_str).collect::<Vec<_>>());
        if pick == Err(PickError::Nothing) {
            return;
        }
        let serial = self.begin_open();
        self.go_offline();
        self.source.set(None);
        match pick {
            Ok(Pick::Recording(k)) => {
                if let Some(file) = files.into_iter().nth(k) {
                    self.open_file(serial, file);
                }
            }
            Ok(Pick::RaceFolder(at)) => {
                let laps_path = paths.get(at[0]).map_or("", String::as_str);
                let label = vm::folder_name(laps_path)
                    .unwrap_or("race files")
                    .to_owned();
                let picked = at.map(|k| files.get(k).cloned());
                spawn_local(async move {
                    let mut texts: [String; 5] = Default::default();
                    for (text, file) in texts.iter_mut().zip(picked) {
                        let Some(file) = file else { return };
                        let name = file.name();
                        self.loading(serial, format!("reading {name}"));
                        let read = wasm_bindgen_futures::JsFuture::from(file.text()).await;
                        match read.ok().and_then(|t| t.as_string()) {
                            Some(read) => *text = read,
                            None => return self.fail(serial, format!("cannot read {name}")),
                        }
                    }
                    let command = ReplayCommand::OpenRace {
                        label,
                        files: texts.into(),
                        start_s: None,
                    };
                    self.open_with(serial, command, None).await;
                });
            }
            Err(why) => self.fail(serial, why.to_string()),
        }
    }

    /// Reads and opens a recording the user picked.
    fn open_file(self, serial: u64, file: web_sys::File) {
        let name = file.name();
        self.loading(serial, format!("reading {name}"));
        spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
                Ok(buffer) => {
                    let command = ReplayCommand::OpenRecording {
                        label: name,
                        start_s: None,
                    };
                    self.open_with(serial, command, Some(buffer.unchecked_into()))
                        .await;
                }
                Err(_) => self.fail(serial, format!("cannot read {name}")),
            }
        });
    }

    /// Starts an open: the opens before it no longer show anything.
    fn begin_open(&self) -> u64 {
        self.opening.update_value(|s| *s += 1);
        self.opening.get_value()
    }

    /// Whether the open numbered `serial` is the latest asked for.
    fn latest(&self, serial: u64) -> bool {
        self.opening.try_get_value() == Some(serial)
    }

    fn loading(&self, serial: u64, what: String) {
        if self.latest(serial) {
            self.status.set(ReplayStatus::Loading(what));
        }
    }

    fn fail(&self, serial: u64, why: String) {
        if self.latest(serial) {
            self.status.set(ReplayStatus::Failed(why));
        }
    }

    /// Has the replay worker decode a recording or import a race folder (`command`, with the recording's bytes)
    /// and shows it at the command's start (the first race state by default), paused.
    async fn open_with(
        self,
        serial: u64,
        command: ReplayCommand,
        bytes: Option<js_sys::ArrayBuffer>,
    ) {
        if !self.latest(serial) {
            return;
        }
        let label = match &command {
            ReplayCommand::OpenRecording { label, .. } | ReplayCommand::OpenRace { label, .. } => {
                label.clone()
            }
            _ => String::new(),
        };
        self.loading(serial, format!("decoding {label}"));
        self.set_playing(false);
        // The previous replay, if any, sends nothing more; a command of its still in the worker is let finish
        // (the worker takes one command at a time).
        self.open.set_value(false);
        while self.busy.get_value() {
            gloo_timers::future::TimeoutFuture::new(20).await;
        }
        // A later open came while this one waited: it goes on instead.
        if !self.latest(serial) {
            return;
        }
        self.busy.set_value(true);
        let answer = match ReplayWorker::shared().await {
            Ok(worker) => worker.call(&command, bytes).await,
            Err(why) => Err(why),
        };
        self.busy.set_value(false);
        if !self.latest(serial) {
            return;
        }
        let text = match answer {
            Ok(text) => text,
            Err(why) => return self.fail(serial, why),
        };
        match split_answer(&text) {
            Ok((header, _)) if header.error.is_some() => {
                return self.fail(serial, header.error.unwrap_or_default());
            }
            Ok((header, message)) => {
                self.note.set(header.note.clone());
                self.name.set(header.name.clone().unwrap_or(label));
                self.open.set_value(true);
                self.queued_step_s.set_value(0.0);
                self.queued_seek.set_value(None);
                self.show(&header, message);
            }
            Err(why) => return self.fail(serial, why),
        }
        self.status.set(ReplayStatus::Ready);
        if !self.ticking.get_value() {
            self.ticking.set_value(true);
            gloo_timers::callback::Interval::new(TICK_MS, move || self.tick()).forget();
        }
    }

    /// Applies an answer: the play head and the relay message (a snapshot restarts the twins, a delta moves on).
    fn show(&self, header: &ReplayHeader, message: &str) {
        self.duration_s.set(header.duration_s);
        self.first_state_s.set_value(header.first_state_s);
        self.at_end.set_value(header.at_end);
        self.position_s.set(header.position_s);
        if !message.is_empty() {
            match crate::relay_message::decode(message) {
                Ok(message) => {
                    // A delta that does not apply would leave every later one refused while the clock runs on: a
                    // seek to the play head answers with a snapshot.
                    if !self.feed.apply(message) {
                        self.seek(header.position_s);
                    }
                }
                Err(e) => leptos::logging::warn!("the replay worker's message does not read: {e}"),
            }
        }
        if header.at_end {
            self.set_playing(false);
        }
    }

    /// One tick of the page's clock: the step goes to the worker, or waits for the command in it.
    fn tick(&self) {
        let now = js_sys::Date::now();
        let Some(step_s) = self.transport.try_update_value(|t| t.tick(now)) else {
            return;
        };
        if step_s > 0.0 {
            self.queued_step_s.update_value(|q| *q += step_s);
            self.pump();
        }
    }

    /// Sends the next queued command (a seek before any step) unless one is in the worker.
    fn pump(self) {
        if self.busy.get_value() || !self.open.get_value() {
            return;
        }
        let command = if let Some(t_s) = self.queued_seek.try_update_value(Option::take).flatten() {
            self.queued_step_s.set_value(0.0);
            ReplayCommand::Seek { t_s }
        } else {
            let step_s = self
                .queued_step_s
                .try_update_value(std::mem::take)
                .unwrap_or(0.0);
            if step_s <= 0.0 {
                return;
            }
            ReplayCommand::Advance { step_s }
        };
        self.busy.set_value(true);
        let serial = self.opening.get_value();
        spawn_local(async move {
            let answer = match ReplayWorker::shared().await {
                Ok(worker) => worker.call(&command, None).await,
                Err(why) => Err(why),
            };
            let _ = self.busy.try_set_value(false);
            // Another recording is being opened: this answer is the old one's.
            if !self.latest(serial) {
                return;
            }
            let text = match answer {
                Ok(text) => text,
                Err(why) => {
                    self.set_playing(false);
                    self.fail(serial, why);
                    return;
                }
            };
            match split_answer(&text) {
                Ok((header, message)) => match &header.error {
                    Some(why) => leptos::logging::warn!("replay: {why}"),
                    None => self.show(&header, message),
                },
                Err(why) => {
                    self.set_playing(false);
                    self.fail(serial, why);
                    return;
                }
            }
            self.pump();
        });
    }

    /// Plays or pauses; playing at the end starts again from the first race state.
    pub fn toggle(&self) {
        let play = !self.playing.get_untracked();
        if play && self.at_end.get_value() {
            self.seek(self.first_state_s.get_value());
        }
        self.set_playing(play);
    }

    fn set_playing(&self, playing: bool) {
        self.transport.update_value(|t| t.set_playing(playing));
        self.playing.set(playing);
    }

    /// Sets the speed (replay seconds per real second).
    pub fn set_speed(&self, speed: f64) {
        self.transport.update_value(|t| t.speed = speed);
        self.speed.set(speed);
    }

    /// Moves the play head to `t_s`, forwards or backwards.
    pub fn seek(&self, t_s: f64) {
        self.queued_seek.set_value(Some(t_s));
        self.at_end.set_value(false);
        self.pump();
    }
}

/// A response's body as an `ArrayBuffer`, to move to the replay worker without a copy through the page's memory.
async fn array_buffer(response: gloo_net::http::Response) -> Result<js_sys::ArrayBuffer, ()> {
    let promise = web_sys::Response::from(response)
        .array_buffer()
        .map_err(|_| ())?;
    let buffer = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map_err(|_| ())?;
    buffer.dyn_into().map_err(|_| ())
}

/// The response for `url`, when it is a success.
async fn fetch(url: &str, authorization: Option<&str>) -> Result<gloo_net::http::Response, String> {
    let mut request = gloo_net::http::Request::get(url);
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("cannot fetch {}: {e}", without_query(url)))?;
    if !response.ok() {
        return Err(format!(
            "cannot fetch {}: HTTP {} {}",
            without_query(url),
            response.status(),
            response.status_text()
        ));
    }
    Ok(response)
}

/// A picked file's path within the folder picked (`webkitRelativePath`), or its name when it was picked by itself.
fn relative_path(file: &web_sys::File) -> String {
    // web-sys does not bind `webkitRelativePath`.
    js_sys::Reflect::get(file, &JsValue::from_str("webkitRelativePath"))
        .ok()
        .and_then(|p| p.as_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| file.name())
}

/// The replay asked for in the page's query, if any.
pub fn query() -> Option<ReplayQuery> {
    let search = web_sys::window()?.location().search().ok()?;
    ReplayQuery::parse(&search)
}

/// The buttons that open a replay from disk (each a label around a file input, so it is one touch target): a
/// recording, or a race folder's five CSV files picked together, and a race folder picked as a folder.
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
        let files = input
            .files()
            .map(|list| (0..list.length()).filter_map(|k| list.get(k)).collect())
            .unwrap_or_default();
        // Picking the same files again must fire `change` again.
        input.set_value("");
        deck.open_files(files);
    };
    view! {
        <label
            class="open-rec"
            title="Replay a .pcap recording, or the five CSV files of a race folder, in this browser, without the relay"
        >
            "Open recording"
            <input
                type="file"
                multiple=true
                accept=".pcap,.cap,application/vnd.tcpdump.pcap,.csv,text/csv"
                aria-label="Open a recording (.pcap), or the five CSV files of a race folder, to replay offline"
                data-testid="replay-file"
                on:change=on_change
            />
        </label>
        <label
            class="open-rec"
            title="Replay a race folder (FastF1 laps, f1db race, results, pit stops and grid) in this browser, without the relay"
        >
            "Open race folder"
            <input
                type="file"
                multiple=true
                prop:webkitdirectory=true
                aria-label="Open a race folder to replay offline"
                data-testid="replay-race-folder"
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
    let range_value =
        move |ev: &leptos::ev::Event| crate::view_model::parse_number(&event_target_value(ev));
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
                        if let Some(speed) = crate::view_model::parse_number(&event_target_value(&ev)) {
                            deck.set_speed(speed);
                        }
                    }
                >
                    {SPEEDS
                        .iter()
                        .map(|&s| {
                            view! {
                                // The deck's speed, not the default: the bar is built again for another recording,
                                // which keeps playing at the speed chosen before.
                                <option value=s.to_string() prop:selected=move || deck.speed.get() == s>
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
