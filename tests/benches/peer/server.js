// The peer for `cargo xtask bench peer`: the npm package rtsp-relay, set up
// exactly as its README shows (express + `proxy({ url })` + `loadPlayer` in
// the page), relaying one RTSP camera to JSMpeg players.
//
// usage: node server.js NODE_MODULES_DIR RTSP_URL
// Prints "READY <port>" once it listens on 127.0.0.1 (a free port).
//
// rtsp-relay runs ffmpeg from the ffmpeg-static package; `cargo xtask bench`
// installs that package without its download script and sets FFMPEG_BIN to
// Debian's ffmpeg, which ffmpeg-static then reports as its binary.
// The browser part loads JSMpeg from a CDN unless `window.JSMpeg` exists;
// the page loads JSMpeg from npm (@cycjimmy/jsmpeg-player, a packaging of
// phoboslab's JSMpeg with its WebAssembly decoder) from this server instead.

'use strict';

const path = require('path');

const [modules, url] = process.argv.slice(2);
if (!modules || !url) {
  console.error('usage: node server.js NODE_MODULES_DIR RTSP_URL');
  process.exit(2);
}
const from = (name) => path.join(modules, name);

const express = require(from('express'));
const app = express();
const { proxy } = require(from('rtsp-relay'))(app);

// TCP, as the Sightline relay pulls the same camera.
app.ws('/stream', proxy({ url, transport: 'tcp' }));

const file = (route, where) => app.get(route, (_req, res) => res.sendFile(where));
file('/', path.join(__dirname, 'index.html'));
file('/jsmpeg.js', from('@cycjimmy/jsmpeg-player/dist/jsmpeg-player.umd.min.js'));
file('/rtsp-relay.js', from('rtsp-relay/browser/index.js'));

const server = app.listen(0, '127.0.0.1', () => {
  console.log(`READY ${server.address().port}`);
});
