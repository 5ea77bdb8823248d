#!/usr/bin/env python3
"""Tables of docs/fidelity.md from the records `crmt compare` and `crmt eval/certify --json` wrote.

usage: scripts/fidelity_tables.py compare RESULTS_JSON [--reference]   # the issue's seven columns
       scripts/fidelity_tables.py apgd DIR                               # PGD vs APGD, certificate check
"""
import glob
import json
import os
import statistics
import sys

# The official CRMT code on the same data and setting (issue 10), mean over seeds 0-2.
OFFICIAL = {"clean": 85.0, "fgm all": 62.8, "pgd all": 60.0, "pgd audio": 40.0, "pgd visual": 67.2,
            "audio missing": 62.5, "visual missing": 20.2}
COLUMNS = [("clean", "none", "all", None), ("fgm all", "fgm", "all", 0.5), ("pgd all", "pgd", "all", 0.5),
           ("pgd audio", "pgd", "audio", 1.0), ("pgd visual", "pgd", "visual", 1.0),
           ("audio missing", "missing", "audio", None), ("visual missing", "missing", "visual", None)]


def mean_std(values):
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def find(evaluations, attack, modality, strength):
    for e in evaluations:
        if e["attack"] == attack and e["modality"] == modality and (strength is None or abs(e["strength"] - strength) < 1e-9):
            return 100 * e["accuracy"]
    return None


def compare_table(path, reference):
    runs = {}
    for record in json.load(open(path)):
        runs.setdefault(record["name"], []).append(record)
    header = ["config", "seeds"] + [c[0] for c in COLUMNS] + ["eta audio / visual"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, records in runs.items():
        cells = [name, ",".join(str(r["seed"]) for r in records)]
        means = {}
        for label, attack, modality, strength in COLUMNS:
            values = [find(r["evaluations"], attack, modality, strength) for r in records]
            values = [v for v in values if v is not None]
            means[label] = statistics.mean(values) if values else None
            cells.append(mean_std(values) if values else "")
        ratios = []
        for r in records:
            c = r["certificate"]
            eta = dict(zip(c["modalities"], c["mean_eta"]))
            if eta.get("visual"):
                ratios.append(eta["audio"] / eta["visual"])
        cells.append(mean_std(ratios) if ratios else "")
        print("| " + " | ".join(cells) + " |")
        if reference and name.endswith("official"):
            deltas = [f"{means[c[0]] - OFFICIAL[c[0]]:+.2f}" for c in COLUMNS]
            print("| official code (issue 10) | 0,1,2 | " + " | ".join(f"{OFFICIAL[c[0]]:.1f}" for c in COLUMNS) + " | |")
            print(f"| difference ({name} - official) | | " + " | ".join(deltas) + " | |")


def apgd_table(directory):
    by_method = {}
    for path in sorted(glob.glob(os.path.join(directory, "*_s[0-9].json"))):
        name, seed = os.path.basename(path)[:-5].rsplit("_s", 1)
        try:
            results = json.load(open(path))["runs"][0]["results"]
        except (ValueError, KeyError, IndexError):  # a run still writing, or one that failed
            continue
        by_method.setdefault(name, {})[int(seed)] = results
    cols = [("clean", "none", "all"), ("pgd all", "pgd", "all"), ("apgd all", "apgd", "all"),
            ("pgd audio", "pgd", "audio"), ("apgd audio", "apgd", "audio"),
            ("pgd visual", "pgd", "visual"), ("apgd visual", "apgd", "visual")]
    print("| method | seeds | " + " | ".join(c[0] for c in cols) + " | broken / certified (guaranteed constants) |")
    print("|" + "---|" * (len(cols) + 3))
    for name, seeds in by_method.items():
        cells = [name, ",".join(str(s) for s in sorted(seeds))]
        for label, attack, modality in cols:
            values = [100 * r["accuracy"] for res in seeds.values() for r in res
                      if r["attack"] == attack and r["modality"] == modality]
            cells.append(mean_std(values) if values else "")
        parts = []
        for s in seeds:
            cert_path = os.path.join(directory, f"{name}_s{s}_cert.json")
            try:
                check = json.load(open(cert_path))["apgd_check"]
            except (OSError, ValueError, KeyError):  # not run, still writing, or failed
                continue
            parts += [f"r={r['radius']:g}: {r['broken']}/{r['certified']}" for r in check["rows"] if r["certified"]]
        cells.append("; ".join(parts))
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "compare":
        compare_table(sys.argv[2], "--reference" in sys.argv)
    elif len(sys.argv) == 3 and sys.argv[1] == "apgd":
        apgd_table(sys.argv[2])
    else:
        sys.exit(__doc__)
