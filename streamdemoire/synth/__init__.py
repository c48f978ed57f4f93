"""A physically based simulator of a camera filming a screen, with exact clean twins.

- ``content``: what the screen shows (slides, code, web pages, photos, ...), at display pixels.
- ``camera``: the display's subpixels and the camera that films them (pose, lens, optics,
  Bayer sensor, noise, tone, phone-style downscaling and compression) -> a moiré frame and its
  aligned clean twin.
- ``video``: smooth hand-held trajectories, scrolling and scene cuts over time.
"""
