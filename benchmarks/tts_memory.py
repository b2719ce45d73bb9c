"""Peak memory and time of text-to-speech as the text grows: each (engine, text kind, size) in a fresh process.

Usage: python benchmarks/tts_memory.py [--sizes 200 2000 5000] [--kinds prose numeric] [--engines piper espeak-ng]
                                       [--limit-gb 4]
Each measurement runs one expert call in a child process under an address-space limit (RLIMIT_AS, a safety net:
a synthesizer whose memory grows with the text dies instead of the machine). The child reports its resident set
after loading the model and its peak (getrusage RUSAGE_SELF; espeak-ng's processes via RUSAGE_CHILDREN, which also
counts the interpreter forked before exec), the synthesis wall and CPU time (CPU time of the Python process: compare
it, not wall time, on a shared machine) and the audio duration. Prints a table and writes
benchmarks/results/tts_memory.json.

Text kinds: ``prose`` (sentences with full stops), ``nostop`` (the same prose without punctuation: one endless
sentence), ``numeric`` (seven-digit numbers separated by spaces, which espeak-ng reads as "one million two hundred
thirty-four thousand ...": about 11 phonemes per digit) and ``mixed`` (prose with numbers and symbols).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINES = {"piper": "PiperTTS", "espeak-ng": "EspeakTTS"}
PROSE = ("The committee met on a grey morning to review the plans for the new library. "
         "Everyone agreed that the reading rooms should face the river, where the light is softer in the afternoon. "
         "A few members worried about the cost of the glass roof, and asked for a cheaper design with fewer panels. "
         "The architect answered that the roof would pay for itself in ten years through lower heating bills. "
         "After a long discussion, the vote was postponed until the engineers could check the numbers again. ")
MIXED = ("Invoice 2024-117 lists 3 items: 12 chairs at $45.50 each, 4 desks at $310 and 1 lamp, 15% off. "
         "Call 555 0199 before 5:30 pm; the order ships from warehouse 7 in about 2 weeks. ")

CHILD = r"""
import json, resource, sys, time
from hugginggpt.experts.embedded import audio

def rss_mb():
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1]) / 1024

expert = getattr(audio, sys.argv[1])()
expert.load()
loaded = rss_mb()
text = sys.stdin.read()
def cpu():
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime
t0, c0 = time.perf_counter(), cpu()
result = expert.run({"text": text})
secs, cpu_s = time.perf_counter() - t0, cpu() - c0
wav = result.outputs[0].data
print(json.dumps({"loaded_mb": loaded, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "children_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                  "synth_s": secs, "cpu_s": cpu_s, "audio_s": result.data["duration"], "wav_mb": len(wav) / 2**20,
                  "riff": wav[:4].decode("latin-1")}))
"""


def make_text(kind: str, n: int) -> str:
    """``n`` characters of the given kind (deterministic)."""
    if kind == "prose":
        base = PROSE
    elif kind == "nostop":
        base = re.sub(r"[.,]", "", PROSE)
    elif kind == "numeric":
        base = " ".join(f"{(1234567 + 7654321 * i) % 10_000_000:07d}" for i in range(800)) + " "
    elif kind == "mixed":
        base = PROSE + MIXED
    else:
        raise ValueError(f"unknown text kind {kind!r}")
    return (base * (n // len(base) + 1))[:n].strip()


def measure(engine: str, kind: str, n: int, limit_gb: float, timeout: float = 1800) -> dict[str, object]:
    """One synthesis in a fresh, address-space-limited process; the child's own figures plus the outcome."""
    limit = int(limit_gb * 2**30)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    row: dict[str, object] = {"engine": engine, "kind": kind, "chars": n}
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, ENGINES[engine]], input=make_text(kind, n), text=True,
                              capture_output=True, preexec_fn=cap, env=env, cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {**row, "error": f"timeout after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {**row, "error": f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}"}
    return {**row, **json.loads(proc.stdout.strip().splitlines()[-1])}


def _line(row: dict[str, object]) -> str:
    """One table row; peak and +MB are the Python process (the synthesizer, for piper); child MB is the largest
    espeak-ng process."""
    r = row
    loaded, peak = float(r["loaded_mb"]), float(r["peak_mb"])  # type: ignore[arg-type]
    return (f"{r['engine']:<10}{r['kind']:<9}{r['chars']:>6}{loaded:>11.0f}{peak:>9.0f}{peak - loaded:>7.0f}"
            f"{r['children_peak_mb']:>10.0f}{r['synth_s']:>9.1f}"
            f"{r['cpu_s']:>8.1f}{r['audio_s']:>9.1f}{r['wav_mb']:>8.1f}")


def available(engine: str) -> bool:
    code = ("from hugginggpt.experts.embedded import audio; "
            f"raise SystemExit(not audio.{ENGINES[engine]}.availability()[0])")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2000, 5000])
    parser.add_argument("--kinds", nargs="+", default=["prose", "numeric"],
                        choices=["prose", "nostop", "numeric", "mixed"])
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=list(ENGINES))
    parser.add_argument("--limit-gb", type=float, default=4.0, help="address-space limit of each child")
    args = parser.parse_args()
    rows = []
    header = (f"{'engine':<10}{'kind':<9}{'chars':>6}{'loaded MB':>11}{'peak MB':>9}{'+MB':>7}{'child MB':>10}"
              f"{'synth s':>9}{'audio s':>9}{'WAV MB':>8}")
    print(header)
    for engine in args.engines:
        if not available(engine):
            print(f"{engine:<10}(not available here: skipped)")
            continue
        for kind in args.kinds:
            for n in args.sizes:
                row = measure(engine, kind, n, args.limit_gb)
                rows.append(row)
                if "error" in row:
                    print(f"{engine:<10}{kind:<9}{n:>6}  FAILED {row['error']}", flush=True)
                    continue
                print(_line(row), flush=True)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "tts_memory.json").write_text(json.dumps({"limit_gb": args.limit_gb, "rows": rows}, indent=1))
    sys.exit(1 if any("error" in r for r in rows) else 0)


if __name__ == "__main__":
    main()
