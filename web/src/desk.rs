//! The strategy desk: for the selected car, the strategy search's ranked plans with their finishing-position
//! histograms, the pit window and compound, undercut and cover chances, the baseline Monte Carlo of the current
//! plans, and what-ifs against it, all computed by the strategy workers ([`crate::pool`]); never on this thread.
//!
//! It re-runs when the twins' strategy generation changes or another car is picked, at most every
//! [`MIN_RERUN_MS`](crate::view_model::strategy::MIN_RERUN_MS) ([`RerunGate`]); a run supersedes the previous
//! one in the pool. The logic and the formatting are in [`crate::view_model::strategy`]; this is the wiring.
//!
//! Inputs come from the engine's live calibration, run in a worker too ([`vm::inputs_job`]), on the live state and the twins' lap history, or from inputs pinned from
//! JavaScript ([`pin_strategy_inputs`], `window.wasmBindings.pin_strategy_inputs(json)`, read in a worker too:
//! [`vm::pinned_job`]), which the end-to-end test uses to run the desk on a fixed race. Either way the page keeps
//! them as [`PageInputs`]: it never decodes the race model.

use std::cell::RefCell;
use std::sync::Arc;

use boxbox_engine::strategy::monte_carlo::McReport;
use boxbox_engine::strategy::search::{SearchReport, UndercutReport, WhatIfReport};
use boxbox_engine::wire::Compound;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::{JsValue, wasm_bindgen};

use crate::charts::LatestBaseline;
use crate::live::LiveFeed;
use crate::locks::{DeskLocks, LockBar, LockSource, lock_button};
use crate::pool::{self, Done, PoolError};
use crate::schedule::Refresh;
use crate::split_search;
use crate::view_model::strategy::{
    self as vm, DeskStatus, HistBar, PageInputs, PlanRow, RerunGate, RunKey, WhatIfControls,
};
use crate::worker_protocol::{Answer, Opaque};

thread_local! {
    /// Inputs pinned from JavaScript (JSON a worker reads), with a serial that changes on every pin.
    static PINNED: RefCell<(u64, Option<Opaque>)> = const { RefCell::new((0, None)) };
}

/// Pins the desk's inputs (a [`crate::view_model::strategy::DeskInputs`] as JSON) instead of the live session's,
/// until the page reloads: a fixed race for tests and demonstrations. The desk picks them up within a second; a
/// worker reads them, and the desk's status line says so when they are not inputs.
///
/// # Errors
/// The JSON error, as a JS string, when `json` is not JSON at all.
#[wasm_bindgen]
pub fn pin_strategy_inputs(json: &str) -> Result<(), JsValue> {
    let inputs = Opaque::from_json(json).map_err(|e| JsValue::from_str(&e))?;
    PINNED.with(|p| {
        let mut p = p.borrow_mut();
        p.0 += 1;
        p.1 = Some(inputs);
    });
    Ok(())
}

fn pinned() -> Option<Opaque> {
    PINNED.with(|p| p.borrow().1.clone())
}

fn pin_serial() -> u64 {
    PINNED.with(|p| p.borrow().0)
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A what-if's report and its time in the worker (ms), or why there is none.
type WhatIfOutcome = Result<(Arc<WhatIfReport>, f64), String>;

/// The desk's state, as signals. `Copy`.
#[derive(Clone, Copy, Debug)]
struct Desk {
    feed: LiveFeed,
    car: Memo<Option<u8>>,
    status: RwSignal<DeskStatus>,
    /// Inputs and driver index of the latest run.
    run: RwSignal<Option<(Arc<PageInputs>, usize)>>,
    search: RwSignal<Option<Arc<SearchReport>>>,
    baseline: RwSignal<Option<(Arc<McReport>, String)>>,
    undercut: RwSignal<Option<Result<UndercutReport, String>>>,
    what_if: RwSignal<Option<WhatIfOutcome>>,
    what_if_busy: RwSignal<bool>,
    gate: StoredValue<RerunGate>,
    generation: StoredValue<u64>,
    /// Where the Charts view finds the latest baseline (none outside the pit wall).
    shared_baseline: Option<LatestBaseline>,
}

impl Desk {
    fn key(&self) -> RunKey {
        let generation = self
            .feed
            .report
            .with_untracked(|r| r.as_ref().map_or(0, |r| r.strategy.generation));
        // After the twins restart (a replay's seek), the same generation is another moment of the race.
        let generation = (self.feed.epoch() << 32) | (generation & 0xffff_ffff);
        let pin = pin_serial();
        // Pinned inputs do not change with the live race: its generation does not matter then.
        (
            if pin > 0 { 0 } else { generation },
            // The desk's own signals may be gone (its tab closed while a run was under way): no car then.
            self.car.try_get_untracked().flatten().unwrap_or(u8::MAX),
            pin,
        )
    }

    fn poll(self) {
        let now = now_ms();
        let key = self.key();
        let refresh = self.gate.try_update_value(|g| g.poll(key, now));
        self.follow(refresh.unwrap_or(Refresh::Wait));
    }

    fn follow(self, refresh: Refresh) {
        match refresh {
            Refresh::Now => self.refresh(),
            Refresh::After { delay_ms } => {
                // A task, not a forgotten `Timeout`: that would leak its closure on every rerun.
                spawn_local(async move {
                    gloo_timers::future::TimeoutFuture::new(delay_ms.ceil() as u32).await;
                    let key = self.key();
                    let now = now_ms();
                    if let Some(r) = self.gate.try_update_value(|g| g.on_timer(key, now)) {
                        self.follow(r);
                    }
                });
            }
            Refresh::Wait => {}
        }
    }

    /// Sends a run to the workers: the live inputs first (unless pinned), then the jobs on them.
    fn refresh(self) {
        let now = now_ms();
        let key = self.key();
        let pool = match pool::shared() {
            Ok(pool) => pool,
            Err(e) => {
                self.gate.update_value(|g| g.missed(now));
                self.status.set(DeskStatus::Error(e.to_string()));
                return;
            }
        };
        // The job that reads pinned inputs, or the one that calibrates the live session, in a worker.
        let job = match pinned() {
            Some(pinned) => vm::pinned_job(pinned),
            None => {
                let job = self.feed.state.with_untracked(|s| {
                    let s = s.as_ref()?;
                    self.feed.with_records(|r| vm::inputs_job(s, r))
                });
                let Some(job) = job else {
                    self.gate.update_value(|g| g.missed(now));
                    self.status
                        .set(DeskStatus::Waiting("no race state yet".into()));
                    return;
                };
                job
            }
        };
        self.gate.update_value(|g| g.started(key, now));
        // Past the pool's newest generation too: a desk built again (the tab reopened) starts at 0, and the shared
        // pool would take its runs for obsolete.
        let pool_generation = pool.generation();
        self.generation
            .update_value(|g| *g = (*g).max(pool_generation) + 1);
        let generation = self.generation.get_value();
        pool.supersede(generation);
        let workers = pool.size();
        let session = self.feed.session();
        self.status.set(DeskStatus::Running { workers });
        // A what-if of the last run is obsolete now: its answer is dropped, so its button must not wait for it.
        self.what_if_busy.set(false);
        // Not current once another run started, or once the desk is gone (its tab closed: its signals are disposed,
        // and this task still runs to its end).
        let current = move || self.generation.try_get_value() == Some(generation);
        spawn_local(async move {
            let t0 = now_ms();
            let inputs = match pool.run(generation, &job).await {
                Ok(Done {
                    answer: Answer::Inputs(inputs),
                    ..
                }) => Ok(*inputs),
                Ok(_) => Err("the worker answered something else".to_owned()),
                Err(e) => Err(e.to_string()),
            };
            let car = self.car.try_get_untracked().flatten();
            let ready = inputs.and_then(|i| {
                let driver = car
                    .and_then(|c| i.driver_of(c))
                    .ok_or_else(|| "the selected car is not in the race model".to_owned())?;
                Ok((Arc::new(i), driver))
            });
            let (inputs, driver) = match ready {
                Ok(ready) => ready,
                Err(why) => {
                    self.gate.update_value(|g| {
                        g.finished();
                        g.missed(now_ms());
                    });
                    if current() {
                        self.status.set(DeskStatus::Waiting(why));
                    }
                    self.poll();
                    return;
                }
            };
            if current() {
                self.run.set(Some((inputs.clone(), driver)));
                self.what_if.set(None);
            }
            let baseline = async {
                let done = pool
                    .monte_carlo(generation, &vm::baseline_jobs(&inputs, workers))
                    .await?;
                // A worker merges the blocks' tallies (the page never decodes them).
                let merged = pool
                    .run(generation, &vm::baseline_report_job(&inputs, done.tallies))
                    .await?;
                match (current(), merged.answer) {
                    (true, Answer::Baseline { report, digest }) => {
                        let report = Arc::new(report);
                        if let Some(shared) = self.shared_baseline {
                            let _ = shared.0.try_set(Some((
                                report.clone(),
                                inputs.completed_laps,
                                session,
                            )));
                        }
                        self.baseline.set(Some((report, digest)));
                    }
                    (true, _) => {
                        return Err(PoolError::Job(
                            "the baseline's merge answered something else".into(),
                        ));
                    }
                    (false, _) => {}
                }
                Ok::<(), PoolError>(())
            };
            let search = async {
                let run = pool.runner(generation);
                let report =
                    split_search::search(&run, &inputs, &vm::search_config(driver), workers)
                        .await?;
                if current() {
                    self.search.set(Some(Arc::new(report)));
                }
                Ok::<(), PoolError>(())
            };
            let undercut = async {
                let result = pool
                    .run(generation, &vm::undercut_job(&inputs, driver))
                    .await;
                if current() {
                    self.undercut.set(match result {
                        Ok(Done {
                            answer: Answer::Undercut(u),
                            ..
                        }) => Some(Ok(u)),
                        Ok(_) => None,
                        Err(PoolError::Obsolete) => return,
                        Err(e) => Some(Err(e.to_string())),
                    });
                }
            };
            let (baseline, search, ()) = futures::join!(baseline, search, undercut);
            self.gate.update_value(|g| g.finished());
            if current() {
                match baseline.and(search) {
                    Ok(()) => self.status.set(DeskStatus::Done {
                        elapsed_ms: now_ms() - t0,
                        workers,
                    }),
                    Err(PoolError::Obsolete) => {}
                    Err(e) => self.status.set(DeskStatus::Error(e.to_string())),
                }
            }
            // The key may have changed while this ran.
            self.poll();
        });
    }

    /// Runs the what-if the controls describe against the base case.
    fn run_what_if(self, controls: WhatIfControls) {
        let Some((inputs, driver)) = self.run.get_untracked() else {
            return;
        };
        let pool = match pool::shared() {
            Ok(pool) => pool,
            Err(e) => {
                self.what_if.set(Some(Err(e.to_string())));
                return;
            }
        };
        let generation = self.generation.get_value();
        self.what_if_busy.set(true);
        spawn_local(async move {
            let result = pool
                .run(generation, &vm::what_if_job(&inputs, driver, &controls))
                .await;
            if self.generation.try_get_value() != Some(generation) {
                return;
            }
            self.what_if_busy.set(false);
            self.what_if.set(Some(match result {
                Ok(Done {
                    answer: Answer::WhatIf(r),
                    elapsed_ms,
                    ..
                }) => Ok((Arc::new(r), elapsed_ms)),
                Ok(_) => Err("the worker answered something else".into()),
                Err(e) => Err(e.to_string()),
            }));
        });
    }
}

/// The strategy desk for the selected car.
#[component]
pub fn StrategyDesk(
    /// Where the data comes from.
    feed: LiveFeed,
    /// The selected car.
    car: Memo<Option<u8>>,
    /// The live relay's strategy locks (none: no locks, as through NATS).
    locks: Option<LockSource>,
) -> impl IntoView {
    let locks = locks.map(|source| DeskLocks::new(source, car));
    let desk = Desk {
        feed,
        car,
        status: RwSignal::new(DeskStatus::Waiting("first run due".into())),
        run: RwSignal::new(None),
        search: RwSignal::new(None),
        baseline: RwSignal::new(None),
        undercut: RwSignal::new(None),
        what_if: RwSignal::new(None),
        what_if_busy: RwSignal::new(false),
        gate: StoredValue::new(RerunGate::new()),
        generation: StoredValue::new(0),
        shared_baseline: use_context::<LatestBaseline>(),
    };
    // Reaching outside the graph (the workers): poll the gate whenever the report or the car changes. The report
    // changes about once a second while the race runs, which is also when pinned inputs are noticed.
    Effect::new(move |_| {
        feed.report.track();
        car.track();
        desk.poll();
    });
    // The tab closed: the jobs this desk still has queued are obsolete (the shared pool would run them for nobody,
    // ahead of the Charts view's).
    on_cleanup(|| {
        if let Ok(pool) = pool::shared() {
            pool.supersede(pool.generation().saturating_add(1));
        }
    });

    let status = move || vm::status_line(&desk.status.get());
    let digest = move || desk.baseline.with(|b| b.as_ref().map(|(_, d)| d.clone()));
    let driver = move || desk.run.with(|r| r.as_ref().map(|(_, d)| *d));
    let code = move || {
        desk.run
            .with(|r| r.as_ref().and_then(|(i, d)| i.codes.get(*d).cloned()))
    };
    let baseline = Memo::new(move |_| {
        let d = driver()?;
        desk.baseline
            .with(|b| b.as_ref().and_then(|(r, _)| vm::baseline_view(r, d)))
    });
    let rows = Memo::new(move |_| {
        desk.search
            .with(|s| s.as_deref().map(vm::plan_rows).unwrap_or_default())
    });
    let window = Memo::new(move |_| desk.search.with(|s| s.as_deref().and_then(vm::window_view)));
    let duels = Memo::new(move |_| {
        desk.undercut.with(|u| match u {
            Some(Ok(u)) => Ok(vm::duels(u)),
            Some(Err(e)) => Err(e.clone()),
            None => Ok(Vec::new()),
        })
    });
    let what_if_view = Memo::new(move |_| {
        let d = driver()?;
        desk.what_if.with(|w| {
            Some(match w.as_ref()? {
                Ok((r, ms)) => vm::what_if_view(r, d)
                    .map(|v| (v, *ms))
                    .ok_or_else(|| "no such car in the answer".to_owned()),
                Err(e) => Err(e.clone()),
            })
        })
    });

    view! {
        <section
            class="strategy-desk"
            aria-label="Strategy desk"
            data-testid="strategy-desk"
            data-digest=digest
        >
            <div class="desk-head">
                <div class="desk-title">"Strategy · " {code}</div>
                <div class=move || status().1 data-testid="desk-status" aria-live="polite">{move || status().0}</div>
            </div>
            <div class="twin-note">"Monte Carlo in Web Workers · the page's thread never runs it"</div>
            {move || baseline.get().map(|b| view! {
                <div class="figure desk-baseline" data-testid="desk-baseline">
                    <div class="label">"Current plan (baseline)"</div>
                    <div class="value">{b.expected}</div>
                    <div class="sub">{format!("5–95 % {} · points {}", b.risk, b.points)}</div>
                    {histogram(b.histogram)}
                </div>
            })}
            {move || window.get().map(|w| view! {
                <div class="pit-window desk-window" data-testid="desk-window">
                    <div class="label">"Pit window"</div>
                    <div class="pw-laps">
                        {w.laps}" "<span class="dim">{w.best}</span>" "
                        <span class=format!("tyre-badge {}", w.compound_class) title="compound to fit">{w.compound.to_string()}</span>
                    </div>
                    <div class="pw-reason">{format!("best plan {}", w.plan)}</div>
                </div>
            })}
            <div class="desk-duels" data-testid="desk-duels">
                {move || match duels.get() {
                    Ok(d) => d.into_iter().map(|d| view! {
                        <div class=format!("duel {}", d.class)>
                            <span class="duel-label">{d.label}</span>
                            <span class="duel-pit">{d.if_pit}</span>
                            <span class="duel-stay dim">{d.if_stay}</span>
                        </div>
                    }).collect_view().into_any(),
                    Err(e) => view! { <div class="duel dim">{format!("undercut: {e}")}</div> }.into_any(),
                }}
            </div>
            {locks.map(|locks| view! { <LockBar locks=locks /> })}
            <table class="desk-plans" data-testid="desk-plans">
                <thead>
                    <tr>
                        <th class="left">"Plan"</th>
                        <th title="expected finishing position">"Exp"</th>
                        <th>"Win"</th>
                        <th>"Podium"</th>
                        <th>"Points"</th>
                        <th title="5–95 % band of the finishing position">"Risk"</th>
                        <th title="to the best plan">"Δ"</th>
                        <th class="left">"Positions"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>{move || rows.get().into_iter().map(|r| plan_row(r, locks)).collect_view()}</tbody>
            </table>
            <WhatIfControlsView desk=desk />
            {move || what_if_view.get().map(|w| match w {
                Ok((v, ms)) => view! {
                    <div class=if v.better { "what-if-result good" } else { "what-if-result" } data-testid="whatif-result">
                        <div class="value">{v.expected}" "<span class="delta">{v.delta}</span></div>
                        <div class="sub">{format!("{} · {ms:.0} ms in a worker", v.points)}</div>
                        <div class="hist pair" role="img" aria-label="finishing positions: baseline grey, what-if coloured">
                            {v.bars.into_iter().map(|(p, a, b)| view! {
                                <span class="pair-bar" title=format!("P{p}")>
                                    <span class="bar base" style=format!("height:{a:.0}%")></span>
                                    <span class="bar alt" style=format!("height:{b:.0}%")></span>
                                </span>
                            }).collect_view()}
                        </div>
                    </div>
                }.into_any(),
                Err(e) => view! { <div class="what-if-result error" data-testid="whatif-result">{format!("what-if: {e}")}</div> }.into_any(),
            })}
        </section>
    }
}

/// The what-if controls: pit lap, compound, a SC, and the button.
#[component]
fn WhatIfControlsView(
    /// The desk the controls belong to.
    desk: Desk,
) -> impl IntoView {
    let range = Memo::new(move |_| {
        let (inputs, driver) = desk.run.get()?;
        desk.search.with(|s| {
            vm::control_range(&inputs, driver, s.as_ref().and_then(|s| s.window.as_ref()))
        })
    });
    // The user's settings; `None` follows the range's initial setting.
    let lap = RwSignal::new(None::<u32>);
    let compound = RwSignal::new(None::<Compound>);
    let sc_text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let current = move || {
        let r = range.get()?;
        Some(WhatIfControls {
            pit_lap: lap
                .get()
                .unwrap_or(r.initial.pit_lap)
                .clamp(r.first_lap, r.last_lap),
            compound: compound.get().unwrap_or(r.initial.compound),
            sc_lap: None,
        })
    };
    let submit = move |_| {
        let (Some(r), Some(mut controls)) = (range.get_untracked(), current()) else {
            return;
        };
        match vm::parse_sc_lap(&sc_text.get_untracked(), r.first_lap, r.last_lap) {
            Ok(sc) => {
                error.set(None);
                controls.sc_lap = sc;
                desk.run_what_if(controls);
            }
            Err(e) => error.set(Some(format!("SC lap: {e}"))),
        }
    };
    view! {
        <Show when=move || range.with(Option::is_some)>
            <form class="what-if" data-testid="what-if" on:submit=move |ev| ev.prevent_default()>
                <label>
                    "Pit lap "
                    <input
                        type="range"
                        data-testid="whatif-lap"
                        aria-label="What-if pit lap"
                        min=move || range.with(|r| r.as_ref().map_or(0, |r| r.first_lap))
                        max=move || range.with(|r| r.as_ref().map_or(0, |r| r.last_lap))
                        prop:value=move || current().map_or(0, |c| c.pit_lap)
                        on:input=move |ev| lap.set(event_target_value(&ev).parse().ok())
                    />
                    <output>{move || current().map(|c| format!("L{}", c.pit_lap))}</output>
                </label>
                <label>
                    "Compound "
                    <select
                        data-testid="whatif-compound"
                        aria-label="What-if compound"
                        on:change=move |ev| compound.set(compound_from(&event_target_value(&ev)))
                    >
                        {move || range.get().map(|r| r.compounds.into_iter().map(|c| {
                            let selected = move || current().is_some_and(|x| x.compound == c);
                            view! { <option value=format!("{c:?}") selected=selected>{format!("{c:?}")}</option> }
                        }).collect_view())}
                    </select>
                </label>
                <label>
                    "SC at lap "
                    <input
                        type="text"
                        inputmode="numeric"
                        size="4"
                        placeholder="none"
                        data-testid="whatif-sc"
                        aria-label="Safety car at lap"
                        prop:value=move || sc_text.get()
                        on:input=move |ev| sc_text.set(event_target_value(&ev))
                    />
                </label>
                <button
                    type="button"
                    data-testid="whatif-run"
                    aria-label="Compare the what-if with the baseline"
                    disabled=move || desk.what_if_busy.get()
                    on:click=submit
                >
                    {move || if desk.what_if_busy.get() { "Running…" } else { "Compare" }}
                </button>
                <span class="error" role="alert">{move || error.get()}</span>
            </form>
        </Show>
    }
}

fn compound_from(text: &str) -> Option<Compound> {
    [
        Compound::Soft,
        Compound::Medium,
        Compound::Hard,
        Compound::Intermediate,
        Compound::Wet,
    ]
    .into_iter()
    .find(|c| format!("{c:?}") == text)
}

fn plan_row(r: PlanRow, locks: Option<DeskLocks>) -> impl IntoView {
    let lock = lock_button(locks, r.label.clone());
    view! {
        <tr class=if r.current { "plan-row current" } else { "plan-row" } data-testid="plan-row">
            <td class="left plan-label">{r.label}{r.current.then_some(" (current)")}</td>
            <td class="num">{r.expected}</td>
            <td class="num">{r.win}</td>
            <td class="num">{r.podium}</td>
            <td class="num">{r.points}</td>
            <td class="num">{r.risk}</td>
            <td class="num dim">{r.delta}</td>
            <td class="left">{histogram(r.histogram)}</td>
            <td>{lock}</td>
        </tr>
    }
}

fn histogram(bars: Vec<HistBar>) -> impl IntoView {
    view! {
        <div class="hist" role="img" aria-label="finishing-position distribution">
            {bars
                .into_iter()
                .map(|b| view! { <span class="bar" style=format!("height:{:.0}%", b.height_pct) title=b.title></span> })
                .collect_view()}
        </div>
    }
}
