"""The newest tactile pressure map drawn into a camera frame: a small colour-mapped inset.

The camera process draws it into each frame it publishes (when the session records a
tactile stream), so the video shows what the array felt when the picture was taken. The
inset sits in the bottom-right corner: the pressure map (row 0 at the bottom, as in
`haptics sessions plot`: probe frame, y up) in an inferno-like colour map from 0 kPa to a
scale that is the frame's maximum rounded up to 1, 2 or 5 × 10ⁿ kPa, a colour bar beside
it, and that scale written above it ("12kPa" in a 3 × 5 pixel font scaled up: no font
files, no matplotlib in the camera process). Taxels that read NaN are grey.

Everything here is pure numpy on a caller's RGB array; nothing is allocated per frame
beyond a few small arrays (the inset is tens of pixels wide).
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np

from haptics.errors import ConfigError

# inferno (matplotlib) at 0, 1/4, 1/2, 3/4, 1, interpolated to a 256-entry table
_ANCHORS: Final = np.array(
    [(0, 0, 4), (87, 16, 110), (188, 55, 84), (249, 142, 9), (252, 255, 164)], dtype=float
)
COLOURS: Final = np.stack(
    [np.interp(np.linspace(0, 4, 256), np.arange(5), _ANCHORS[:, c]) for c in range(3)], axis=1
).astype(np.uint8)
_NAN_RGB: Final = (128, 128, 128)
_BACK_RGB: Final = (16, 16, 20)
_TEXT_RGB: Final = (240, 240, 240)

# 3 × 5 glyphs, one string of 15 bits (rows top to bottom) per character
_GLYPHS: Final = {
    "0": "111101101101111",
    "1": "010110010010111",
    "2": "111001111100111",
    "3": "111001111001111",
    "4": "101101111001001",
    "5": "111100111001111",
    "6": "111100111101111",
    "7": "111001001001001",
    "8": "111101111101111",
    "9": "111101111001111",
    ".": "000000000000010",
    "k": "100101110101101",
    "P": "111101111100100",
    "a": "000011101101011",
}


def scale_kpa(frame_kpa: np.ndarray[Any, Any]) -> float:
    """The top of the inset's colour scale: the frame's largest finite value rounded up to
    1, 2 or 5 × 10ⁿ kPa, at least 1 kPa (pure)."""
    finite = frame_kpa[np.isfinite(frame_kpa)]
    top = float(finite.max()) if finite.size else 0.0
    if top <= 1.0:
        return 1.0
    decade = 10.0 ** math.floor(math.log10(top))
    for step in (1.0, 2.0, 5.0, 10.0):
        if top <= step * decade * (1 + 1e-9):
            return step * decade
    return 10.0 * decade  # pragma: no cover - the loop always returns


def scale_label(scale: float) -> str:
    """'12kPa'-style text for a scale: no decimals from 1 kPa up."""
    return f"{scale:.0f}kPa" if scale >= 1.0 else f"{scale:.2g}kPa"


def _text(img: np.ndarray[Any, Any], text: str, x: int, y: int, px: int) -> None:
    """Write `text` with its top-left corner at (x, y), each font pixel px × px; clipped."""
    h, w = img.shape[:2]
    for ch in text:
        bits = _GLYPHS.get(ch)
        if bits is not None:
            for k, bit in enumerate(bits):
                if bit == "1":
                    r, c = divmod(k, 3)
                    y0, x0 = y + r * px, x + c * px
                    if 0 <= y0 <= h - px and 0 <= x0 <= w - px:
                        img[y0 : y0 + px, x0 : x0 + px] = _TEXT_RGB
        x += 4 * px


def draw_pressure_inset(
    img: np.ndarray[Any, Any], frame_kpa: np.ndarray[Any, Any], fraction: float = 0.3
) -> tuple[int, int, int, int]:
    """Draw the pressure map `frame_kpa` (rows × cols, kPa) into the RGB image `img`
    (height × width × 3 uint8, changed in place) as an inset in the bottom-right corner,
    about `fraction` of the image's shorter side; return its box (x0, y0, x1, y1), backing
    included.

    Raises ConfigError for an image that is not H × W × 3 uint8, a frame that is not 2-D,
    or an image too small to hold the inset (under 32 pixels a side).
    """
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ConfigError(f"an inset goes into an H×W×3 uint8 image, not {img.shape} {img.dtype}")
    frame = np.asarray(frame_kpa, dtype=np.float64)
    if frame.ndim != 2 or frame.size == 0:
        raise ConfigError(f"a pressure map is rows × cols, not of shape {frame.shape}")
    h, w = img.shape[:2]
    if min(h, w) < 32:
        raise ConfigError(f"a {w}×{h} image is too small for a pressure inset (32×32 at least)")
    rows, cols = frame.shape
    cell = max(1, round(min(h, w) * fraction / max(rows, cols)))
    px = max(1, min(h, w) // 120)  # font pixel: 2 at 240 lines
    map_h, map_w = rows * cell, cols * cell
    bar_w, gap, pad = max(2, cell), max(1, px), max(2, px)
    text_h = 5 * px
    box_w = pad + map_w + gap + bar_w + pad
    box_h = pad + text_h + gap + map_h + pad
    x0, y0 = max(0, w - box_w - pad), max(0, h - box_h - pad)
    x1, y1 = min(w, x0 + box_w), min(h, y0 + box_h)
    img[y0:y1, x0:x1] = _BACK_RGB
    top = scale_kpa(frame)
    level = np.clip(np.nan_to_num(frame, nan=0.0) / top, 0.0, 1.0)
    rgb = COLOURS[np.round(level * 255).astype(np.intp)]
    rgb[~np.isfinite(frame)] = _NAN_RGB
    rgb = rgb[::-1]  # row 0 (y = −h/2 on the probe) at the bottom
    big = np.repeat(np.repeat(rgb, cell, axis=0), cell, axis=1)
    mx, my = x0 + pad, y0 + pad + text_h + gap
    big = big[: max(0, h - my), : max(0, w - mx)]
    img[my : my + big.shape[0], mx : mx + big.shape[1]] = big
    bx = mx + map_w + gap
    ramp = COLOURS[np.linspace(255, 0, map_h).round().astype(np.intp)]
    bar = np.repeat(ramp[:, None, :], bar_w, axis=1)[: max(0, h - my), : max(0, w - bx)]
    img[my : my + bar.shape[0], bx : bx + bar.shape[1]] = bar
    _text(img, scale_label(top), mx, y0 + pad, px)
    return x0, y0, x1, y1
