"""Train the offline planner's learned tool detector and measure it with cross-validation.

    .venv/bin/python scripts/train_offline_planner.py                   # retrain multimedia and product (data/*.npz)
    .venv/bin/python scripts/train_offline_planner.py --cv 5 --no-save  # 5-fold CV numbers only
    .venv/bin/python scripts/train_offline_planner.py --domains product # the product model only

Domains: ``huggingface`` and ``multimedia`` (TaskBench's tool lists, trained on ``<data>/<domain>_dev.jsonl``) and
``product`` (our registry's tasks, trained on both dev files under our task names plus ``data/requests.yaml`` and
``data/phrases.yaml``). The recipe is ``hugginggpt.eval.training``; ``--encoder DIR`` measures it over
another sentence-transformers encoder (nothing is saved then: the planner embeds with MiniLM).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hugginggpt.eval import training as tr
from hugginggpt.planning.offline.features import load_embedder
from hugginggpt.planning.offline.learned import load_phrases
from hugginggpt.planning.offline.learned_path import registry_phrases

OUT = Path(__file__).resolve().parents[1] / "src/hugginggpt/planning/offline/data"
DOMAINS = ("huggingface", "multimedia", "product")
# What a plain run retrains. The shipped huggingface.npz is the model trained on 2026-12-01 (on the rules of then):
# retrained on today's rules, with or without its companion, it scored below the TaskBench test floor of issue H
# while the 12-01 model did not (docs/evaluation.md), so it is kept and retrained only when asked for
# (``--domains huggingface``).
RETRAINED = ("multimedia", "product")
# Chosen by 5-fold CV on dev (0.2 / 0.25 / 0.3 / 0.4 tried): the held-out folds reward recall.
THRESHOLDS = {"huggingface": 0.25, "multimedia": 0.25, "product": 0.4}
# The product model (scikit-learn's pair model): inverse L2 strength; 3 and 10 tried on the wording dev set.
C = {"huggingface": 3.0, "multimedia": 1.0, "product": 3.0}
# The TaskBench models (the clause-pooled model): L2 weight, chosen by 5-fold CV on dev (1e-3 / 1e-2 tried).
L2 = {"huggingface": 1e-3, "multimedia": 1e-2}
# The pair model's share of each tool's probability in the TaskBench models (recipe "blend"), chosen by 5-fold CV on
# dev (0, 0.3 and 0.5 tried, at thresholds 0.2-0.3); shipped for multimedia.
BLEND = {"huggingface": 0.3, "multimedia": 0.3}


def taskbench_set(data_dir: Path, domain: str, embed, cache: Path | None):
    """A TaskBench domain's training set (its own tool names) and tool list."""
    from hugginggpt.eval.tools import bind_tools

    tools, samples, examples = tr.taskbench_examples(data_dir, domain)
    sigs = tr.tool_sigs(tools)
    binding = bind_tools(tools)
    texts = [ex.text for ex in examples]
    rules = tr.rule_tools(texts, binding.registry, sigs, binding.tool_name)
    read = tr.read_all(texts, embed, cache)
    return tr.TrainingSet.build(examples, sigs, embed, rules, load_phrases(), read), (tools, samples)


def product_set(data_dir: Path, embed, cache: Path | None):
    """The product model's training set over our registry, and the registry's merged phrasings."""
    from hugginggpt.tasks import default_registry

    registry = default_registry()
    phrases = registry_phrases(registry, load_phrases())
    examples = tr.product_examples(data_dir, registry, load_phrases())
    sigs = tr.registry_sigs(registry)
    texts = [ex.text for ex in examples]
    rules = tr.rule_tools(texts, registry, sigs)
    read = tr.read_all(texts, embed, cache)
    return tr.TrainingSet.build(examples, sigs, embed, rules, phrases, read), phrases


def taskbench_score(data: tr.TrainingSet, planned, tools, samples) -> dict[str, Any]:
    """TaskBench's strict metrics of ``planned`` (TaskBench-style nodes) against the samples' gold plans."""
    from hugginggpt.eval.data import Node
    from hugginggpt.eval.metrics import TaskBenchScorer

    scorer = TaskBenchScorer(tools)
    for sample, nodes in zip(samples, planned, strict=True):
        scorer.add(sample, [Node(t, a) for t, a in nodes])
    out = scorer.result("strict")
    out["confusions"] = tr.confusions([set(ex.tools) for ex in data.examples], [{t for t, _ in n} for n in planned])
    return out


def product_scores(data: tr.TrainingSet, planned, threshold: float) -> dict[str, Any]:
    """Node scores of our own requests' held-out plans: the rules alone, the learned detector alone, and the
    product's combination (the rules' tasks plus the learned ones above ``threshold``)."""
    rows = [i for i, p in enumerate(planned) if p is not None]
    gold = [set(data.examples[i].tools) for i in rows]
    names = [s.name for s in data.sigs]
    rules = [{names[k] for k, v in enumerate(data.rules[i]) if v} for i in rows]
    learned = [{t for t, _ in planned[i]} for i in rows]
    return {"rules": tr.node_scores(gold, rules), "learned": tr.node_scores(gold, learned),
            "rules+learned": tr.node_scores(gold, [r | s for r, s in zip(rules, learned, strict=True)]),
            "confusions": tr.confusions(gold, learned), "threshold": threshold}


def make_fitter(args: argparse.Namespace, domain: str, threshold: float, c: float):
    """The training recipe for ``domain`` as a function of a training set (see ``--recipe``)."""
    if domain == "product" or args.recipe == "pairs":
        combine = "add" if domain == "product" else "replace"
        return lambda d: tr.fit(d, domain, c=c, threshold=threshold, combine=combine)
    l2 = args.l2 or L2[domain]
    if args.recipe == "blend":
        blend = BLEND[domain] if args.blend is None else args.blend
        return lambda d: tr.fit_blended(d, domain, blend=blend, l2=l2, threshold=threshold, c=c,
                                        max_iter=args.max_iter)
    return lambda d: tr.fit_pooled(d, domain, l2=l2, threshold=threshold, optimizer=args.optimizer,
                                   max_iter=args.max_iter)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/taskbench"))
    ap.add_argument("--domains", nargs="*", default=list(RETRAINED), choices=DOMAINS)
    ap.add_argument("--cv", type=int, default=0)
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--threshold", type=float, help="probability a tool must reach (default: per domain, by CV)")
    ap.add_argument("--c", type=float, help="the pair model's inverse L2 strength (default: per domain)")
    ap.add_argument("--l2", type=float, help="the clause-pooled model's L2 weight (default: per domain, by CV)")
    ap.add_argument("--max-iter", type=int, default=400, help="optimizer steps of the clause-pooled model")
    ap.add_argument("--optimizer", choices=("adam", "lbfgs"), default="adam",
                    help="the clause-pooled model's optimizer (adam ships; lbfgs to compare)")
    ap.add_argument("--recipe", choices=("blend", "pooled", "pairs"), default="blend",
                    help="TaskBench domains: the clause-pooled model with the pair model as companion (shipped), "
                         "either one alone")
    ap.add_argument("--blend", type=float, help="the companion's share in recipe blend (default: per domain)")
    ap.add_argument("--out", type=Path, default=OUT, help="folder to write <domain>.npz to (default: the package's)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--cache", type=Path, help="folder for cached request features (speeds up repeated runs)")
    ap.add_argument("--encoder", type=Path, help="a sentence-transformers model folder to use instead of MiniLM "
                    "(to compare encoders; implies --no-save, since the planner embeds with MiniLM)")
    args = ap.parse_args(argv)
    embed = tr.sentence_encoder(args.encoder) if args.encoder else load_embedder()
    if embed is None:
        print("the MiniLM embedder is needed for training", file=sys.stderr)
        return 1
    report: dict[str, Any] = {}
    for domain in args.domains:
        tag = f"_{args.encoder.name}" if args.encoder else ""
        cache = args.cache and args.cache / f"{domain}{tag}_read.pkl"
        threshold = args.threshold or THRESHOLDS[domain]
        c = args.c or C[domain]
        phrases = None
        if domain == "product":
            data, phrases = product_set(args.data, embed, cache)
        else:
            data, (tools, samples) = taskbench_set(args.data, domain, embed, cache)
        report[domain] = {}
        fitter = make_fitter(args, domain, threshold, c)
        if args.cv:
            held = (lambda ex: not ex.phrase) if domain == "product" else (lambda ex: True)
            planned, secs = tr.cross_validate(data, args.cv, fitter, embed=embed, phrases=phrases, held=held)
            if domain == "product":
                res = product_scores(data, planned, threshold)
            else:
                res = taskbench_score(data, planned, tools, samples)
            res["seconds_median"] = tr.median(secs)
            report[domain]["cv"] = res
            print_row(domain, f"cv{args.cv}", res)
        model = fitter(data)
        if not args.no_save and not args.encoder:
            args.out.mkdir(parents=True, exist_ok=True)
            model.save(args.out / f"{domain}.npz")
            companion = args.out / f"{domain}.companion.npz"
            if model.companion is not None:
                model.companion.save(companion)
            else:
                companion.unlink(missing_ok=True)
            print(f"wrote {args.out / f'{domain}.npz'} ({len(data.examples)} training requests)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


def print_row(domain: str, kind: str, r: dict[str, Any]) -> None:
    if "n_f1" in r:
        print(f"{domain:12s} {kind:6s} n-F1 {100*r['n_f1']:5.1f} e-F1 {100*r['e_f1']:5.1f} t-F1 {100*r['t_f1']:5.1f} "
              f"v-F1 {100*r['v_f1']:5.1f} NED {r['ned']:.3f} median {r['seconds_median']*1000:.1f} ms")
    else:
        for k in ("rules", "learned", "rules+learned"):
            s = r[k]
            print(f"{domain:12s} {kind:6s} {k:14s} node P {100*s['precision']:5.1f} R {100*s['recall']:5.1f} "
                  f"F1 {100*s['f1']:5.1f} exact {100*s['exact']:5.1f}")
    print("    top confusions (missed -> predicted instead):",
          "; ".join(f"{g} -> {p} ({c})" for g, p, c in r["confusions"]))


if __name__ == "__main__":
    sys.exit(main())
