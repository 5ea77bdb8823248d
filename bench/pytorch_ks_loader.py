#!/usr/bin/env python3
"""The official CRMT Kinetics-Sounds loader's work, written with PyTorch's DataLoader, for comparing
clips per second with crmt's loader on the same files and worker count (bench/loader_vs_pytorch.sh).

Per clip, as datasets/KS_dataset.py of the official code in training mode: np.load of the
[1024, 128] spectrogram, 3 frames picked one per third of the clip, each opened with PIL,
RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor + ImageNet Normalize. torchvision is not
in Debian, so its RandomResizedCrop.get_params and ToTensor/Normalize are written out here with the
same arithmetic (PIL crop + resize BILINEAR, /255, (x - mean) / std).

Usage: pytorch_ks_loader.py ROOT WORKERS [BATCH] [EPOCHS]
"""
import math
import os
import random
import sys
import time

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)


def random_resized_crop_params(width, height, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * random.uniform(*scale)
        aspect = math.exp(random.uniform(*log_ratio))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return random.randint(0, height - h), random.randint(0, width - w), h, w
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        h, w = height, int(round(height * ratio[1]))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def train_frame(path):
    image = Image.open(path).convert("RGB")
    top, left, h, w = random_resized_crop_params(*image.size)
    image = image.crop((left, top, left + w, top + h)).resize((224, 224), Image.BILINEAR)
    if random.random() < 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    x = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return torch.from_numpy((x - MEAN) / STD)


class KineticsSounds(Dataset):
    def __init__(self, root):
        self.root = root
        self.items = []
        with open(os.path.join(root, "ks_train_overlap.txt")) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2:
                    self.items.append((parts[0], int(parts[-1])))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        name, label = self.items[i]
        spec = np.load(os.path.join(self.root, "train_spec", name + ".npy"))
        frames_dir = os.path.join(self.root, "train-frames-1fps", "train", name)
        n = len([f for f in os.listdir(frames_dir) if f.endswith(".jpg")])
        seg = n // 3
        frames = []
        for k in range(3):
            t = min(random.randint(k * seg + 1, k * seg + seg), 9) if n > 6 else 1
            frames.append(train_frame(os.path.join(frames_dir, "frame_{:05d}.jpg".format(t))))
        return torch.stack(frames), torch.from_numpy(np.expand_dims(spec, 0)), label


def main():
    root, workers = sys.argv[1], int(sys.argv[2])
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    epochs = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    torch.set_num_threads(1)
    data = KineticsSounds(root)
    loader = DataLoader(data, batch_size=batch, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0)
    best = 0.0
    for _ in range(epochs):
        start, clips = time.perf_counter(), 0
        for visual, audio, labels in loader:
            clips += labels.numel()
        best = max(best, clips / (time.perf_counter() - start))
    print("pytorch DataLoader workers={} clips/s {:.1f}".format(workers, best))


if __name__ == "__main__":
    main()
