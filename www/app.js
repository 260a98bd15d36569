// The app page: every camera the relay lists, in a grid sized to the window.
// Click a tile (or open `?camera=ID`) to focus one camera; Back, Esc or
// "All cameras" returns to the grid. Tiles that cannot be seen (the others
// while one is focused, or scrolled away) stop receiving video by themselves.
//
// `?decoder=wasm|webcodecs` forces a decoder on every tile, `?renderer=webgl|canvas2d`
// how the Wasm decoder's pictures are painted; `?stats` shows the
// stats boxes (also the Stats box in the header, remembered per browser).

import { listCameras } from "./cameras.js";

const grid = document.getElementById("grid");
const summary = document.getElementById("summary");
const back = document.getElementById("back");
const showStats = document.getElementById("show-stats");
const query = new URLSearchParams(location.search);
const decoder = query.get("decoder");
const renderer = query.get("renderer");

showStats.checked = query.has("stats") || localStorage.getItem("sightline.stats") === "1";
showStats.addEventListener("change", () => {
  localStorage.setItem("sightline.stats", showStats.checked ? "1" : "0");
  for (const player of grid.querySelectorAll("cam-player")) player.stats = showStats.checked;
});
document.getElementById("fullscreen").addEventListener("click", () => {
  if (document.fullscreenElement) document.exitFullscreen();
  else document.documentElement.requestFullscreen().catch(() => {});
});

/** One tile: the player and a caption with the camera's name and state. */
function tile(camera) {
  const figure = document.createElement("figure");
  figure.className = "tile";
  figure.dataset.camera = camera.id;
  const player = document.createElement("cam-player");
  player.camera = camera.id;
  player.stats = showStats.checked;
  if (decoder) player.decoder = decoder;
  if (renderer) player.renderer = renderer;
  const caption = document.createElement("figcaption");
  caption.textContent = camera.name;
  figure.append(player, caption);
  player.addEventListener("statechange", updateSummary);
  // A click on the picture focuses; the player's own buttons do their job.
  player.addEventListener("click", (event) => {
    if (event.composedPath()[0]?.tagName === "BUTTON") return;
    if (grid.dataset.focus !== camera.id) focus(camera.id, true);
  });
  return figure;
}

/** Shows one camera (`id`) or, with null, the whole grid. */
function focus(id, push) {
  const known = [...grid.children].some((t) => t.dataset.camera === id);
  id = known ? id : null;
  for (const t of grid.children) {
    t.hidden = id !== null && t.dataset.camera !== id;
    // The focused camera gets the control bar (snapshot, full screen); in the
    // grid a click on a tile focuses it.
    t.querySelector("cam-player").controls = id !== null && !t.hidden;
  }
  if (id === null) delete grid.dataset.focus;
  else grid.dataset.focus = id;
  back.hidden = id === null;
  layout();
  if (push) {
    const url = new URL(location.href);
    if (id === null) url.searchParams.delete("camera");
    else url.searchParams.set("camera", id);
    history.pushState({ camera: id }, "", url);
  }
}

/** Columns and width so that every visible tile (16:9) fits the window. */
function layout() {
  const tiles = [...grid.children].filter((t) => !t.hidden).length || 1;
  const style = getComputedStyle(grid);
  const gap = parseFloat(style.columnGap) || 0;
  const header = document.querySelector("header").offsetHeight;
  const width = grid.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const height = innerHeight - header - parseFloat(style.paddingBottom) - 1;
  // The column count that gives the largest tiles.
  let best = { cols: 1, size: 0 };
  for (let cols = 1; cols <= tiles; cols++) {
    const rows = Math.ceil(tiles / cols);
    const size = Math.min((width - gap * (cols - 1)) / cols, ((height - gap * (rows - 1)) / rows) * (16 / 9));
    if (size > best.size) best = { cols, size };
  }
  grid.style.setProperty("--cols", best.cols);
  grid.style.setProperty("--tile-width", `${Math.floor(best.size)}px`);
}

function updateSummary() {
  const players = [...grid.querySelectorAll("cam-player")];
  const live = players.filter((p) => p.state === "live").length;
  summary.textContent = `${players.length} camera${players.length === 1 ? "" : "s"} · ${live} live`;
}

back.addEventListener("click", () => focus(null, true));
addEventListener("keydown", (e) => {
  if (e.key === "Escape" && grid.dataset.focus && !document.fullscreenElement) focus(null, true);
});
addEventListener("popstate", () => focus(new URLSearchParams(location.search).get("camera"), false));
addEventListener("resize", layout);

const list = await listCameras((why) => (summary.textContent = why));
grid.replaceChildren(...list.map(tile));
if (!list.length) summary.textContent = "The relay has no cameras: see README, Configuration.";
else updateSummary();
focus(query.get("camera"), false);
// For scripts (and the end-to-end tests) that drive the page: the tiles exist.
document.documentElement.dataset.app = "ready";
dispatchEvent(new Event("sightline:ready"));
