#!/usr/bin/python3
"""A real RTSP server for the ingest tests: GStreamer's gst-rtsp-server (Debian
packages, installed by `cargo xtask test`), serving live H.264 from x264.

Mounts, each a fresh live pipeline per client:
  /baseline-tcp  /baseline-udp  /high-tcp  /high-udp
        H.264 of that profile; the server accepts only that RTP transport, so a
        client that plays it proves it used the transport.
  /noise   high-bitrate picture (videotestsrc snow) for backpressure tests.
  /switch  changes resolution every --switch-seconds (640x360 ⇄ 480x272):
           new SPS/PPS mid-stream, sent in-band with each IDR.
  /flip    a plain picture that turns white and black in turn every
           --flip-ms; as each new colour leaves the source (a frame "captured"),
           prints "FLIP <unix time ms> <white|black>" on stdout: the latency
           benchmark's clock for camera → picture on screen.
  /sub     the substream of /high-tcp's camera: the same at half the width
           and height, a quarter of the bitrate.
  /h265    H.265 (Main) from x265, parameter sets in-band with each IRAP.
  /gop10   H.264 with a keyframe every 10 s (the "smart codec" long GOPs).
  /bframes H.264 Main with two B-frames between references (decode order
           differs from presentation order): a flat grey whose level is a
           counter, 4 steps brighter every frame (wrapping at 256), so a page
           reading the canvas sees whether pictures come in order.
  /alaw    H.264 video and G.711 A-law audio (8 kHz mono, a 440 Hz tone).
  /aac     H.264 video and AAC-LC audio (48 kHz mono, a 440 Hz tone).
  /clip    (with --clip FILE.mp4) that recorded H.264, played in real time and
           not re-encoded: many cameras for the ingest benchmark cost the server
           only demuxing and packetising.

Prints "READY <port>" on stdout once it listens (--port 0 picks a free port),
then serves until killed.

GStreamer 1.22 pitfalls handled here (found by probing):
  * rtph264pay config-interval=0: with -1, SPS/PPS before every slice corrupt
    I-frames of multi-slice x264 output. Parameter sets travel in the SDP.
  * Not shared between clients: a shared live media is seeked back to 0 when a
    second client sends `Range: npt=0-`.
"""

import argparse
import signal
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def pipeline(args, profile, pattern, kbps):
    # ultrafast turns off CABAC and 8x8 transforms, and x264 then writes a
    # (Constrained) Baseline SPS whatever the caps ask; superfast keeps both: High.
    preset = "ultrafast" if profile == "baseline" else "superfast"
    return (
        f"( videotestsrc name=src is-live=true pattern={pattern} "
        f"! video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1 "
        f"! x264enc tune=zerolatency speed-preset={preset} bitrate={kbps} "
        f"key-int-max={args.fps * 2} "
        f"! video/x-h264,profile={profile} "
        f"! rtph264pay name=pay0 pt=96 config-interval=0 )"
    )


def toggle_size(media, args):
    """Every few seconds, flip the picture size of a /switch pipeline."""
    size = media.get_element().get_by_name("size")
    sizes = [(640, 360), (480, 272)]
    state = {"i": 0}

    def flip():
        if media.get_status() == GstRtspServer.RTSPMediaStatus.UNPREPARED:
            return False  # the client left; stop the timer
        state["i"] ^= 1
        w, h = sizes[state["i"]]
        size.set_property(
            "caps", Gst.Caps.from_string(f"video/x-raw,width={w},height={h},framerate={args.fps}/1")
        )
        return True

    GLib.timeout_add_seconds(args.switch_seconds, flip)


def flip_colours(media, args):
    """Every --flip-ms, turn a /flip picture white or black, and say when the
    first frame of the new colour leaves the source."""
    src = media.get_element().get_by_name("src")
    state = {"white": False, "pending": None}

    def flip():
        if media.get_status() == GstRtspServer.RTSPMediaStatus.UNPREPARED:
            return False  # the client left; stop the timer
        state["white"] = not state["white"]
        src.set_property("pattern", 3 if state["white"] else 2)  # white, black
        state["pending"] = "white" if state["white"] else "black"
        return True

    def on_buffer(_pad, _info):
        colour = state["pending"]
        if colour is not None:
            state["pending"] = None
            print(f"FLIP {time.time() * 1000:.1f} {colour}", flush=True)
        return Gst.PadProbeReturn.OK

    src.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_buffer)
    GLib.timeout_add(args.flip_ms, flip)


def count_in_grey(media):
    """Each frame of a /bframes pipeline 4 grey levels brighter than the last."""
    src = media.get_element().get_by_name("src")
    state = {"n": 0}

    def on_buffer(_pad, _info):
        state["n"] += 1
        level = (state["n"] * 4) % 256
        src.set_property("foreground-color", 0xFF000000 | level << 16 | level << 8 | level)
        return Gst.PadProbeReturn.OK

    src.set_property("foreground-color", 0xFF000000)
    src.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_buffer)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--kbps", type=int, default=1000)
    p.add_argument("--noise-kbps", type=int, default=12000)
    p.add_argument("--switch-seconds", type=int, default=3)
    p.add_argument("--flip-ms", type=int, default=1500)
    p.add_argument("--clip", help="an MP4 of H.264 to serve at /clip")
    p.add_argument("--user", help="require this user (digest authentication)")
    p.add_argument("--password", default="")
    args = p.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
        auth.add_digest(args.user, args.password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        server.set_auth(auth)

    mounts = server.get_mount_points()
    transports = {
        "tcp": GstRtsp.RTSPLowerTrans.TCP,
        "udp": GstRtsp.RTSPLowerTrans.UDP,
    }
    factories = []
    for profile in ("baseline", "high"):
        for name, lower in transports.items():
            f = GstRtspServer.RTSPMediaFactory()
            f.set_launch(pipeline(args, profile, "ball", args.kbps))
            f.set_protocols(lower)
            factories.append((f"/{profile}-{name}", f))
    noise = GstRtspServer.RTSPMediaFactory()
    noise.set_launch(pipeline(args, "high", "snow", args.noise_kbps))
    factories.append(("/noise", noise))

    switch = GstRtspServer.RTSPMediaFactory()
    # One slice per picture (threads=1), so SPS/PPS before each IDR are safe.
    switch.set_launch(
        f"( videotestsrc is-live=true pattern=ball "
        f"! capsfilter name=size caps=video/x-raw,width=640,height=360,framerate={args.fps}/1 "
        f"! x264enc tune=zerolatency speed-preset=ultrafast threads=1 bitrate={args.kbps} "
        f"key-int-max={args.fps} "
        f"! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )
    switch.connect("media-configure", lambda _f, media: toggle_size(media, args))
    factories.append(("/switch", switch))

    flip = GstRtspServer.RTSPMediaFactory()
    flip.set_launch(pipeline(args, "high", "black", args.kbps))
    flip.connect("media-configure", lambda _f, media: flip_colours(media, args))
    factories.append(("/flip", flip))

    # A camera's substream: the same scene at a quarter of the pixels (the
    # main stream is /high-tcp).
    sub = GstRtspServer.RTSPMediaFactory()
    sub.set_launch(
        pipeline(
            argparse.Namespace(width=args.width // 2, height=args.height // 2, fps=args.fps),
            "high",
            "ball",
            args.kbps // 4,
        )
    )
    factories.append(("/sub", sub))

    h265 = GstRtspServer.RTSPMediaFactory()
    h265.set_launch(
        f"( videotestsrc is-live=true pattern=ball "
        f"! video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1 "
        f"! x265enc tune=zerolatency speed-preset=ultrafast bitrate={args.kbps} "
        f"key-int-max={args.fps * 2} "
        f"! video/x-h265,profile=main "
        f"! rtph265pay name=pay0 pt=96 config-interval=-1 )"
    )
    factories.append(("/h265", h265))

    gop10 = GstRtspServer.RTSPMediaFactory()
    gop10.set_launch(
        f"( videotestsrc is-live=true pattern=ball "
        f"! video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1 "
        f"! x264enc tune=zerolatency speed-preset=superfast bitrate={args.kbps} "
        f"key-int-max={args.fps * 10} "
        f"! video/x-h264,profile=high "
        f"! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )
    factories.append(("/gop10", gop10))

    # No zerolatency tune: it turns B-frames off. b-adapt off keeps two in
    # every gap, so the stream always reorders.
    bframes = GstRtspServer.RTSPMediaFactory()
    bframes.set_launch(
        f"( videotestsrc name=src is-live=true pattern=solid-color "
        f"! video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1 "
        f"! x264enc speed-preset=superfast bitrate={args.kbps} bframes=2 b-adapt=false "
        f"key-int-max={args.fps * 2} rc-lookahead=5 "
        f"! video/x-h264,profile=main "
        f"! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )
    bframes.connect("media-configure", lambda _f, media: count_in_grey(media))
    factories.append(("/bframes", bframes))

    video = (
        f"videotestsrc is-live=true pattern=ball "
        f"! video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1 "
        f"! x264enc tune=zerolatency speed-preset=ultrafast bitrate={args.kbps} "
        f"key-int-max={args.fps * 2} ! rtph264pay name=pay0 pt=96 config-interval=-1"
    )
    # 20 ms G.711 packets, as cameras send; AAC frames are 1024 samples.
    for name, samples, audio in (
        ("alaw", 160, "audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8"),
        (
            "aac",
            1024,
            "audio/x-raw,rate=48000,channels=1 ! voaacenc bitrate=64000 "
            "! rtpmp4gpay name=pay1 pt=97",
        ),
    ):
        f = GstRtspServer.RTSPMediaFactory()
        f.set_launch(
            f"( {video} audiotestsrc is-live=true wave=sine freq=440 "
            f"samplesperbuffer={samples} ! {audio} )"
        )
        factories.append((f"/{name}", f))

    if args.clip:
        clip = GstRtspServer.RTSPMediaFactory()
        # gst-launch syntax: a double-quoted string.
        location = '"' + args.clip.replace("\\", "\\\\").replace('"', '\\"') + '"'
        clip.set_launch(
            f"( filesrc location={location} ! qtdemux ! h264parse "
            f"! rtph264pay name=pay0 pt=96 config-interval=-1 )"
        )
        factories.append(("/clip", clip))

    for path, f in factories:
        f.set_shared(False)
        if args.user:
            permissions = GstRtspServer.RTSPPermissions()
            permissions.add_permission_for_role("viewer", "media.factory.access", True)
            permissions.add_permission_for_role("viewer", "media.factory.construct", True)
            f.set_permissions(permissions)
        mounts.add_factory(path, f)

    if server.attach(None) == 0:
        print("cannot listen", file=sys.stderr)
        sys.exit(1)
    print(f"READY {server.get_bound_port()}", flush=True)

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    loop.run()


if __name__ == "__main__":
    main()
