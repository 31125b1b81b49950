//! The pit wall's components: the session bar, the live timing tower and the car panel with its Car Twin.
//!
//! Components only lay out what [`crate::view_model`] computes; the twin itself is the engine's, run here in WASM
//! on every state from the feed.

use boxbox_engine::twin::{CarTwin, TwinParams, Twins};
use boxbox_engine::wire::{CORNER_NAMES, CarState, DataSource, Stint};
use leptos::prelude::*;

use crate::live::{self, Connection, LiveFeed};
use crate::view_model::{self as vm, TowerRow};

/// The whole app: connects to the relay that served the page and shows the pit wall.
#[component]
pub fn App() -> impl IntoView {
    let feed = LiveFeed::new();
    match live::default_ws_url() {
        Some(url) => live::connect(feed, url),
        None => leptos::logging::error!("no page location: cannot find the relay"),
    }
    view! { <PitWall feed=feed /> }
}

/// The pit wall for a feed: session bar, timing tower and the selected car's panel.
#[component]
pub fn PitWall(
    /// Where the data comes from.
    feed: LiveFeed,
) -> impl IntoView {
    let picked = RwSignal::new(None::<u8>);
    // Until the user picks a car, follow the leader.
    let selected = Memo::new(move |_| {
        picked.get().or_else(|| {
            feed.state
                .with(|s| s.as_ref().and_then(|s| s.cars.first()).map(|c| c.car_idx))
        })
    });
    view! {
        <div class="pitwall">
            <SessionBar feed=feed />
            <main class="panes">
                <TimingTower feed=feed selected=selected on_pick=move |idx| picked.set(Some(idx)) />
                <CarPanel feed=feed car=selected />
            </main>
        </div>
    }
}

/// Track, lap counter, flags, weather and the connection.
#[component]
fn SessionBar(
    /// Where the data comes from.
    feed: LiveFeed,
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
    let track = move || session.with(|s| s.as_ref().map(|(s, _)| s.track.to_uppercase()));
    let flag = move || session.with(|s| s.as_ref().map(|(s, _)| vm::track_status(s.track_status)));
    let weather = move || {
        session.with(|s| {
            s.as_ref().map(|(s, _)| {
                format!(
                    "{:?} · air {:.0}°C · track {:.0}°C",
                    s.weather, s.air_temp_c, s.track_temp_c
                )
            })
        })
    };
    let simulated = move || session.with(|s| matches!(s, Some((_, DataSource::Simulator))));
    let replay = move || session.with(|s| matches!(s, Some((_, DataSource::Replay))));
    let connection = move || match feed.connection.get() {
        Connection::Connecting => ("CONNECTING", "conn conn-wait"),
        Connection::Live => ("LIVE", "conn conn-live"),
        Connection::Reconnecting { .. } => ("RECONNECTING", "conn conn-lost"),
    };
    view! {
        <header class="session-bar">
            <div class="brand">"box" <b>"box"</b></div>
            <div class="track" data-testid="track">{track}</div>
            <div class="lap" data-testid="lap">{lap}</div>
            <div class=move || format!("flag {}", flag().map_or("", |f| f.1))>{move || flag().map(|f| f.0)}</div>
            <div class="weather">{weather}</div>
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
                        <th>"Tyre"</th>
                        <th>"Stops"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || 0..n_cars.get() key=|pos| *pos let:pos>
                        <TowerRowView feed=feed pos=pos selected=selected on_pick=on_pick />
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
    /// The selected car.
    selected: Memo<Option<u8>>,
    /// Called with the car index on click.
    on_pick: impl Fn(u8) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let row = Memo::new(move |_| {
        feed.state
            .with(|s| s.as_ref().and_then(|s| s.cars.get(pos)).map(TowerRow::new))
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
            <td class="tyre">
                <span class=move || format!("tyre-badge {}", row.with(|r| r.as_ref().map_or("", |r| r.compound_class)))>
                    {field(|r| r.compound.to_string())}
                </span>
                <span class="age">{field(|r| r.tyre_age.to_string())}</span>
            </td>
            <td class="num">{field(|r| r.stops.to_string())}</td>
            <td class="status">{field(|r| r.status.to_owned())}</td>
        </tr>
    }
}

/// Everything shown for the selected car.
#[derive(Clone, Debug, PartialEq)]
struct CarView {
    car: CarState,
    twin: CarTwin,
    total_laps: u32,
}

/// The selected car: tyres per corner, fuel, energy, damage, stints and the pit window, with the Car Twin computed
/// here in the browser.
#[component]
fn CarPanel(
    /// Where the data comes from.
    feed: LiveFeed,
    /// The car to show.
    car: Memo<Option<u8>>,
) -> impl IntoView {
    let view_data = Memo::new(move |_| {
        let idx = car.get()?;
        feed.state.with(|s| {
            let s = s.as_ref()?;
            let c = s.car(idx)?;
            let twin = feed.history.with_value(|h| {
                Twins::with_history(TwinParams::PIT_WALL, h.records().to_vec()).car(s, idx, None)
            })?;
            Some(CarView {
                car: c.clone(),
                twin,
                total_laps: s.session.total_laps,
            })
        })
    });
    view! {
        <section class="car-panel" aria-label="Selected car" data-testid="car-panel">
            {move || match view_data.get() {
                Some(v) => car_view(v).into_any(),
                None => view! { <p class="waiting">"Waiting for the relay…"</p> }.into_any(),
            }}
        </section>
    }
}

fn car_view(v: CarView) -> impl IntoView {
    let CarView {
        car,
        twin,
        total_laps,
    } = v;
    let corners = car.tyres.corners.as_array();
    let rates = twin.wear_rate_pct_per_lap.as_array();
    let tiles = (0..4)
        .map(|k| {
            let c = corners[k];
            view! {
                <div class=format!("corner {}", vm::wear_class(c.wear_pct)) data-testid="corner">
                    <div class="corner-name">{CORNER_NAMES[k]}</div>
                    <div class="wear">{format!("{:.1}%", c.wear_pct)}</div>
                    <div class="rate" title="wear per green lap, computed in the browser">
                        {format!("{} %/lap", vm::rate(rates[k], 2))}
                    </div>
                    <div class="temps">{format!("{:.0}° surf · {:.0}° inner", c.surface_temp_c, c.inner_temp_c)}</div>
                    <div class="pressure">{format!("{:.1} psi", c.pressure_psi)}</div>
                </div>
            }
        })
        .collect_view();
    let (pw_label, pw_class) = vm::pit_window_status(twin.pit_window.status);
    let window_laps = match (twin.pit_window.earliest_lap, twin.pit_window.latest_lap) {
        (Some(a), Some(b)) => format!("laps {a}–{b}"),
        (None, Some(b)) => format!("by lap {b}"),
        _ => String::new(),
    };
    let stints = car
        .stints
        .iter()
        .cloned()
        .map(|s| stint_view(s, total_laps))
        .collect_view();
    view! {
        <div class="car-head" style=format!("--team:{}", car.team.colour)>
            <div class="car-pos">{format!("P{}", car.position)}</div>
            <div class="car-name">
                <div class="name">{car.driver.name.clone()}</div>
                <div class="team">{format!("#{} · {}", car.driver.number, car.team.name)}</div>
            </div>
            <div class="car-lap">{format!("Lap {}", car.lap)}</div>
        </div>
        <div class="twin-note">"Car Twin · computed in this browser from the live stream"</div>
        <div class="tyres">
            <div class="tyre-summary">
                <span class=format!("tyre-badge {}", vm::compound_class(car.tyres.compound))>{car.tyres.compound.letter().to_string()}</span>
                {format!(" {} laps old", car.tyres.age_laps)}
                <span class="limit">
                    {match (&twin.limiting_corner, twin.laps_to_wear_limit) {
                        (Some(c), Some(l)) => format!("{c} reaches 70 % in {l:.1} laps"),
                        _ => "wear rate: waiting for two clean laps".to_owned(),
                    }}
                </span>
            </div>
            <div class="corners">{tiles}</div>
        </div>
        <div class="figures">
            <div class="figure" data-testid="fuel">
                <div class="label">"Fuel"</div>
                <div class="value">{format!("{:.1} kg", car.fuel_kg)}</div>
                <div class="sub">{format!("{} kg/lap", vm::rate(twin.fuel_burn_kg_per_lap, 2))}</div>
                <div class="sub">{format!("{} · {} at flag", vm::number(twin.fuel_laps_left, 1, " laps"), vm::fuel_margin(twin.fuel_margin_kg))}</div>
            </div>
            <div class="figure">
                <div class="label">"ERS"</div>
                <div class="value">{format!("{:.0}%", car.ers_store_pct)}</div>
                <div class="bar"><div class="fill" style=format!("width:{:.0}%", car.ers_store_pct)></div></div>
            </div>
            <div class="figure">
                <div class="label">"Damage"</div>
                <div class="value">{format!("{:.0}%", car.damage.worst_pct())}</div>
                <div class="sub">{format!("wings {:.0}/{:.0} · gearbox {:.0} · engine {:.0}", car.damage.front_left_wing_pct, car.damage.front_right_wing_pct, car.damage.gearbox_pct, car.damage.engine_pct)}</div>
            </div>
            <div class="figure">
                <div class="label">"Laps"</div>
                <div class="value">{vm::lap_time(car.last_lap_s)}</div>
                <div class="sub">{format!("best {}", vm::lap_time(car.best_lap_s))}</div>
            </div>
        </div>
        <div class=format!("pit-window {pw_class}") data-testid="pit-window">
            <div class="label">"Pit window"</div>
            <div class="pw-status">{pw_label}</div>
            <div class="pw-laps">{window_laps}</div>
            <div class="pw-reason">{twin.pit_window.reason.clone()}</div>
        </div>
        <div class="stints">
            <div class="label">"Stints"</div>
            <div class="stint-bar">{stints}</div>
        </div>
    }
}

fn stint_view(s: Stint, total_laps: u32) -> impl IntoView {
    let width = 100.0 * f64::from(s.laps.max(1)) / f64::from(total_laps.max(1));
    view! {
        <div class=format!("stint {}", vm::compound_class(s.compound)) style=format!("width:{width:.2}%")>
            {format!("{} {}", s.compound.letter(), s.laps)}
        </div>
    }
}
