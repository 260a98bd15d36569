// The single-camera page: shows the camera named by `?camera=ID`, or the first
// camera the relay has, and lists every camera as a link with its status.

const player = document.getElementById("player");
const nav = document.getElementById("cameras");
const query = new URLSearchParams(location.search);
const wanted = query.get("camera");
if (wanted) player.setAttribute("camera", wanted);
// `?decoder=wasm` or `?decoder=webcodecs` forces one (default: auto).
if (query.get("decoder")) player.setAttribute("decoder", query.get("decoder"));

fetch("api/cameras")
  .then((response) => response.json())
  .then((cameras) => {
    if (!wanted && cameras.length) player.setAttribute("camera", cameras[0].id);
    const current = player.getAttribute("camera");
    for (const camera of cameras) {
      const link = document.createElement("a");
      link.href = "?camera=" + encodeURIComponent(camera.id);
      link.textContent = camera.name;
      link.dataset.state = camera.status.state;
      if (camera.id === current) link.setAttribute("aria-current", "page");
      nav.append(link);
    }
  })
  .catch((e) => console.warn("Sightline: cannot list cameras", e));
