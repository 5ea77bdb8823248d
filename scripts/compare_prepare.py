#!/usr/bin/python3
"""crmt data prepare against the official Python preprocessing, on the same videos.

Runs what the public code runs (CRMT's extract_video_frames.py: `ffmpeg -i clip -y -r 1 %06d.jpg`;
its extract_audio.py: torchaudio's Kaldi fbank of the 16 kHz mono wav `ffmpeg -ac 1 -ar 16000` writes;
its extract_rgb_of.py: OpenCV TV-L1 on cv2.VideoCapture frames; OGM-GE's video2frame for VGGSound /
CREMA-D) and compares the results with a folder crmt prepared from the same videos.

Needs Debian's python3-torchaudio, python3-opencv, python3-pil, python3-numpy and ffmpeg
(/usr/bin/python3). Usage:
  scripts/compare_prepare.py kinetics_sounds VIDEOS PREPARED [--clips N]
  scripts/compare_prepare.py ucf101 VIDEOS PREPARED [--clips N]
  scripts/compare_prepare.py vggsound VIDEOS PREPARED [--clips N]
Prints one JSON object of measured differences.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from official_preprocess import official_fbank, official_flows  # noqa: E402  (the official computations)


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def videos_by_stem(root):
    out = {}
    for path in glob.glob(os.path.join(root, "**", "*"), recursive=True):
        stem, ext = os.path.splitext(os.path.basename(path))
        if ext.lower() in (".mp4", ".avi", ".flv", ".mkv", ".webm"):
            out[stem] = path
    return out


def pixel_diff(a_path, b_path, mode="RGB"):
    a = np.asarray(Image.open(a_path).convert(mode), dtype=np.int16)
    b = np.asarray(Image.open(b_path).convert(mode), dtype=np.int16)
    if a.shape != b.shape:
        return None
    return float(np.abs(a - b).mean())


def ogm_frames(video):
    # OGM-GE's video2frame: the frames with count % int(fps) == 0, named by that count
    cap = cv2.VideoCapture(video)
    fps = int(cap.get(cv2.CAP_PROP_FPS))
    out, count = {}, 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if count % fps == 0:
            out[count] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        count += 1
    return out


def compare_ks(args, work):
    videos = videos_by_stem(args.videos)
    names = []
    for index, frames_dir, spec_dir in (("ks_train_overlap.txt", "train-frames-1fps/train", "train_spec"),
                                        ("ks_test_overlap.txt", "val-frames-1fps/test", "test_spec")):
        for line in open(os.path.join(args.prepared, index)):
            names.append((line.split()[0], frames_dir, spec_dir))
    result = {"clips": 0, "frame_count_equal": 0, "frame_mean_abs_diff": [], "fbank_max_abs_diff": []}
    for name, frames_dir, spec_dir in names[: args.clips]:
        video = videos.get(name) or next((v for s, v in sorted(videos.items()) if s.startswith(name + "_")), None)
        if video is None:
            continue
        result["clips"] += 1
        out = os.path.join(work, name)
        os.makedirs(out, exist_ok=True)
        ffmpeg("-i", video, "-r", "1", os.path.join(out, "%06d.jpg"))
        official = sorted(glob.glob(os.path.join(out, "*.jpg")))
        ours = sorted(glob.glob(os.path.join(args.prepared, frames_dir, name, "*.jpg")))
        result["frame_count_equal"] += len(official) == len(ours)
        for a, b in zip(official, ours):
            d = pixel_diff(a, b)
            if d is not None:
                result["frame_mean_abs_diff"].append(d)
        wav = os.path.join(out, "a.wav")
        ffmpeg("-i", video, "-ac", "1", "-ar", "16000", "-acodec", "pcm_s16le", wav)
        ref = official_fbank(wav)
        mine = np.load(os.path.join(args.prepared, spec_dir, name + ".npy"))
        result["fbank_max_abs_diff"].append(float(np.abs(ref - mine).max()))
    return result


def compare_ucf(args, work):
    videos = videos_by_stem(args.videos)
    result = {"clips": 0, "flow_count_equal": 0, "flow_mean_abs_diff": [], "flow_max_abs_diff": []}
    for name in sorted(os.listdir(os.path.join(args.prepared, "rgb")))[: args.clips]:
        result["clips"] += 1
        flows = list(official_flows(videos[name]))
        ours_u = sorted(glob.glob(os.path.join(args.prepared, "flow/u", name, "*.jpg")))
        ours_v = sorted(glob.glob(os.path.join(args.prepared, "flow/v", name, "*.jpg")))
        result["flow_count_equal"] += len(flows) == len(ours_u)
        for q, pu, pv in zip(flows, ours_u, ours_v):
            # the official script writes q through cv2.imwrite (JPEG 95); compare with that file
            for channel, path in ((0, pu), (1, pv)):
                ref_path = os.path.join(work, "ref.jpg")
                cv2.imwrite(ref_path, q[:, :, channel])
                a = cv2.imread(ref_path, cv2.IMREAD_GRAYSCALE).astype(np.int16)
                b = cv2.imread(path, cv2.IMREAD_GRAYSCALE).astype(np.int16)
                result["flow_mean_abs_diff"].append(float(np.abs(a - b).mean()))
                result["flow_max_abs_diff"].append(int(np.abs(a - b).max()))
    return result


def compare_ogm(args, work, frame_root):
    videos = videos_by_stem(args.videos)
    result = {"clips": 0, "frame_names_equal": 0, "frame_mean_abs_diff": []}
    dirs = sorted(glob.glob(os.path.join(args.prepared, frame_root)))[: args.clips]
    for d in dirs:
        name = os.path.basename(d)
        stem = name[:-4] if name.endswith(".mp4") else name
        video = videos.get(stem)
        if video is None and "_" in stem:  # VGGSound downloads: <id>_<start, 6 digits>
            ytid, start = stem.rsplit("_", 1)
            video = videos.get("{}_{:06d}".format(ytid, int(start))) if start.isdigit() else None
        if video is None:
            continue
        result["clips"] += 1
        ref = ogm_frames(video)
        ours = {int(os.path.splitext(f)[0]): os.path.join(d, f) for f in os.listdir(d)}
        result["frame_names_equal"] += sorted(ref) == sorted(ours)
        for k, rgb in ref.items():
            if k in ours:
                b = np.asarray(Image.open(ours[k]).convert("RGB"), dtype=np.int16)
                result["frame_mean_abs_diff"].append(float(np.abs(rgb.astype(np.int16) - b).mean()))
    return result


def summarize(result):
    for key, value in list(result.items()):
        if isinstance(value, list):
            result[key] = {"mean": float(np.mean(value)) if value else None,
                           "max": float(np.max(value)) if value else None, "n": len(value)}
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", choices=["kinetics_sounds", "ucf101", "vggsound", "cremad"])
    p.add_argument("videos")
    p.add_argument("prepared")
    p.add_argument("--clips", type=int, default=8)
    args = p.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as work:
        if args.dataset == "kinetics_sounds":
            result = compare_ks(args, work)
        elif args.dataset == "ucf101":
            result = compare_ucf(args, work)
        elif args.dataset == "vggsound":
            result = compare_ogm(args, work, "*-videos/*-set-img/Image-01-FPS/*")
        else:
            result = compare_ogm(args, work, "Image-01-FPS/*")
    print(json.dumps(summarize(result), indent=1))


if __name__ == "__main__":
    sys.exit(main())
