//! The pit wall's components: the session bar, the live timing tower, the car panel with its Car Twin, the
//! Field panel with the Field Twin and the tab of the strategy desk ([`crate::desk`]).
//!
//! Components only lay out what [`crate::view_model`] computes; the twins themselves are the engine's, run here in
//! WASM by [`LiveFeed`]. Each section re-renders only when its own view model changes, and the pane that is not
//! shown is not built at all.

use leptos::prelude::*;

use boxbox_engine::sorting::sort_by;
use boxbox_engine::wire::DataSource;

use crate::charts::{ChartsView, LatestBaseline};
use crate::desk::StrategyDesk;
use crate::live::{self, Connection, LiveFeed};
use crate::locks::LockSource;
use crate::race_control::RaceControl;
use crate::replay::{self, OpenRecording, ReplayBar, ReplayDeck};
use crate::share::{self as share, PageAccess, ShareButton};
use crate::view_model::car::{self as car_vm, AlertCard, CornerTile, StintChip, TwinView};
use crate::view_model::field::{self as field_vm, FieldRow};
use crate::view_model::sectors::{self as sectors_vm, SectorMark};
use crate::view_model::share::{Access, PageQuery, with_token};
use crate::view_model::{self as vm, TowerRow};

/// The whole app: connects to the relay that served the page and shows the pit wall, or, with `?replay=URL` (a
/// recording) or `?race=URL` (a race folder), replays it offline and never contacts the relay, or, with
/// `?nats=ws://…`, reads the race through a NATS server's WebSocket listener (no Share button then). `?token=` is
/// passed on every relay call; `?view=` and `?car=` open a view and a car (what a share link carries).
#[component]
pub fn App() -> impl IntoView {
    let feed = LiveFeed::new();
    let deck = ReplayDeck::new(feed);
    let query = share::page_query();
    let mut access = Some(PageAccess::new(query.token.clone()));
    match (replay::query(), query.nats.clone(), live::default_ws_url()) {
        (Some(replay), _, _) => deck.open_url(replay, query.token.clone()),
        // Through NATS: the relay's tokens and share links do not apply (NATS's own authorization does).
        (None, Some(nats), _) => {
            access = None;
            deck.hold_live(crate::nats_feed::connect(feed, nats));
            crate::wake_lock::keep_awake_while_live(feed);
        }
        (None, None, Some(url)) => {
            deck.hold_live(live::connect(
                feed,
                with_token(&url, query.token.as_deref()),
            ));
            if let Some(access) = access {
                access.watch(feed, deck);
            }
            crate::wake_lock::keep_awake_while_live(feed);
        }
        (None, None, None) => leptos::logging::error!("no page location: cannot find the relay"),
    }
    match access {
        Some(access) => {
            view! { <PitWall feed=feed deck=deck access=access start=query /> }.into_any()
        }
        None => view! { <PitWall feed=feed deck=deck start=query /> }.into_any(),
    }
}

/// The pit wall for a feed: session bar, timing tower and the selected car's panel.
#[component]
pub fn PitWall(
    /// Where the data comes from.
    feed: LiveFeed,
    /// The offline replay that can drive `feed` (none: live only, no replay controls).
    #[prop(optional)]
    deck: Option<ReplayDeck>,
    /// The page's token and what the relay lets it do (none: no Share button, no access checks).
    #[prop(optional)]
    access: Option<PageAccess>,
    /// The view and car to open with (`?view=`, `?car=`).
    #[prop(optional)]
    start: PageQuery,
) -> impl IntoView {
    // The desk's latest Monte Carlo, which the Charts view also shows.
    provide_context(LatestBaseline::new());
    // The replay bar is built once a recording is being opened, not rebuilt on each status change.
    let replaying = Memo::new(move |_| deck.is_some_and(|d| d.is_active()));
    let picked = RwSignal::new(start.car);
    let pane = RwSignal::new(
        start
            .view
            .as_deref()
            .and_then(Pane::from_name)
            .unwrap_or(Pane::Car),
    );
    // A click on the open tab sets the same pane: the memo keeps that from rebuilding it.
    let shown = Memo::new(move |_| pane.get());
    // Until the user picks a car (or one the session has), follow the leader.
    let selected = Memo::new(move |_| {
        feed.state.with(|s| {
            let cars = s.as_ref().map(|s| s.cars.as_slice()).unwrap_or_default();
            picked
                .get()
                .filter(|idx| cars.iter().any(|c| c.car_idx == *idx))
                .or_else(|| cars.first().map(|c| c.car_idx))
        })
    });
    // A relay that refuses the page: say why instead of an empty pit wall (a replay opened since still plays).
    let denied = Memo::new(move |_| {
        let refused = access.and_then(|a| {
            a.status.with(|s| match s {
                Access::Denied(why) => Some(why.message()),
                _ => None,
            })
        });
        refused.filter(|_| !replaying.get())
    });
    let share = access.map(|access| ShareContext {
        access,
        pane: shown,
        picked,
    });
    view! {
        <div class="pitwall">
            <SessionBar feed=feed deck=deck share=share />
            {move || replaying.get().then(|| deck.map(|deck| view! { <ReplayBar deck=deck /> }))}
            {move || denied.get().map(|(title, text)| view! {
                <section class="access-denied" role="alert" data-testid="access-denied">
                    <h1>{title}</h1>
                    <p>{text}</p>
                </section>
            })}
            <main class="panes" hidden=move || denied.with(Option::is_some)>
                <TimingTower feed=feed selected=selected on_pick=move |idx| picked.set(Some(idx)) />
                <div class="side">
                    <RaceControl feed=feed />
                    <nav class="tabs" role="tablist" aria-label="Views">
                        {tab(pane, Pane::Car, "tab-car", "Car")}
                        {tab(pane, Pane::Field, "tab-field", "Field")}
                        {tab(pane, Pane::Strategy, "tab-strategy", "Strategy")}
                        {tab(pane, Pane::Charts, "tab-charts", "Charts")}
                    </nav>
                    {move || match shown.get() {
                        Pane::Car => view! { <CarPanel feed=feed car=selected /> }.into_any(),
                        Pane::Field => view! {
                            <FieldPanel feed=feed selected=selected on_pick=move |idx| picked.set(Some(idx)) />
                        }
                        .into_any(),
                        Pane::Strategy => {
                            let locks = access.map(|access| LockSource { access, replaying });
                            view! { <StrategyDesk feed=feed car=selected locks=locks /> }.into_any()
                        }
                        Pane::Charts => view! { <ChartsView feed=feed car=selected /> }.into_any(),
                    }}
                </div>
            </main>
        </div>
    }
}

/// The side pane's tab that opens `this`.
fn tab(
    pane: RwSignal<Pane>,
    this: Pane,
    testid: &'static str,
    label: &'static str,
) -> impl IntoView {
    view! {
        <button
            role="tab"
            data-testid=testid
            aria-selected=move || (pane.get() == this).to_string()
            on:click=move |_| pane.set(this)
        >
            {label}
        </button>
    }
}

/// The view in the side pane.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Pane {
    /// The selected car and its Car Twin.
    Car,
    /// Every car's Field Twin.
    Field,
    /// The selected car's strategy, from the workers.
    Strategy,
    /// Lap times, race trace, stints and finishing positions, drawn by the workers.
    Charts,
}

impl Pane {
    /// The pane's name in a link (`?view=`).
    fn name(self) -> &'static str {
        match self {
            Pane::Car => "car",
            Pane::Field => "field",
            Pane::Strategy => "strategy",
            Pane::Charts => "charts",
        }
    }

    /// The pane a link names; `None` for a name the app does not know.
    fn from_name(name: &str) -> Option<Pane> {
        [Pane::Car, Pane::Field, Pane::Strategy, Pane::Charts]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

/// What the session bar's Share button needs: the page's access, and the view and car a link opens.
#[derive(Clone, Copy, Debug)]
struct ShareContext {
    access: PageAccess,
    pane: Memo<Pane>,
    picked: RwSignal<Option<u8>>,
}

/// Track, lap counter, flags, weather and the connection.
#[component]
fn SessionBar(
    /// Where the data comes from.
    feed: LiveFeed,
    /// The offline replay, whose "Open recording" button sits here.
    deck: Option<ReplayDeck>,
    /// The Share button's context (none: no Share button).
    share: Option<ShareContext>,
) -> impl IntoView {
    let session = Memo::new(move |_| {
        feed.state
            .with(|s| s.as_ref().map(|s| (s.session.clone(), s.source)))
    });
    let lap = move || {
        session.with(|s| {
            s.as_ref()
                .map(|(s, _)| format!("LAP {} / {}", s.leader_lap, s.total_laps))
        })
    };
    // Upper-cased by the stylesheet: the browser knows every script's cases (`Portimão`), and Rust's
    // `to_uppercase` would bring Unicode's case tables (24 KB) into the app.
    let track = move || session.with(|s| s.as_ref().map(|(s, _)| s.track.clone()));
    let flag = move || session.with(|s| s.as_ref().map(|(s, _)| vm::track_status(s.track_status)));
    let weather = move || session.with(|s| s.as_ref().map(|(s, _)| vm::weather_line(s)));
    let simulated = move || session.with(|s| matches!(s, Some((_, DataSource::Simulator))));
    let replay = move || session.with(|s| matches!(s, Some((_, DataSource::Replay))));
    let connection = move || match feed.connection.get() {
        Connection::Connecting => ("CONNECTING", "conn conn-wait"),
        Connection::Live => ("LIVE", "conn conn-live"),
        Connection::Reconnecting { .. } => ("RECONNECTING", "conn conn-lost"),
        Connection::Offline => ("OFFLINE", "conn conn-off"),
        Connection::Denied => ("NO ACCESS", "conn conn-denied"),
    };
    let badge = move || share.and_then(|s| s.access.status.with(Access::badge));
    view! {
        <header class="session-bar">
            <div class="brand">"box" <b>"box"</b></div>
            <div class="track" data-testid="track">{track}</div>
            <div class="lap" data-testid="lap">{lap}</div>
            <div class=move || format!("flag {}", flag().map_or("", |f| f.1))>{move || flag().map(|f| f.0)}</div>
            <div class="weather">{weather}</div>
            {deck.map(|deck| view! { <OpenRecording deck=deck /> })}
            {share.map(|s| view! { <ShareButton
                access=s.access
                deck=deck
                link_view=move || (Some(s.pane.get_untracked().name()), s.picked.get_untracked())
            /> })}
            {move || badge().map(|(label, title)| view! {
                <div class="badge-role" title=title data-testid="role">{label}</div>
            })}
            <Show when=simulated>
                <div class="badge-sim" title="Data from boxbox's race simulator, not a real session">"SIMULATION"</div>
            </Show>
            <Show when=replay>
                <div class="badge-sim" title="A recorded session played back, not live">"REPLAY"</div>
            </Show>
            <div class=move || connection().1 data-testid="connection" aria-live="polite">
                {move || connection().0}
            </div>
        </header>
    }
}

/// The live timing tower: one row per position, a row per car, click to select.
#[component]
fn TimingTower(
    /// Where the data comes from.
    feed: LiveFeed,
    /// The car whose row is highlighted.
    selected: Memo<Option<u8>>,
    /// Called with a car index when its row is clicked.
    on_pick: impl Fn(u8) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let n_cars = Memo::new(move |_| feed.state.with(|s| s.as_ref().map_or(0, |s| s.cars.len())));
    // Once per state for the whole tower; a row re-renders only if its own cells change.
    let bests = Memo::new(move |_| {
        feed.state
            .with(|s| s.as_ref().map(|s| sectors_vm::session_bests_ms(&s.cars)))
            .unwrap_or_default()
    });
    view! {
        <section class="tower" aria-label="Timing tower">
            <table>
                <thead>
                    <tr>
                        <th>"P"</th>
                        <th class="left">"Driver"</th>
                        <th>"Gap"</th>
                        <th>"Int"</th>
                        <th>"Last lap"</th>
                        <th class="sector" title="sector 1 of the last lap">"S1"</th>
                        <th class="sector" title="sector 2 of the last lap">"S2"</th>
                        <th class="sector" title="sector 3 of the last lap">"S3"</th>
                        <th>"Tyre"</th>
                        <th>"Stops"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || 0..n_cars.get() key=|pos| *pos let:pos>
                        <TowerRowView feed=feed pos=pos bests=bests selected=selected on_pick=on_pick />
                    </For>
                </tbody>
            </table>
        </section>
    }
}

/// One position in the tower; its content changes when cars swap places.
#[component]
fn TowerRowView(
    /// Where the data comes from.
    feed: LiveFeed,
    /// 0-based position this row shows.
    pos: usize,
    /// The session's best of each sector, in milliseconds.
    bests: Memo<[Option<u64>; 3]>,
    /// The selected car.
    selected: Memo<Option<u8>>,
    /// Called with the car index on click.
    on_pick: impl Fn(u8) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let row = Memo::new(move |_| {
        bests.with(|bests| {
            feed.state.with(|s| {
                s.as_ref()
                    .and_then(|s| s.cars.get(pos))
                    .map(|car| TowerRow::new(car, bests))
            })
        })
    });
    let field = move |f: fn(&TowerRow) -> String| {
        move || row.with(|r| r.as_ref().map(f).unwrap_or_default())
    };
    let is_selected = move || row.with(|r| r.as_ref().map(|r| r.car_idx)) == selected.get();
    let class = move || {
        let status = row.with(|r| r.as_ref().map_or("", |r| r.status));
        format!(
            "tower-row{}{}",
            if is_selected() { " selected" } else { "" },
            if status == "DNF" { " out" } else { "" }
        )
    };
    view! {
        <tr
            class=class
            data-testid="tower-row"
            on:click=move |_| {
                if let Some(idx) = row.with(|r| r.as_ref().map(|r| r.car_idx)) {
                    on_pick(idx);
                }
            }
        >
            <td class="pos">{field(|r| r.position.to_string())}</td>
            <td class="driver left">
                <span class="team-stripe" style=move || format!("background:{}", row.with(|r| r.as_ref().map(|r| r.team_colour.clone()).unwrap_or_default()))></span>
                <span class="code">{field(|r| r.code.clone())}</span>
            </td>
            <td class="num">{field(|r| r.gap.clone())}</td>
            <td class="num dim">{field(|r| r.interval.clone())}</td>
            <td class="num">{field(|r| r.last_lap.clone())}</td>
            {(0..3).map(|k| sector_cell(row, k)).collect_view()}
            <td class="tyre">
                <span class=move || format!("tyre-badge {}", row.with(|r| r.as_ref().map_or("", |r| r.compound_class)))>
                    {field(|r| r.compound.to_string())}
                </span>
                <span class="age">{field(|r| r.tyre_age.to_string())}</span>
            </td>
            <td class="num">{field(|r| r.stops.to_string())}</td>
            <td class="status">
                {field(|r| r.status.to_owned())}
                <span class="pen" data-testid="tower-penalty">{field(|r| r.penalty.clone())}</span>
            </td>
        </tr>
    }
}

/// Sector `k` of a tower row: the time, coloured and named when it is a personal or the overall best. It reads the
/// row's memo (no memo of its own: each would add code for its type to the app's bundle).
fn sector_cell(row: Memo<Option<TowerRow>>, k: usize) -> impl IntoView {
    let mark = move || row.with(|r| r.as_ref().map_or(SectorMark::Plain, |r| r.sectors[k].mark));
    view! {
        <td class=move || format!("num sector {}", mark().class()) title=move || mark().label() data-testid="sector">
            {move || row.with(|r| r.as_ref().map(|r| r.sectors[k].time.clone()))}
            <span class="visually-hidden">
                {move || match mark().label() {
                    "" => String::new(),
                    label => format!(", {label}"),
                }}
            </span>
        </td>
    }
}

/// The selected car: alerts, tyres per corner, pace, fuel, energy, damage, the pit window, the rejoin and the car
/// ahead, with the twins computed here in the browser.
#[component]
fn CarPanel(
    /// Where the data comes from.
    feed: LiveFeed,
    /// The car to show.
    car: Memo<Option<u8>>,
) -> impl IntoView {
    let panel = Memo::new(move |_| {
        let idx = car.get()?;
        feed.state.with(|s| {
            let s = s.as_ref()?;
            feed.report
                .with(|r| car_vm::car_panel(s, r.as_deref(), idx))
        })
    });
    // One memo per section: a section re-renders only when what it shows changed.
    let head = Memo::new(move |_| panel.with(|p| p.as_ref().map(|p| p.head.clone())));
    let alerts = Memo::new(move |_| {
        panel.with(|p| p.as_ref().map(|p| p.alerts.clone()).unwrap_or_default())
    });
    let tyres = Memo::new(move |_| panel.with(|p| p.as_ref().map(|p| p.tyres.clone())));
    let stints = Memo::new(move |_| {
        panel.with(|p| p.as_ref().map(|p| p.stints.clone()).unwrap_or_default())
    });
    let twin = Memo::new(move |_| panel.with(|p| p.as_ref().and_then(|p| p.twin.clone())));
    view! {
        <section class="car-panel" aria-label="Selected car" data-testid="car-panel">
            <Show
                when=move || head.with(Option::is_some)
                fallback=|| view! { <p class="waiting">"Waiting for the relay…"</p> }
            >
                {move || head.get().map(|h| view! {
                    <div class="car-head" style=format!("--team:{}", h.team_colour)>
                        <div class="car-pos">{h.position}</div>
                        <div class="car-name">
                            <div class="name">{h.name}</div>
                            <div class="team">{h.team}</div>
                        </div>
                        <div class="car-status">{h.status}</div>
                        <div class="car-lap">{h.lap}</div>
                    </div>
                })}
                <div class="twin-note">"Car Twin · computed in this browser from the live stream"</div>
                <div class="alerts" data-testid="alerts" aria-live="polite">
                    {move || alerts.get().into_iter().map(alert_card).collect_view()}
                </div>
                {move || tyres.get().map(|t| view! {
                    <div class="tyres">
                        <div class="tyre-summary">
                            <span class=format!("tyre-badge {}", t.compound_class)>{t.compound.to_string()}</span>
                            {format!(" {}", t.age)}
                            <span class="limit" data-testid="wear-limit">{t.wear_limit}</span>
                        </div>
                        <div class="cliff dim">{t.cliff}</div>
                        <div class="corners">{t.corners.into_iter().map(corner_tile).collect_view()}</div>
                    </div>
                })}
                {move || twin.get().map(|t| {
                    let chosen = car.get().is_some_and(|c| feed.rival_of(c).is_some());
                    twin_figures(t, chosen)
                })}
                <RivalPicker feed=feed car=car />
                <div class="stints">
                    <div class="label">"Stints"</div>
                    <div class="stint-bar">{move || stints.get().into_iter().map(stint_chip).collect_view()}</div>
                </div>
            </Show>
        </section>
    }
}

fn alert_card(a: AlertCard) -> impl IntoView {
    view! {
        <div class=a.class data-testid="alert">
            <div class="alert-head">
                <span class="alert-kind">{a.kind}</span>
                <span class="alert-lap">{a.lap}</span>
            </div>
            <div class="radio">{a.radio}</div>
            <ul class="evidence">
                {a.evidence
                    .into_iter()
                    .map(|e| view! { <li><span class="ev-label">{e.label}</span><span class="ev-value">{e.value}</span></li> })
                    .collect_view()}
            </ul>
        </div>
    }
}

fn corner_tile(c: CornerTile) -> impl IntoView {
    let class = format!(
        "corner {}{}",
        c.class,
        if c.limiting { " limiting" } else { "" }
    );
    view! {
        <div class=class data-testid="corner">
            <div class="corner-name">{c.name}</div>
            <div class="wear">{c.wear}</div>
            <div class="rate" title="wear per green lap ±1 standard error, computed in the browser">{c.rate}</div>
            <div class="temps">{c.temps}</div>
            <div class="pressure">{c.pressure}</div>
            <div class=if c.blistered { "blisters warn" } else { "blisters" } data-testid="blisters">{c.blisters}</div>
        </div>
    }
}

fn stint_chip(s: StintChip) -> impl IntoView {
    view! {
        <div class=format!("stint {}", s.class) style=format!("width:{:.2}%", s.width_pct)>{s.label}</div>
    }
}

/// The rival the Car panel compares the car with: the car ahead by default, or any other car.
#[component]
fn RivalPicker(
    /// Where the data comes from.
    feed: LiveFeed,
    /// The car shown.
    car: Memo<Option<u8>>,
) -> impl IntoView {
    // Every other car by driver code (a stable order: the running order changes with every pass).
    let others = Memo::new(move |_| {
        let me = car.get();
        feed.state.with(|s| {
            let mut cars: Vec<(u8, String)> = s
                .as_ref()
                .map(|s| {
                    s.cars
                        .iter()
                        .filter(|c| Some(c.car_idx) != me)
                        .map(|c| (c.car_idx, c.driver.code.clone()))
                        .collect()
                })
                .unwrap_or_default();
            sort_by(&mut cars, |a, b| a.1.cmp(&b.1));
            cars
        })
    });
    // Each option says whether it is the one chosen: the list is rebuilt as cars come and go, and a `value` set
    // on the select before its options exist would select nothing.
    let chosen = move || car.get().and_then(|c| feed.rival_of(c));
    view! {
        <label class="rival-pick">
            "Delta to "
            <select
                aria-label="Rival to compare the car with"
                data-testid="rival-pick"
                on:change=move |ev| {
                    if let Some(me) = car.get_untracked() {
                        feed.set_rival(me, event_target_value(&ev).parse().ok());
                    }
                }
            >
                <option value="" prop:selected=move || chosen().is_none()>"the car ahead"</option>
                {move || {
                    let picked = chosen();
                    others
                        .get()
                        .into_iter()
                        .map(|(idx, code)| {
                            view! {
                                <option value=idx.to_string() prop:selected=picked == Some(idx)>{code}</option>
                            }
                        })
                        .collect_view()
                }}
            </select>
        </label>
    }
}

fn twin_figures(t: TwinView, rival_chosen: bool) -> impl IntoView {
    let TwinView {
        pace,
        fuel,
        ers,
        damage,
        pit,
        rejoin,
        rival,
    } = t;
    let stint_degs = pace
        .stints
        .into_iter()
        .map(|d| view! { <div class="sub"><span class=format!("tyre-dot {}", d.class)>{d.compound.to_string()}</span>" "{d.text}</div> })
        .collect_view();
    let next = pit.next_compound.map(|(letter, class)| {
        view! { <span class=format!("tyre-badge {class}") title="next set">{letter.to_string()}</span> }
    });
    view! {
        <div class="figures">
            <div class="figure" data-testid="pace">
                <div class="label">"Pace (corrected)"</div>
                <div class="value">{pace.corrected}</div>
                <div class="sub">{format!("deg {}", pace.deg)}</div>
                <div class="sub dim">{pace.basis}</div>
                {stint_degs}
            </div>
            <div class=if fuel.short { "figure warn" } else { "figure" } data-testid="fuel">
                <div class="label">{if fuel.modelled { "Fuel (modelled)" } else { "Fuel" }}</div>
                <div class="value">{fuel.on_board}</div>
                <div class="sub">{fuel.burn}</div>
                <div class="sub">{fuel.burn_neutralised}</div>
                <div class="sub">{format!("{} · {}", fuel.laps_left, fuel.margin)}</div>
            </div>
            <div class="figure" data-testid="ers">
                <div class="label">"ERS"</div>
                <div class="value">{ers.store}</div>
                <Show when=move || ers.measured>
                    <div class="bar"><div class="fill" style=format!("width:{:.0}%", ers.store_pct)></div></div>
                </Show>
                <div class="sub">{ers.trend}</div>
            </div>
            <div class="figure" data-testid="damage">
                <div class="label">"Damage"</div>
                <div class="value">{damage.worst}</div>
                <div class="sub">{damage.parts}</div>
            </div>
        </div>
        <div class=format!("pit-window {}", pit.class) data-testid="pit-window">
            <div class="label">"Pit window"</div>
            <div class="pw-status">{pit.status}</div>
            <div class="pw-laps">{pit.laps}" "<span class="dim">{pit.best}</span>" "{next}</div>
            <div class="pw-reason">{pit.reason}</div>
        </div>
        <div class="figures two">
            <div class=if rejoin.traffic { "figure warn" } else { "figure" } data-testid="rejoin">
                <div class="label">"If it pits now"</div>
                <div class="value">{rejoin.position}</div>
                <div class="sub">{rejoin.ahead}</div>
                <div class="sub">{rejoin.behind}</div>
            </div>
            <div class="figure" data-testid="rival">
                <div class="label">
                    {format!("{} · {}", if rival_chosen { "Rival" } else { "Car ahead" }, rival.code)}
                </div>
                <div class="value">{rival.gap}</div>
                <div class=if rival.faster { "sub good" } else { "sub" }>{rival.pace}</div>
                <div class="sub">{rival.catch}</div>
            </div>
        </div>
    }
}

/// Every car's Field Twin: pace, degradation, next laps, the predicted stop with its spread, the rejoin if it
/// pitted now, and undercut/overcut chances on the car ahead. Click a row to pick the car.
#[component]
fn FieldPanel(
    /// Where the data comes from.
    feed: LiveFeed,
    /// The car whose row is highlighted.
    selected: Memo<Option<u8>>,
    /// Called with a car index when its row is clicked.
    on_pick: impl Fn(u8) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    // The Field Twin only changes with the report; team colours come from the state but never change mid-session.
    let rows = Memo::new(move |_| {
        feed.report.with(|r| {
            let r = r.as_ref()?;
            feed.state
                .with_untracked(|s| s.as_ref().map(|s| field_vm::field_rows(r, s)))
        })
    });
    view! {
        <section class="field-panel" aria-label="Field Twin" data-testid="field-panel">
            <Show
                when=move || rows.with(Option::is_some)
                fallback=|| view! { <p class="waiting">"Field Twin: first report due…"</p> }
            >
                <table>
                    <thead>
                        <tr>
                            <th>"P"</th>
                            <th class="left">"Driver"</th>
                            <th>"Tyre"</th>
                            <th title="fuel- and tyre-corrected pace on this set">"Pace"</th>
                            <th title="degradation, s/lap">"Deg"</th>
                            <th class="left">"Next laps"</th>
                            <th title="predicted next stop ±1σ">"Stop"</th>
                            <th title="rejoin position if it pitted now (orange: in traffic)">"Pit now →"</th>
                            <th title="chance that an undercut on the car ahead works">"UC"</th>
                            <th title="chance that an overcut on the car ahead works">"OC"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            rows.get()
                                .unwrap_or_default()
                                .into_iter()
                                .map(|r| field_row(r, selected, on_pick))
                                .collect_view()
                        }}
                    </tbody>
                </table>
            </Show>
        </section>
    }
}

fn field_row(
    r: FieldRow,
    selected: Memo<Option<u8>>,
    on_pick: impl Fn(u8) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let idx = r.car_idx;
    let class = move || {
        format!(
            "field-row{}{}",
            if selected.get() == Some(idx) {
                " selected"
            } else {
                ""
            },
            if r.out { " out" } else { "" }
        )
    };
    view! {
        <tr class=class data-testid="field-row" on:click=move |_| on_pick(idx)>
            <td class="pos">{r.position}</td>
            <td class="driver left">
                <span class="team-stripe" style=format!("background:{}", r.team_colour)></span>
                <span class="code">{r.code}</span>
            </td>
            <td class="tyre">
                <span class=format!("tyre-badge {}", r.compound_class)>{r.compound.to_string()}</span>
                <span class="age">{r.tyre_age}</span>
            </td>
            <td class="num">{r.pace}</td>
            <td class="num dim">{r.deg}</td>
            <td class="num left next-laps">{r.next_laps.join(" ")}</td>
            <td class="num stop" title=r.stop_detail data-testid="field-stop">
                {r.stop}
                <span class="basis">{r.stop_basis}</span>
            </td>
            <td class=if r.traffic { "num rejoin traffic" } else { "num rejoin" } title=r.rejoin_detail data-testid="field-rejoin">
                {r.rejoin}
            </td>
            <td class=format!("num {}", r.undercut_class)>{r.undercut}</td>
            <td class=format!("num {}", r.overcut_class)>{r.overcut}</td>
        </tr>
    }
}
