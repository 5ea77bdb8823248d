#!/usr/bin/python3
"""Writes the torchaudio reference for crmt::kaldi_fbank / ks_audio_feature
(Spectrogram.MatchesTorchaudioFixture in tests/data/spectrogram_test.cpp).

Needs torch and torchaudio 0.13 (Debian: python3-torch, python3-torchaudio; only
torchaudio.compliance.kaldi is used, so extracting the package and putting a stub torchaudio/__init__.py
beside its compliance/ folder on PYTHONPATH is enough).

Usage: /usr/bin/python3 scripts/make_fbank_fixture.py [out_dir]   (default tests/data/fixtures)
Files (float32 .npy): fbank_input.npy (3200 samples at 16 kHz: a chirp, a tone and noise),
fbank_ref.npy (the official CRMT Kinetics-Sounds fbank call), ks_feature_ref_32.npy and
ks_feature_ref_8.npy (the official script's padding / cutting and normalisation to 32 and 8 frames).
"""
import os
import sys

import numpy as np
import torch
import torchaudio.compliance.kaldi as kaldi

SR = 16000


def make_input():
    rng = np.random.RandomState(7)
    t = np.arange(3200) / SR
    chirp = 0.4 * np.sin(2 * np.pi * (200 * t + 0.5 * 20000 * t * t))  # 200 Hz -> 4.2 kHz
    tone = 0.2 * np.sin(2 * np.pi * 3000 * t)
    x = chirp + tone + 0.05 * rng.randn(t.size) + 0.03  # a DC offset too
    return x.astype(np.float32)


def fbank(waveform):
    # As in the official CRMT / OGM-GE Kinetics-Sounds dataset code.
    return kaldi.fbank(waveform, htk_compat=True, sample_frequency=SR, use_energy=False,
                       window_type="hanning", num_mel_bins=128, dither=0.0, frame_shift=10)


def ks_feature(x, target_length):
    waveform = torch.from_numpy(x).unsqueeze(0)
    waveform = waveform - waveform.mean()
    f = fbank(waveform)
    p = target_length - f.shape[0]
    if p > 0:
        f = torch.nn.ZeroPad2d((0, 0, 0, p))(f)
    elif p < 0:
        f = f[0:target_length, :]
    return (f - (-4.503877)) / (5.141276 * 2)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/data/fixtures"
    os.makedirs(out_dir, exist_ok=True)
    x = make_input()
    np.save(os.path.join(out_dir, "fbank_input.npy"), x)
    ref = fbank(torch.from_numpy(x).unsqueeze(0)).numpy().astype(np.float32)
    np.save(os.path.join(out_dir, "fbank_ref.npy"), ref)
    for n in (32, 8):
        np.save(os.path.join(out_dir, f"ks_feature_ref_{n}.npy"), ks_feature(x, n).numpy().astype(np.float32))
    print("fbank", ref.shape)


if __name__ == "__main__":
    main()
