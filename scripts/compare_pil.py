#!/usr/bin/python3
"""Writes the Pillow reference fixtures that tests/data/image_ops_test.cpp compares
crmt::resize_bilinear / resized_crop against (ImageOps.MatchesPillowFixture).

Usage: /usr/bin/python3 scripts/compare_pil.py [out_dir]   (default tests/data/fixtures)

Every file is a uint8 .npy: pil_resize_input.npy (61x83x3), then one output per case, named
pil_resize_<h>x<w>.npy (whole image), pil_resize_gray_<h>x<w>.npy (channel 0 as an 'L' image) and
pil_crop_<top>_<left>_<ch>x<cw>_<h>x<w>.npy (img.crop(...).resize(...), as torchvision's
resized_crop). The C++ test prints the mean / max absolute difference it measures.
"""
import os
import sys

import numpy as np
from PIL import Image

H, W = 61, 83
SIZES = [(29, 40), (17, 23), (88, 120), (61, 40), (80, 50)]  # 2x-ish, 3.6x, upscale, one axis, mixed
GRAY_SIZES = [(30, 41)]
CROPS = [((5, 7, 40, 50), (33, 33)), ((0, 20, 61, 63), (24, 24))]  # (top, left, h, w), (out_h, out_w)


def make_input():
    rng = np.random.RandomState(1234)
    y, x = np.mgrid[0:H, 0:W]
    img = np.empty((H, W, 3), np.float64)
    img[..., 0] = 255.0 * x / (W - 1)                              # horizontal gradient
    img[..., 1] = 127.5 + 127.5 * np.sin(0.35 * y) * np.cos(0.2 * x)  # smooth waves
    img[..., 2] = rng.randint(0, 256, size=(H, W))                  # noise: stresses antialiasing
    img[20:30, 30:45, :] = 255.0                                    # a sharp-edged block
    img[40:44, :, 1] = 0.0
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def cases(src):
    rgb = Image.fromarray(src, "RGB")
    gray = Image.fromarray(np.ascontiguousarray(src[..., 0]), "L")
    for h, w in SIZES:
        yield f"pil_resize_{h}x{w}.npy", np.asarray(rgb.resize((w, h), Image.BILINEAR))
    for h, w in GRAY_SIZES:
        yield f"pil_resize_gray_{h}x{w}.npy", np.asarray(gray.resize((w, h), Image.BILINEAR))
    for (top, left, ch, cw), (h, w) in CROPS:
        out = rgb.crop((left, top, left + cw, top + ch)).resize((w, h), Image.BILINEAR)
        yield f"pil_crop_{top}_{left}_{ch}x{cw}_{h}x{w}.npy", np.asarray(out)


def main():
    args = sys.argv[1:]
    out_dir = args[0] if args else "tests/data/fixtures"
    os.makedirs(out_dir, exist_ok=True)
    src = make_input()
    np.save(os.path.join(out_dir, "pil_resize_input.npy"), src)
    for name, arr in cases(src):
        np.save(os.path.join(out_dir, name), np.ascontiguousarray(arr))
        print(name, arr.shape)


if __name__ == "__main__":
    main()
