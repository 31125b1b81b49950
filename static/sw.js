// boxbox's service worker: keeps the app shell in a cache so that, after one visit, the app opens with the relay
// down (and an offline replay, from a picked file, then needs nothing from the network).
//
// - Trunk puts a content hash in the app's JS, wasm and CSS names (`boxbox-web-<hash>_bg.wasm`): a hashed name
//   never changes content, so those are served cache-first (cached on first fetch).
// - The rest of the shell (index.html, the unhashed strategy-worker files, icon, manifest) is network-first: fresh
//   when the server is up, the cached copy when it is not.
// - `/api/…` and `/ws` (live data) are never cached, nor anything else (recordings fetched with `?replay=`, race
//   folders' files with `?race=`).
const CACHE = "boxbox-shell-v1";
const SHELL = ["/manifest.webmanifest", "/icon.svg", "/strategy-worker_loader.js", "/strategy-worker.js",
  "/strategy-worker_bg.wasm"];
const HASHED = /-[0-9a-f]{16,}(_bg)?\.(js|wasm|css)$/;
const SHELL_FILE = /\.(html|js|wasm|css|svg|webmanifest)$/;
// Same-origin paths that index.html names (Trunk's preload links and its module script).
const NAMED = /["'](\/[^"'?#\s]+\.(?:js|wasm|css|svg|webmanifest))["']/g;

self.addEventListener("install", (event) => {
  // The page that registered this worker loaded before it existed, so fetch the shell it loaded now.
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const page = await fetch("/", { cache: "no-cache" });
    if (page.ok) {
      const html = await page.clone().text();
      await cache.put("/", page);
      const named = [...html.matchAll(NAMED)].map((m) => m[1]);
      // A file that fails (e.g. the worker not built) must not fail the install.
      await Promise.all([...new Set([...SHELL, ...named])].map((url) => cache.add(url).catch(() => {})));
    }
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/") || url.pathname === "/ws") return;
  if (HASHED.test(url.pathname)) event.respondWith(cacheFirst(req));
  else if (req.mode === "navigate") event.respondWith(networkFirst(req, "/"));
  else if (SHELL_FILE.test(url.pathname)) event.respondWith(networkFirst(req, req));
});

async function cacheFirst(req) {
  const hit = await caches.match(req);
  if (hit) return hit;
  const res = await fetch(req);
  if (res.ok) await (await caches.open(CACHE)).put(req, res.clone());
  return res;
}

// Every page of the app is index.html (client-side state lives in the query), so pages share the key "/".
async function networkFirst(req, key) {
  try {
    const res = await fetch(req);
    if (res.ok) {
      const cache = await caches.open(CACHE);
      await cache.put(key, res.clone());
      if (key === "/") await prune(cache, await res.clone().text());
    }
    return res;
  } catch (offline) {
    const hit = await caches.match(key, { ignoreSearch: true });
    if (hit) return hit;
    throw offline;
  }
}

// A new build names new hashed files: drop the ones the current index.html no longer names.
async function prune(cache, html) {
  for (const req of await cache.keys()) {
    const path = new URL(req.url).pathname;
    if (HASHED.test(path) && !html.includes(path)) await cache.delete(req);
  }
}
