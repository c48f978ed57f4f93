"""A display filmed by a phone camera: the physics that makes moiré, and its clean twin.

Moiré is aliasing: the display's periodic subpixel grid, seen through the lens, is sampled by
the sensor's pixel grid and its Bayer colour filter, and every harmonic of the display grid
that lands near a multiple of the sampling frequency folds down to a slow, coloured beat. So
the simulator renders exactly that chain:

1. display: each display pixel shows one content colour through its subpixels (RGB or BGR
   stripes, delta, PenTile) separated by a black matrix (fill factor);
2. geometry: output pixel -> lens distortion -> projective pose -> display coordinates;
3. optics: the lens blur softens the subpixel mask (applied analytically, per harmonic);
4. sensor: pixels larger or smaller than the display pixels integrate the light (sub-samples),
   a Bayer colour filter keeps one colour per pixel, shot and read noise are added, and a
   bilinear demosaic fills the rest back in;
5. shading: lens vignetting and the screen's own falloff with viewing angle (brightness and
   colour drift across the view), a smooth gain on the sensor's light;
6. the phone's processing: auto exposure (metered on the clipped frame, so the pair shares
   its mean recorded light), white balance and a tone curve, downscaling to the video
   size (area filter, or a cheap bilinear one that aliases more), sharpening with halos, then
   JPEG or H.264 (an intra frame) compression (video clips get H.264 from their encoder
   instead).

The clean twin takes the same samples through the same geometry, exposure, white balance, tone
curve, downscaling, defocus and sharpening (the camera's look, which a demoiré model must
keep), but of an ideal emitter (no subpixels, no black matrix, evenly lit) on an ideal full-colour
sensor without noise or compression. Shading is left out of the twin because it is an artefact
of filming a screen, not part of the picture (a slide is evenly lit), and because it is the
largest error in real photos of screens: on the real validation pairs a smooth per-image gain
field explains far more of the difference than moiré does.
Both are therefore aligned to the pixel, and they differ only by what a demoiré model should
remove.

The display subpixel mask is written as a short Fourier series, so the lens blur is an exact
Gaussian attenuation of each harmonic and evaluating it costs a few multiply-adds per sample.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, fields, replace

import av
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

#: Sensor pixels sampled at a time (``_sensor_samples``): some 130 MB of working memory.
SENSOR_STRIP_SAMPLES = 1 << 21

#: Harmonics of the subpixel mask kept in its Fourier series. The fifth harmonic of a stripe
#: layout is already attenuated below a few percent by any real lens.
HARMONICS = 5

#: Display layouts: per row parity, per channel, the subpixels (centre, width) within a cell of
#: ``period`` display pixels, in units of the cell. Widths are scaled by the fill factor.
LAYOUTS: dict[str, dict] = {
    "rgb": {"period": 1, "rows": [
        {0: [(1 / 6, 1 / 3)], 1: [(1 / 2, 1 / 3)], 2: [(5 / 6, 1 / 3)]}] * 2},
    "bgr": {"period": 1, "rows": [
        {2: [(1 / 6, 1 / 3)], 1: [(1 / 2, 1 / 3)], 0: [(5 / 6, 1 / 3)]}] * 2},
    "delta": {"period": 1, "rows": [
        {0: [(1 / 6, 1 / 3)], 1: [(1 / 2, 1 / 3)], 2: [(5 / 6, 1 / 3)]},
        {0: [(4 / 6, 1 / 3)], 1: [(0.0, 1 / 3)], 2: [(2 / 6, 1 / 3)]}]},
    "pentile": {"period": 2, "rows": [
        {0: [(1 / 8, 1 / 4)], 1: [(3 / 8, 1 / 6), (7 / 8, 1 / 6)], 2: [(5 / 8, 1 / 4)]},
        {2: [(1 / 8, 1 / 4)], 1: [(3 / 8, 1 / 6), (7 / 8, 1 / 6)], 0: [(5 / 8, 1 / 4)]}]},
}


@dataclass
class CameraParams:
    """One shot of a screen. ``sample`` documents the randomised ranges.

    Lengths: ``pitch`` is a display pixel in sensor pixels; ``sensor_scale`` is sensor pixels
    per output pixel; ``blur`` is the lens PSF's sigma in sensor pixels; ``defocus`` is a
    further blur in output pixels (focus missed, stabiliser resampling), shared by the twin.
    Shading: ``vignette`` darkens the corners by that fraction; ``falloff_x``/``falloff_y``
    are the gain's slope across the view (viewing angle), ``colour_drift`` the extra slope of
    red and blue (an LCD's colour shifts with angle), per unit of half the view's diagonal.
    """

    layout: str = "rgb"
    fill_x: float = 0.8
    fill_y: float = 0.85
    pitch: float = 1.5
    sensor_scale: float = 2.0  # 1 (video from a binned sensor) .. 5 (a photo downscaled)
    rotation_deg: float = 0.0
    tilt_x: float = 0.0
    tilt_y: float = 0.0
    k1: float = 0.0
    centre_x: float = 0.5
    centre_y: float = 0.5
    blur: float = 0.4
    bayer_phase: int = 0
    shot_noise: float = 0.002
    read_noise: float = 0.003
    exposure: float = 1.0
    wb_r: float = 1.0
    wb_b: float = 1.0
    gamma: float = 2.2
    contrast: float = 0.0
    defocus: float = 0.0
    sharpen: float = 0.0
    sharpen_sigma: float = 1.0
    downscale: str = "area"
    jpeg_quality: int | None = 90
    h264_crf: int | None = None
    vignette: float = 0.0
    falloff_x: float = 0.0
    falloff_y: float = 0.0
    colour_drift: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    @classmethod
    def sample(cls, rng: np.random.Generator) -> CameraParams:
        """Random parameters over the ranges seen in phone photos and video of screens."""
        if rng.random() < 0.45:
            # Display pitch close to a multiple of the sensor pitch (or of the Bayer period):
            # the long, slow bands and rings of close shots. A detuning d gives beats of about
            # 1/d sensor pixels: 0.004-0.12 spans bands from ~8 to ~250 px.
            detune = float(np.exp(rng.uniform(np.log(0.004), np.log(0.12))))
            pitch = float(rng.choice([1.0, 1.5, 2.0])) + float(rng.choice([-1, 1])) * detune
        else:
            # Beyond ~2.6 sensor pixels per display pixel the camera resolves the subpixels
            # themselves (a screen door, not moiré), which no exposure can make match the twin.
            pitch = float(np.exp(rng.uniform(np.log(0.7), np.log(2.6))))
        return cls(
            layout=str(rng.choice(["rgb", "rgb", "bgr", "delta", "pentile"])),
            fill_x=float(rng.uniform(0.55, 0.98)),
            fill_y=float(rng.uniform(0.6, 0.98)),
            pitch=max(pitch, 0.6),
            sensor_scale=float(np.exp(rng.uniform(0.0, np.log(5.0)))),
            rotation_deg=float(rng.normal(0, 4)),
            tilt_x=float(rng.normal(0, 0.12)),
            tilt_y=float(rng.normal(0, 0.12)),
            k1=float(rng.uniform(-0.12, 0.12)),
            centre_x=float(rng.uniform(0.3, 0.7)),
            centre_y=float(rng.uniform(0.3, 0.7)),
            blur=float(rng.uniform(0.15, 0.7)),
            bayer_phase=int(rng.integers(4)),
            shot_noise=float(np.exp(rng.uniform(np.log(2e-4), np.log(8e-3)))),
            read_noise=float(np.exp(rng.uniform(np.log(5e-4), np.log(8e-3)))),
            exposure=float(rng.uniform(0.75, 1.25)),
            wb_r=float(rng.uniform(0.85, 1.15)),
            wb_b=float(rng.uniform(0.85, 1.15)),
            gamma=float(rng.uniform(1.9, 2.5)),
            contrast=float(rng.uniform(0.0, 0.5)),
            defocus=float(rng.choice([0.0, rng.uniform(0.3, 1.2)], p=[0.5, 0.5])),
            sharpen=float(rng.choice([0.0, rng.uniform(0.2, 1.5)], p=[0.3, 0.7])),
            sharpen_sigma=float(rng.uniform(0.7, 1.6)),
            downscale=str(rng.choice(["area", "bilinear"], p=[0.6, 0.4])),
            **_sample_compression(rng),
            **_sample_shading(rng),
        )

    def to_dict(self) -> dict:
        return asdict(self)

    def display_px_per_output_px(self) -> float:
        return self.sensor_scale / self.pitch

    def unshaded(self) -> CameraParams:
        """The same camera without shading (:data:`SHADING_FIELDS` at their defaults), as a
        tenth of sampled cameras are: a shot filmed both ways differs by the shading alone."""
        defaults = {f.name: f.default for f in fields(self) if f.name in SHADING_FIELDS}
        return replace(self, **defaults)


#: The fields :func:`_sample_shading` draws; left at their defaults they shade nothing.
SHADING_FIELDS = ("vignette", "falloff_x", "falloff_y", "colour_drift")


def _sample_shading(rng: np.random.Generator) -> dict:
    """Shading as real photos of screens show it: nearly always present, often strong.

    The ranges follow the real pairs' smooth gain fields (log-gain std 0.04-0.3 across a
    view, after the per-image colour fit), which the narrower ranges before (vignette up to
    0.4, slopes of sd 0.15) undershot about threefold (now up to 0.8 and sd 0.35: median
    0.05 on training pairs, the real pairs' 0.08): a wide phone lens loses up to about
    half the light in the corners (cos^4 law), and a panel seen off-axis dims and shifts
    colour across the view.
    """
    if rng.random() < 0.1:
        return {}
    return {
        "vignette": float(rng.uniform(0.0, 0.8)),
        "falloff_x": float(rng.normal(0, 0.35)),
        "falloff_y": float(rng.normal(0, 0.35)),
        "colour_drift": tuple(float(d) for d in rng.normal(0, 0.1, 4)),
    }


def _sample_compression(rng: np.random.Generator) -> dict:
    """JPEG (photos) or H.264 (video: 4:2:0 chroma and the deblocking filter's smoothing,
    which JPEG lacks and video users' footage always has), or, rarely, none."""
    kind = rng.choice(["jpeg", "h264", "none"], p=[0.5, 0.4, 0.1])
    if kind == "jpeg":
        return {"jpeg_quality": int(rng.integers(60, 96))}
    if kind == "h264":
        return {"jpeg_quality": None, "h264_crf": int(rng.integers(16, 31))}
    return {"jpeg_quality": None}


def _view_to_display(params: CameraParams, ys: torch.Tensor, xs: torch.Tensor,
                     height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Map output-pixel coordinates to display pixels, relative to the view's centre.

    The lens distorts radially around the image centre; then a homography (tilt, rotation,
    zoom) lays the camera's view onto the screen.
    """
    half_diag = 0.5 * math.hypot(height, width)
    x = (xs - (width - 1) / 2) / half_diag
    y = (ys - (height - 1) / 2) / half_diag
    radial = 1 + params.k1 * (x * x + y * y)
    x, y = x * radial, y * radial
    w = 1 + params.tilt_x * x + params.tilt_y * y
    x, y = x / w, y / w
    theta = math.radians(params.rotation_deg)
    c, s = math.cos(theta), math.sin(theta)
    zoom = params.display_px_per_output_px() * half_diag
    return (c * x - s * y) * zoom, (s * x + c * y) * zoom


def _view_extent(params: CameraParams, height: int, width: int) -> tuple[float, ...]:
    """(u_min, u_max, v_min, v_max) of the view's outline on the display."""
    t = torch.linspace(0.0, 1.0, 64)
    ys = torch.cat([t * 0, t * 0 + height, t * height, t * height]) - 0.5
    xs = torch.cat([t * width, t * width, t * 0, t * 0 + width]) - 0.5
    u, v = _view_to_display(params, ys, xs, height, width)
    return u.min().item(), u.max().item(), v.min().item(), v.max().item()


def content_size_for(params: CameraParams, height: int, width: int,
                     slack: float = 1.1) -> tuple[int, int]:
    """Display pixels (rows, columns) the content needs to fill the camera's view."""
    u0, u1, v0, v1 = _view_extent(params, height, width)
    return int(math.ceil((v1 - v0) * slack)) + 2, int(math.ceil((u1 - u0) * slack)) + 2


def _output_to_display(params: CameraParams, ys: torch.Tensor, xs: torch.Tensor,
                       height: int, width: int, content_hw: tuple[int, int]):
    """Output pixels to absolute display pixels: the view sits inside the content, at
    ``centre_x``/``centre_y`` of the room left around it (centred if the content is smaller).
    """
    u0, u1, v0, v1 = _view_extent(params, height, width)
    u, v = _view_to_display(params, ys, xs, height, width)
    room_u, room_v = content_hw[1] - (u1 - u0), content_hw[0] - (v1 - v0)
    fx = params.centre_x if room_u >= 0 else 0.5
    fy = params.centre_y if room_v >= 0 else 0.5
    return u - u0 + fx * room_u, v - v0 + fy * room_v


def _harmonic_basis(f: torch.Tensor) -> torch.Tensor:
    """Rows [1, cos 2πkf, sin 2πkf for k = 1..K] of a flat ``f``, by the angle-sum recursion."""
    basis = torch.empty(1 + 2 * HARMONICS, f.numel(), dtype=f.dtype)
    c1, s1 = torch.cos(2 * math.pi * f.reshape(-1)), torch.sin(2 * math.pi * f.reshape(-1))
    basis[0] = 1.0
    basis[1], basis[2] = c1, s1
    for k in range(2, HARMONICS + 1):
        ck, sk = basis[2 * k - 3], basis[2 * k - 2]
        basis[2 * k - 1] = ck * c1 - sk * s1
        basis[2 * k] = sk * c1 + ck * s1
    return basis


def _box_coefficients(boxes: list[tuple[float, float]], sigma: float,
                      aperture: float) -> np.ndarray:
    """Fourier coefficients (in the basis above) of periodic boxes, as a camera records them.

    Each harmonic is attenuated by the lens (a Gaussian of ``sigma``) and by the sensor pixel's
    own integration (a box of ``aperture``: a sinc, which changes sign, as real aliasing does).
    Lengths are in units of the layout's period.
    """
    coef = np.zeros(1 + 2 * HARMONICS)
    for centre, width in boxes:
        coef[0] += width
        for k in range(1, HARMONICS + 1):
            amp = 2 * math.sin(math.pi * k * width) / (math.pi * k)
            amp *= math.exp(-2 * (math.pi * k * sigma) ** 2) * np.sinc(k * aperture)
            coef[2 * k - 1] += amp * math.cos(2 * math.pi * k * centre)
            coef[2 * k] += amp * math.sin(2 * math.pi * k * centre)
    return coef


def _subpixel_mask(params: CameraParams, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Emission of each colour channel at display coordinates (u, v) as seen by one sensor
    pixel there, mean 1 per channel; shape (3, *u.shape)."""
    layout = LAYOUTS[params.layout]
    period = layout["period"]
    sigma = params.blur / params.pitch  # lens blur, in display pixels
    aperture = 1.0 / params.pitch  # a sensor pixel's width, in display pixels
    coef_y = _box_coefficients([(0.5, params.fill_y)], sigma, aperture) / params.fill_y
    mask_y = torch.from_numpy(coef_y).float() @ _harmonic_basis(v)
    rows = []
    for row in layout["rows"]:
        for ch in range(3):
            boxes = [(c, w * params.fill_x) for c, w in row.get(ch, [])]
            coef = _box_coefficients(boxes, sigma / period, aperture / period)
            rows.append(coef / coef[0])
    per_row = torch.from_numpy(np.stack(rows)).float() @ _harmonic_basis(u / period)
    odd_row = (torch.floor(v).reshape(-1) % 2).bool()
    mask = torch.where(odd_row, per_row[3:], per_row[:3]) * mask_y
    return mask.clamp_(min=0).reshape(3, *u.shape)


def _sample_content(content_lin: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Colour shown by the display pixel under each (u, v); black bezel outside the screen."""
    h, w = content_lin.shape[1:]
    iu, iv = torch.floor(u).long(), torch.floor(v).long()
    inside = (iu >= 0) & (iu < w) & (iv >= 0) & (iv < h)
    idx = (iv.clamp(0, h - 1) * w + iu.clamp(0, w - 1)).reshape(-1)
    out = content_lin.reshape(3, -1)[:, idx].reshape(3, *u.shape)
    return out * inside


def _grid(height: int, width: int, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Output-pixel coordinates of the centres of a grid with ``scale`` pixels per output
    pixel (the sensor's); shape (H*scale, W*scale) each."""
    hs, ws = round(height * scale), round(width * scale)
    ys = (torch.arange(hs, dtype=torch.float32) + 0.5) * (height / hs) - 0.5
    xs = (torch.arange(ws, dtype=torch.float32) + 0.5) * (width / ws) - 0.5
    return ys[:, None].expand(hs, ws), xs[None, :].expand(hs, ws)


def _shading(params: CameraParams, height: int, width: int) -> torch.Tensor:
    """Per-channel gain (3 x H x W) of vignetting and the screen's viewing-angle falloff."""
    half_diag = 0.5 * math.hypot(height, width)
    y = (torch.arange(height, dtype=torch.float32)[:, None] - (height - 1) / 2) / half_diag
    x = (torch.arange(width, dtype=torch.float32)[None, :] - (width - 1) / 2) / half_diag
    vignette = 1 - params.vignette * (x * x + y * y)
    rx, ry, bx, by = params.colour_drift
    slopes = [(params.falloff_x + rx, params.falloff_y + ry),
              (params.falloff_x, params.falloff_y),
              (params.falloff_x + bx, params.falloff_y + by)]
    gain = torch.stack([vignette * (1 + sx * x + sy * y) for sx, sy in slopes])
    return gain.clamp_(0.3, 1.7)


def _exposure_gains(params: CameraParams) -> torch.Tensor:
    """Per-channel gains (3 x 1 x 1) of exposure and white balance on linear light."""
    return torch.tensor([params.wb_r, 1.0, params.wb_b]).view(3, 1, 1) * params.exposure


def _tone(lin: torch.Tensor, params: CameraParams) -> torch.Tensor:
    """Exposure, white balance, gamma and an S-curve: the phone's rendering of linear light."""
    y = (lin * _exposure_gains(params)).clamp_(0, 1) ** (1 / params.gamma)
    smooth = y * y * (3 - 2 * y)
    return (1 - params.contrast) * y + params.contrast * smooth


def _bayer_masks(params: CameraParams, rows: torch.Tensor, width: int) -> torch.Tensor:
    """3 x len(rows) x width, bool: where the colour filter (RGGB at a random phase) passes
    red, green and blue, for the sensor rows ``rows``."""
    py, px = divmod(params.bayer_phase, 2)
    yy = (rows[:, None] + py) % 2
    xx = (torch.arange(width)[None, :] + px) % 2
    return torch.stack([(yy == 0) & (xx == 0), (yy + xx) == 1, (yy == 1) & (xx == 1)])


def _noise_and_demosaic(raw: torch.Tensor, params: CameraParams, rng: np.random.Generator
                        ) -> torch.Tensor:
    """The raw mosaic with shot and read noise, bilinear-demosaicked to 3 x H x W."""
    h, w = raw.shape
    noise_sd = torch.sqrt(params.shot_noise * raw.clamp(min=0) + params.read_noise ** 2)
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    raw = raw + noise_sd * torch.randn(raw.shape, generator=gen)
    del noise_sd
    k_g = torch.tensor([[0, 1, 0], [1, 4, 1], [0, 1, 0]], dtype=torch.float32) / 4
    k_rb = torch.tensor([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=torch.float32) / 4
    kernels = torch.stack([k_rb, k_g, k_rb])[:, None]
    sparse = F.pad((raw * _bayer_masks(params, torch.arange(h), w))[None], (1, 1, 1, 1),
                   mode="reflect")
    # In strips too: torch's CPU convolution of a whole frame needs some ten times the
    # frame's memory while it works (2.8 GB more for a 3 x 3600 x 6400 frame of 264 MB).
    rgb = torch.empty(3, h, w)
    rows = max(1, SENSOR_STRIP_SAMPLES // w)
    for top in range(0, h, rows):
        rgb[:, top:top + rows] = F.conv2d(sparse[:, :, top:top + rows + 2], kernels, groups=3)[0]
    return rgb


def _downscale(img: torch.Tensor, height: int, width: int, method: str) -> torch.Tensor:
    if img.shape[-2:] == (height, width):
        return img
    if method == "area":  # each output pixel averages the input pixels it covers
        return F.interpolate(img[None], size=(height, width), mode="area")[0]
    return F.interpolate(img[None], size=(height, width), mode="bilinear",
                         align_corners=False)[0]


def _gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a 3 x H x W image."""
    if sigma <= 0:
        return img
    radius = max(1, int(math.ceil(2.5 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    x = F.pad(img[None], (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)[0]


def _sharpen(img: torch.Tensor, amount: float, sigma: float) -> torch.Tensor:
    """Unsharp masking as phone pipelines do: it makes the halos seen in real footage."""
    if amount <= 0:
        return img
    return img + amount * (img - _gaussian_blur(img, sigma))


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """3 x H x W float in [0, 1] to H x W x 3 uint8."""
    return (img.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality, subsampling=2)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def h264_roundtrip(img: np.ndarray, crf: int) -> np.ndarray:
    """``img`` through libx264 (4:2:0, one intra frame at ``crf``) and back, as a video
    frame carries it. Odd sizes are padded by edge copy to the even size 4:2:0 needs."""
    h, w = img.shape[:2]
    padded = np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    buf = io.BytesIO()
    with av.open(buf, "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=30, options={"crf": str(crf),
                                                             "preset": "veryfast"})
        stream.width, stream.height = padded.shape[1], padded.shape[0]
        stream.pix_fmt = "yuv420p"
        out.mux(stream.encode(av.VideoFrame.from_ndarray(padded, format="rgb24")))
        out.mux(stream.encode(None))
    buf.seek(0)
    with av.open(buf, "r", format="h264") as inp:
        frame = next(inp.decode(video=0)).to_ndarray(format="rgb24")
    return np.ascontiguousarray(frame[:h, :w])


def srgb_to_linear(content: np.ndarray) -> torch.Tensor:
    """uint8 H x W x 3 sRGB-ish content to 3 x H x W linear light (display gamma 2.2)."""
    return (torch.from_numpy(np.array(content)).permute(2, 0, 1).float()
            / 255.0) ** 2.2


def render_pair(content: np.ndarray, params: CameraParams, height: int, width: int,
                rng: np.random.Generator, compress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Film ``content`` (uint8 display pixels) with ``params``: (moiré frame, clean twin).

    ``compress=False`` leaves the moiré frame uncompressed (video clips are compressed by their
    encoder instead of JPEG).
    """
    shown, raw = _sensor_samples(srgb_to_linear(content), params, height, width)
    # The twin: the same samples of an ideal emitter on an ideal full-colour sensor. Sharing
    # the sampling (rather than an area-averaged "perfect" view) keeps out of the pair what no
    # model could learn from the moiré frame: content detail the sensor never saw.
    ideal = _downscale(shown, height, width, params.downscale)
    del shown  # sensor-sized frames go as soon as they are used: at 5x they are gigabytes
    sensor = _noise_and_demosaic(raw, params, rng).clamp_(min=0)
    del raw
    # Downscaled before the tone curve, as phones bin and scale raw (linear) data: averaging
    # resolved subpixel stripes after a concave tone curve would darken the frame instead.
    sensor = _downscale(sensor, height, width, params.downscale)
    sensor = _metered(sensor * _shading(params, height, width), ideal, params)
    moire = _phone_look(_tone(sensor, params), params)
    clean = _phone_look(_tone(ideal, params), params)
    if compress and params.jpeg_quality is not None:
        moire = jpeg_roundtrip(moire, params.jpeg_quality)
    elif compress and params.h264_crf is not None:
        moire = h264_roundtrip(moire, params.h264_crf)
    return moire, clean


def _sensor_samples(content_lin: torch.Tensor, params: CameraParams, height: int, width: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """(the screen's light at each sensor pixel, 3 x H x W; the sensor's raw mosaic of that
    light through the subpixel mask and the colour filter, H x W).

    One sample per sensor pixel (its integration over the pixel is in the mask's harmonics),
    computed a strip of rows at a time: the geometry, the lookup and the mask's Fourier
    series hold some 80 bytes per sensor pixel while they work, of which the two frames kept
    take 16: 1.7 GB at once for the 23 million sensor pixels of a 1280x720 still at five
    times. Every sample depends on its own coordinates only, so the strips change no result.
    """
    ys, xs = _grid(height, width, params.sensor_scale)
    rows = max(1, SENSOR_STRIP_SAMPLES // ys.shape[1])
    shown = torch.empty(3, *ys.shape)
    raw = torch.empty(ys.shape)
    for top in range(0, ys.shape[0], rows):
        strip = slice(top, top + rows)
        u, v = _output_to_display(params, ys[strip], xs[strip], height, width,
                                  content_lin.shape[1:])
        shown[:, strip] = _sample_content(content_lin, u, v)
        masks = _bayer_masks(params, torch.arange(ys.shape[0])[strip], ys.shape[1])
        raw[strip] = (shown[:, strip] * _subpixel_mask(params, u, v) * masks).sum(0)
    return shown, raw


def _phone_look(img: torch.Tensor, params: CameraParams) -> np.ndarray:
    """Defocus and the phone's sharpening, shared by both frames of a pair.

    They are the camera's look, not moiré: a model that learnt to undo them would sharpen or
    soften every video it cleans, so the twin carries them too.
    """
    img = _gaussian_blur(img, params.defocus)
    return to_uint8(_sharpen(img, params.sharpen, params.sharpen_sigma))


def _metered(sensor: torch.Tensor, ideal: torch.Tensor, params: CameraParams,
             iterations: int = 6) -> torch.Tensor:
    """The sensor's linear light scaled per channel so that, exposed and clipped as the phone
    records it, its mean matches the ideal view's.

    The subpixel mask keeps each channel's mean, but the bezel, the layout's colour balance and
    clipped highlights do not: a phone's auto exposure and white balance take such level
    shifts out, so the pair differs by moiré, not by a global cast. They meter what the sensor
    records, clipped highlights included: metered before the clip, a bright page's moiré
    peaks, clipped afterwards, left the moiré frame up to 0.07 darker than its twin, a level
    error no camera makes (and which the network's exposure constraint, rightly, keeps).
    Mean clipped light grows with the gain and ever more slowly, so each step below
    (gain *= target / level) moves towards the solution from below without passing it.
    """
    exposure = _exposure_gains(params)
    target = (ideal * exposure).clamp(0, 1).mean((1, 2), keepdim=True)
    gains = ideal.mean((1, 2), keepdim=True) / sensor.mean((1, 2), keepdim=True).clamp(min=1e-4)
    for _ in range(iterations):
        level = (sensor * (gains * exposure)).clamp(0, 1).mean((1, 2), keepdim=True)
        gains = gains * target / level.clamp(min=1e-4)
    return sensor * gains.clamp(0.5, 2.0)
