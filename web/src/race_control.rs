//! The race control feed on the page: a compact list, newest first, of SC/VSC, pit stops, retirements,
//! disqualifications and fastest laps ([`crate::view_model::race_control`]), above the side pane's tabs.
//!
//! The list is rebuilt from the twins' report (after a lap or an event, else at most once a second), never per
//! state. Hidden, it is not built at all, so it does no work; shown again, it is complete, since it is computed
//! from what the twins keep. A polite live region announces SC/VSC and cars out of the race, not every stop or lap.

use leptos::prelude::*;

use crate::live::LiveFeed;
use crate::view_model::race_control::{self as rc, FeedEntry};

/// The race control feed with its Hide/Show button.
#[component]
pub fn RaceControl(
    /// Where the data comes from.
    feed: LiveFeed,
) -> impl IntoView {
    let open = RwSignal::new(true);
    view! {
        <section class="race-control" aria-labelledby="rc-title" data-testid="race-control">
            <div class="rc-head">
                <h2 class="label" id="rc-title">"Race control"</h2>
                <button
                    class="rc-toggle"
                    aria-expanded=move || open.get().to_string()
                    aria-controls="rc-list"
                    on:click=move |_| open.update(|o| *o = !*o)
                >
                    {move || if open.get() { "Hide" } else { "Show" }}
                </button>
            </div>
            {move || open.get().then(|| view! { <RaceControlList feed=feed /> })}
        </section>
    }
}

/// The entries themselves. The list is rebuilt whole when it changes (at most once a second, 50 lines): a keyed
/// `For` would spare the DOM a few nodes but cost the app's bundle several KB (its diffing, instantiated for the
/// entry type).
#[component]
fn RaceControlList(
    /// Where the data comes from.
    feed: LiveFeed,
) -> impl IntoView {
    // The report is what moves (events and laps are booked into it); the state only names the drivers.
    let entries = Memo::new(move |_| {
        feed.report
            .with(|report| {
                let report = report.as_ref()?;
                feed.state.with_untracked(|state| {
                    let state = state.as_ref()?;
                    feed.with_records(|records| rc::feed(&report.events, records, state))
                })
            })
            .unwrap_or_default()
    });
    // Only what happens while the list is open is announced, not what it shows when it opens.
    let announcement = Memo::new(move |_| entries.with(|e| rc::announcement(e)));
    let opened_with = announcement.get_untracked();
    let news = move || {
        announcement
            .get()
            .filter(|a| Some(a) != opened_with.as_ref())
    };
    view! {
        <div class="visually-hidden" aria-live="polite" data-testid="rc-announce">{news}</div>
        <ol class="rc-list" id="rc-list" tabindex="0" aria-label="Race control messages, newest first">
            {move || entries.get().into_iter().map(entry_line).collect_view()}
        </ol>
    }
}

fn entry_line(e: FeedEntry) -> impl IntoView {
    view! {
        <li class=format!("rc-entry {}", e.kind.class()) data-testid="rc-entry">
            <span class="rc-when">{format!("L{} · {}", e.lap, e.clock)}</span>
            <span class="rc-tag">{e.kind.tag()}</span>
            <span class="rc-text">{e.text}</span>
        </li>
    }
}
