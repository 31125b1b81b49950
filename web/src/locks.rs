//! Strategy locks on the desk: the selected car's locked plan with its comment, who locked it and when, a Lock
//! button on each ranked plan and an Unlock button, for the pages the relay lets lock (a strategist's or the
//! engineer's token; [`vm::may_lock`]). An analyst's page sees the lock and nothing to press.
//!
//! The locks come from `GET /api/v1/strategy/lock`, asked when the desk opens and every
//! [`POLL_MS`](vm::POLL_MS) while it stays open; never while the page is hidden (the desk is only built while
//! its tab is open), nor during a replay (locks belong to the live session). Locking asks for an optional comment in
//! an inline field, then `PUT`s it; a refusal shows the relay's own message. The logic is in
//! [`crate::view_model::locks`].

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::share::{PageAccess, call};
use crate::view_model::locks::{self as vm, StrategyLock};
use crate::view_model::share::Access;

/// Where the desk's locks come from: the page's access to the live relay, and whether a replay has the page.
#[derive(Clone, Copy, Debug)]
pub struct LockSource {
    /// The page's token and what the relay lets it do.
    pub access: PageAccess,
    /// A replay drives the page: no live locks then.
    pub replaying: Memo<bool>,
}

/// The desk's lock state, as signals. `Copy`.
#[derive(Clone, Copy, Debug)]
pub struct DeskLocks {
    source: LockSource,
    car: Memo<Option<u8>>,
    /// The live session's locks, once read.
    locks: RwSignal<Option<Vec<StrategyLock>>>,
    /// The car and plan whose Lock button was pressed: the comment field is open for it while that car is picked.
    pending: RwSignal<Option<(u8, String)>>,
    comment: RwSignal<String>,
    busy: RwSignal<bool>,
    /// The last refusal or failure, for the screen.
    error: RwSignal<Option<String>>,
}

impl DeskLocks {
    /// The locks for `car`'s desk, read now and every [`vm::POLL_MS`] until the desk is dropped.
    pub fn new(source: LockSource, car: Memo<Option<u8>>) -> Self {
        let locks = DeskLocks {
            source,
            car,
            locks: RwSignal::new(None),
            pending: RwSignal::new(None),
            comment: RwSignal::new(String::new()),
            busy: RwSignal::new(false),
            error: RwSignal::new(None),
        };
        // The loop ends when the desk (the owner of `alive`) is dropped.
        let alive = StoredValue::new(());
        spawn_local(async move {
            while alive.try_get_value().is_some() {
                if page_visible() {
                    locks.fetch().await;
                }
                gloo_timers::future::TimeoutFuture::new(vm::POLL_MS).await;
            }
        });
        locks
    }

    /// Whether the page may lock and unlock (live, with a strategist's or the engineer's token).
    fn may_lock(self) -> bool {
        !self.source.replaying.get() && self.source.access.status.with(vm::may_lock)
    }

    /// Reads the locks, once whoami has let the page read and while no replay has it.
    async fn fetch(self) {
        let readable = self
            .source
            .access
            .status
            .try_with_untracked(|a| matches!(a, Access::Open | Access::Granted { .. }));
        if readable != Some(true) || self.source.replaying.try_get_untracked() != Some(false) {
            return;
        }
        let token = self.source.access.token();
        let answer = call("GET", "/api/v1/strategy/lock", token.as_deref(), None).await;
        match answer.and_then(|(status, body)| vm::read_locks(status, &body)) {
            Ok(locks) => {
                let _ = self.locks.try_set(Some(locks));
            }
            // The bar keeps the last locks it read; a relay that went away is the session bar's to say.
            Err(e) => leptos::logging::warn!("strategy locks: {e}"),
        }
    }

    /// Locks the pending plan with the comment typed.
    fn lock(self) {
        let Some((car, plan)) = self.pending.get_untracked() else {
            return;
        };
        let body = match vm::lock_body(car, &plan, &self.comment.get_untracked()) {
            Ok(body) => body,
            Err(e) => {
                self.error.set(Some(e));
                return;
            }
        };
        self.send("PUT", "/api/v1/strategy/lock".to_owned(), Some(body));
    }

    /// Removes the selected car's lock.
    fn unlock(self) {
        let Some(car) = self.car.get_untracked() else {
            return;
        };
        self.send("DELETE", vm::unlock_path(car), None);
    }

    fn send(self, method: &'static str, path: String, body: Option<String>) {
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        self.error.set(None);
        let token = self.source.access.token();
        spawn_local(async move {
            let answer = call(method, &path, token.as_deref(), body.as_deref()).await;
            match answer.and_then(|(status, body)| vm::read_answer(status, &body)) {
                Ok(_) => {
                    let _ = self.pending.try_set(None);
                    let _ = self.comment.try_set(String::new());
                    self.fetch().await;
                }
                Err(e) => {
                    let _ = self.error.try_set(Some(e));
                }
            }
            let _ = self.busy.try_set(false);
        });
    }
}

/// Whether the page is shown (a hidden tab asks nothing).
fn page_visible() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_none_or(|d| !d.hidden())
}

/// The Lock button of one ranked plan: opens the comment field for it. Nothing where the page may not lock.
pub fn lock_button(locks: Option<DeskLocks>, plan: String) -> Option<impl IntoView> {
    let locks = locks?;
    let label = format!("Lock plan {plan}");
    Some(view! {
        <Show when=move || locks.may_lock()>
            <button
                type="button"
                class="lock-plan"
                data-testid="lock-plan"
                aria-label=label.clone()
                on:click={
                    let plan = plan.clone();
                    move |_| {
                        let Some(car) = locks.car.get_untracked() else {
                            return;
                        };
                        locks.error.set(None);
                        locks.comment.set(String::new());
                        locks.pending.set(Some((car, plan.clone())));
                    }
                }
            >
                "Lock"
            </button>
        </Show>
    })
}

/// The selected car's lock (plan, comment, who and when) with Unlock, and the comment field while locking.
#[component]
pub fn LockBar(
    /// The desk's locks.
    locks: DeskLocks,
) -> impl IntoView {
    let current = Memo::new(move |_| {
        let car = locks.car.get()?;
        locks
            .locks
            .with(|l| l.as_deref().and_then(|l| vm::car_lock(l, car)))
    });
    // The comment field, while a plan of the picked car is being locked.
    let form_plan = Memo::new(move |_| {
        let car = locks.car.get()?;
        let (c, plan) = locks.pending.get()?;
        (c == car && locks.may_lock()).then_some(plan)
    });
    view! {
        {move || current.get().map(|l| view! {
            <div class="strategy-lock" data-testid="strategy-lock" role="status">
                <span class="lock-tag">"LOCKED"</span>
                <span class="lock-plan-label" data-testid="lock-plan-label">{l.plan}</span>
                <span class="lock-comment" data-testid="lock-comment">{l.comment}</span>
                <span class="lock-by dim">{l.by}</span>
                <Show when=move || locks.may_lock()>
                    <button
                        type="button"
                        class="unlock"
                        data-testid="unlock"
                        aria-label="Unlock this car's strategy"
                        disabled=move || locks.busy.get()
                        on:click=move |_| locks.unlock()
                    >
                        "Unlock"
                    </button>
                </Show>
            </div>
        })}
        {move || form_plan.get().map(|plan| view! {
            <form class="lock-form" data-testid="lock-form" on:submit=move |ev| {
                ev.prevent_default();
                locks.lock();
            }>
                <span>"Lock " <b>{plan}</b></span>
                <input
                    type="text"
                    maxlength=vm::MAX_COMMENT_CHARS
                    placeholder="comment (optional)"
                    data-testid="lock-comment-input"
                    aria-label="Comment for the wall"
                    prop:value=move || locks.comment.get()
                    on:input=move |ev| locks.comment.set(event_target_value(&ev))
                />
                <span class="dim">{move || vm::comment_left(&locks.comment.get())}</span>
                <button type="submit" data-testid="lock-confirm" disabled=move || locks.busy.get()>
                    "Lock"
                </button>
                <button type="button" on:click=move |_| locks.pending.set(None)>"Cancel"</button>
            </form>
        })}
        {move || locks.error.get().map(|e| view! {
            <div class="lock-error error" role="alert" data-testid="lock-error">{e}</div>
        })}
    }
}
