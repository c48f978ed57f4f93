"""Where frames come from and go to: decoding sources and encoding sinks."""

from .frames import Batch, FrameTime, VideoInfo
from .sink import ENCODERS, EncodeSettings, FileSink, check_output_path
from .source import FileSource

__all__ = ["ENCODERS", "Batch", "EncodeSettings", "FileSink", "FileSource", "FrameTime",
           "VideoInfo", "check_output_path"]
