"""A real RTSP server for the live tests: GStreamer's gst-rtsp-server serving one MP4 file.

Run by Debian's own python3 (``/usr/bin/python3``), which has the GObject bindings
(python3-gi, gir1.2-gst-rtsp-server-1.0); the project's virtual environment does not.

    /usr/bin/python3 tests/rtsp_server.py CLIP.mp4 [PORT [RECORDING.ts]]

It serves the H.264 track of CLIP at ``rtsp://127.0.0.1:PORT/clip``, paced by the clock
(real time, as a camera sends), each client from the start of the file, without decoding or
re-encoding anything. PORT 0 (the default) takes a free port. Once listening it prints
``port N`` on stdout, so the test knows when and where to connect; it runs until killed.

With RECORDING.ts it also takes H.264 published (RTSP ANNOUNCE/RECORD, as by
``ffmpeg -f rtsp``) to ``rtsp://127.0.0.1:PORT/record`` and writes it there as MPEG-TS.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

MOUNT = "/clip"
RECORD_MOUNT = "/record"


def _recorder(path: str) -> GstRtspServer.RTSPMediaFactory:
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_transport_mode(GstRtspServer.RTSPTransportMode.RECORD)
    factory.set_launch(f'( rtph264depay name=depay0 ! h264parse ! mpegtsmux '
                       f'! filesink location="{path}" sync=false )')
    return factory


def serve(clip: str, port: int, recording: str | None = None) -> None:
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    # config-interval=-1: SPS/PPS with every keyframe, as cameras send them, so a client that
    # joins (or rejoins) can start decoding at the next keyframe.
    factory.set_launch(f'( filesrc location="{clip}" ! qtdemux ! h264parse '
                       f'! rtph264pay name=pay0 pt=96 config-interval=-1 )')
    server.get_mount_points().add_factory(MOUNT, factory)
    if recording:
        server.get_mount_points().add_factory(RECORD_MOUNT, _recorder(recording))
    if server.attach(None) == 0:
        sys.exit(f"rtsp_server: cannot listen on 127.0.0.1:{port}")
    print(f"port {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3, 4):
        sys.exit(__doc__)
    serve(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0,
          sys.argv[3] if len(sys.argv) > 3 else None)
