#!/usr/bin/python3
"""The official scripts' approach to preprocessing, timed: a process per clip and per step.

Kinetics-Sounds (CRMT pre-processing/extract_video_frames.py + extract_audio.py): `ffmpeg -i clip
-y -r 1 <dir>/%06d.jpg`, `ffmpeg -i clip -ac 1 -ar 16000 clip.wav`, then torchaudio's Kaldi fbank
of the wav saved as .npy. UCF101 flow (extract_rgb_of.py): OpenCV TV-L1 on every consecutive pair of
gray frames, quantised, u and v written with cv2.imwrite. Clips are spread over --workers processes
as the scripts' multiprocessing pools do. Prints clips per second.
Usage: official_preprocess.py ks|flow VIDEOS OUT --workers N
"""
import argparse
import glob
import multiprocessing
import os
import subprocess
import sys
import time


def ks_clip(job):
    video, out = job
    import numpy as np
    import torch
    torch.set_num_threads(1)
    name = os.path.splitext(os.path.basename(video))[0]
    frames = os.path.join(out, "frames", name)
    os.makedirs(frames, exist_ok=True)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", video, "-y", "-r", "1",
                    os.path.join(frames, "%06d.jpg")], check=True)
    wav = os.path.join(out, "wav", name + ".wav")
    os.makedirs(os.path.dirname(wav), exist_ok=True)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", video, "-ac", "1", "-ar", "16000",
                    "-acodec", "pcm_s16le", wav], check=True)
    os.makedirs(os.path.join(out, "spec"), exist_ok=True)
    np.save(os.path.join(out, "spec", name + ".npy"), official_fbank(wav))


def official_fbank(wav):
    """CRMT's pre-processing/extract_audio.py: the same call and constants, as a float32 [1024, 128] array."""
    import torch
    import torchaudio
    waveform, sr = torchaudio.load(wav)
    waveform = waveform - waveform.mean()
    fbank = torchaudio.compliance.kaldi.fbank(waveform, htk_compat=True, sample_frequency=sr, use_energy=False,
                                              window_type="hanning", num_mel_bins=128, dither=0.0, frame_shift=10)
    p = 1024 - fbank.shape[0]
    fbank = torch.nn.ZeroPad2d((0, 0, 0, p))(fbank) if p > 0 else fbank[0:1024, :]
    return ((fbank - (-4.503877)) / (5.141276 * 2)).numpy()


def official_flows(video):
    """CRMT's pre-processing/extract_rgb_of.py: TV-L1 (DualTVL1 defaults) on every consecutive pair of
    gray frames, bound 15, quantised to uint8 [H, W, 2] (u, v), one per pair."""
    import cv2
    import numpy as np
    cap = cv2.VideoCapture(video)
    ok, prev = cap.read()
    prev = cv2.cvtColor(prev, cv2.COLOR_BGR2GRAY)
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        flow = cv2.optflow.DualTVL1OpticalFlow_create().calc(prev, gray, None)
        yield np.clip(np.round((flow + 15) * (255.0 / 30)).astype(int), 0, 255).astype(np.uint8)
        prev = gray


def flow_clip(job):
    video, out = job
    import cv2
    cv2.setNumThreads(1)
    name = os.path.splitext(os.path.basename(video))[0]
    for d in ("u", "v"):
        os.makedirs(os.path.join(out, name + "_" + d), exist_ok=True)
    for k, q in enumerate(official_flows(video)):
        cv2.imwrite(os.path.join(out, name + "_u", "{:06d}.jpg".format(k)), q[:, :, 0])
        cv2.imwrite(os.path.join(out, name + "_v", "{:06d}.jpg".format(k)), q[:, :, 1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=["ks", "flow"])
    p.add_argument("videos")
    p.add_argument("out")
    p.add_argument("--workers", type=int, default=1)
    a = p.parse_args()
    ext = "*.mp4" if a.task == "ks" else "*.avi"
    videos = sorted(glob.glob(os.path.join(a.videos, "**", ext), recursive=True))
    jobs = [(v, a.out) for v in videos]
    start = time.time()
    with multiprocessing.Pool(a.workers) as pool:
        pool.map(ks_clip if a.task == "ks" else flow_clip, jobs, chunksize=1)
    seconds = time.time() - start
    print("official {} workers={} clips={} seconds={:.2f} clips/s {:.2f}".format(a.task, a.workers, len(jobs), seconds,
                                                                             len(jobs) / seconds))


if __name__ == "__main__":
    sys.exit(main())
