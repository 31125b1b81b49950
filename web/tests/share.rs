//! Browser test (headless Chromium through wasm-bindgen-test-runner) of what a share link opens: the view and car
//! from its query, the read-only badge and no engineer's Share button, the Share button on the engineer's page,
//! and a clear message instead of the pit wall when the relay refuses the page.
// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(target_arch = "wasm32")]

use boxbox_engine::sim::{RaceSim, SimConfig};
use boxbox_web::live::LiveFeed;
use boxbox_web::share::PageAccess;
use boxbox_web::view_model::share::{Access, Denial, PageQuery, Role};
use leptos::prelude::Set;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Lets the browser run its event loop (timers, Leptos' effects) for `ms` milliseconds.
async fn sleep_ms(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

#[wasm_bindgen_test]
async fn a_share_link_opens_its_view_and_car_read_only() {
    let feed = LiveFeed::new();
    let mut sim = RaceSim::new(&SimConfig {
        seed: 5,
        total_laps: 10,
    });
    sim.advance_to(120.0);
    let state = sim.state();
    let car = state.cars[3].car_idx;
    let code = state.cars[3].driver.code.clone();
    feed.start(state, Vec::new());
    let access = PageAccess::new(Some("bb1.analyst.test".into()));
    access.status.set(Access::Granted {
        role: Role::Analyst,
        expires_at: None,
    });

    let doc = web_sys::window().unwrap().document().unwrap();
    let root = doc.create_element("div").unwrap();
    doc.body().unwrap().append_child(&root).unwrap();
    let start = PageQuery {
        token: None,
        view: Some("field".into()),
        car: Some(car),
        nats: None,
    };
    let _mounted = leptos::mount::mount_to(root.clone().unchecked_into(), move || {
        leptos::view! { <boxbox_web::PitWall feed=feed access=access start=start /> }
    });
    sleep_ms(50).await;
    let find = |css: &str| root.query_selector(css).unwrap();
    let text = |css: &str| find(css).and_then(|e| e.text_content()).unwrap_or_default();

    // The link's view and car, read-only, with no Share button.
    assert_eq!(
        find("[data-testid=tab-field]")
            .unwrap()
            .get_attribute("aria-selected")
            .as_deref(),
        Some("true")
    );
    assert_eq!(text("[data-testid=tower-row].selected .code"), code);
    assert_eq!(text("[data-testid=role]"), "READ-ONLY");
    assert!(find("[data-testid=share]").is_none());

    // The engineer's page has the Share button, with an accessible name.
    access.status.set(Access::Granted {
        role: Role::Engineer,
        expires_at: None,
    });
    sleep_ms(20).await;
    assert_eq!(text("[data-testid=role]"), "ENGINEER");
    let share = find("[data-testid=share]").expect("the engineer's page has a Share button");
    assert!(
        share
            .get_attribute("aria-label")
            .is_some_and(|l| !l.is_empty())
    );

    // Refused: the reason, not an empty pit wall, and nothing to share.
    access.status.set(Access::Denied(Denial::NeedsToken));
    sleep_ms(20).await;
    assert!(
        text("[data-testid=access-denied]").contains("needs a token"),
        "{}",
        text("[data-testid=access-denied]")
    );
    assert!(find("main.panes").unwrap().has_attribute("hidden"));
    assert!(find("[data-testid=share]").is_none());
}
