//! Entry point of the web app: the panic hook and mounting [`boxbox_web::App`].

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(boxbox_web::App);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("boxbox-web is a browser app: build it with `trunk build` (see README.md)");
}
