#!/usr/bin/python3
"""A real RTSP server for the ingest tests: GStreamer's gst-rtsp-server (Debian
packages, installed by `cargo xtask test`), serving live H.264 from x264.

Mounts, each a fresh live pipeline per client:
  /baseline-tcp  /baseline-udp  /high-tcp  /high-udp
        H.264 of that profile; the server accepts only that RTP transport, so a
        client that plays it proves it used the transport.
  /noise   high-bitrate picture (videotestsrc snow) for backpressure tests.

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
        f"( videotestsrc is-live=true pattern={pattern} "
        f"! video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1 "
        f"! x264enc tune=zerolatency speed-preset={preset} bitrate={kbps} "
        f"key-int-max={args.fps * 2} "
        f"! video/x-h264,profile={profile} "
        f"! rtph264pay name=pay0 pt=96 config-interval=0 )"
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--kbps", type=int, default=1000)
    p.add_argument("--noise-kbps", type=int, default=12000)
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
