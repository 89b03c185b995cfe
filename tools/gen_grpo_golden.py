#!/usr/bin/env python3
"""Golden values for frugal's GRPO loss (src/train/grpo.h), from references
nobody here wrote.

For fixed random log-probs, rewards and masks this computes the group-relative
advantages and the GRPO loss with its gradient with respect to the policy's
per-token log-probs in two independent ways, and checks they agree:

  1. TRL's own code (PyPI `trl`): `GRPOTrainer._compute_loss` called on an
     object that has only the attributes that method reads, with the model's
     log-prob function replaced by one that returns our tensor; advantages with
     TRL's `nanstd` and the formula of `_generate_and_score_completions`.
  2. A direct PyTorch transcription of the DeepSeekMath objective (Shao et al.
     2024, eq. 3 with the k3 KL estimator of eq. 4) and of its known variants:
     token-level mean (DAPO, Yu et al. 2025), constant normalizer and no std
     scaling (Dr. GRPO, Liu et al. 2025).

The values TRL gives are written to tests/data/train/grpo_golden.json
(float64), with the versions used. CI never runs this script.

  ~/.cache/frugal/pyref/bin/pip install torch trl==1.16.0
  ~/.cache/frugal/pyref/bin/python tools/gen_grpo_golden.py
"""
import json
import pathlib
import types
from collections import defaultdict

import torch
import trl
from trl.trainer.grpo_trainer import GRPOTrainer
from trl.trainer.utils import nanstd

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "train" / "grpo_golden.json"

torch.set_default_dtype(torch.float64)


# --- 1. TRL -----------------------------------------------------------------

def trl_advantages(rewards, group, scale):
    """The formula of GRPOTrainer._generate_and_score_completions, with TRL's
    nanstd (Bessel-corrected) and its 1e-4 guard."""
    mean = torch.nanmean(rewards.view(-1, group), dim=1).repeat_interleave(group, dim=0)
    if scale == "group":
        std = nanstd(rewards.view(-1, group), dim=1).repeat_interleave(group, dim=0)
    else:
        std = nanstd(rewards).expand_as(rewards)
    adv = rewards - mean
    if scale != "none":
        adv = adv / (std + 1e-4)
    return adv


class _Accel:
    num_processes = 1
    sync_gradients = True

    def gather(self, x):
        return x

    gather_for_metrics = gather

    def reduce(self, x, reduction="sum"):
        return x


def trl_loss(case, logp):
    t = GRPOTrainer.__new__(GRPOTrainer)
    t.top_entropy_quantile = 1.0
    t.off_policy_mask_threshold = None
    t.importance_sampling_level = "token"
    t.beta = case["beta"]
    t.loss_type = case["loss_type"]
    t.epsilon_low = case["epsilon_low"]
    t.epsilon_high = case["epsilon_high"]
    t.max_completion_length = case["max_completion_length"]
    t.use_vllm = False
    t.aux_loss_enabled = False
    t._entropy_bonus_enabled = False
    t.current_gradient_accumulation_steps = 1
    t.args = types.SimpleNamespace(use_bias_correction_kl=False, delta=None, steps_per_generation=1)
    t.model = types.SimpleNamespace(training=False)  # eval mode: no accumulation scaling
    t.accelerator = _Accel()
    t._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
    t._get_per_token_logps_and_entropies = (
        lambda *a, **k: (logp, torch.zeros_like(logp), None))
    B, T = logp.shape
    mask = torch.tensor(case["mask"]).view(B, T)
    inputs = {
        "prompt_ids": torch.zeros(B, 1, dtype=torch.long),
        "prompt_mask": torch.ones(B, 1, dtype=torch.long),
        "completion_ids": torch.zeros(B, T, dtype=torch.long),
        "completion_mask": mask,
        "advantages": torch.tensor(case["advantages"]),
        "old_per_token_logps": torch.tensor(case["old_logp"]).view(B, T),
        "ref_per_token_logps": torch.tensor(case["ref_logp"]).view(B, T),
        "num_items_in_batch": mask.sum(),
    }
    return t._compute_loss(None, inputs)


# --- 2. The formula, transcribed ----------------------------------------------

def formula_advantages(rewards, group, scale):
    r = rewards.view(-1, group)
    adv = r - r.mean(dim=1, keepdim=True)
    if scale == "group":
        adv = adv / (r.std(dim=1, unbiased=True, keepdim=True) + 1e-4)
    elif scale == "batch":
        adv = adv / (rewards.std(unbiased=True) + 1e-4)
    return adv.reshape(-1)


def formula_loss(case, logp):
    B, T = logp.shape
    mask = torch.tensor(case["mask"]).view(B, T)
    old = torch.tensor(case["old_logp"]).view(B, T)
    ref = torch.tensor(case["ref_logp"]).view(B, T)
    adv = torch.tensor(case["advantages"]).view(B, 1)
    ratio = torch.exp(logp - old)
    clipped = torch.clamp(ratio, 1 - case["epsilon_low"], 1 + case["epsilon_high"])
    objective = torch.minimum(ratio * adv, clipped * adv)
    kl = torch.exp(ref - logp) - (ref - logp) - 1  # k3: unbiased, always >= 0
    per_token = -(objective - case["beta"] * kl)
    kind = case["loss_type"]
    if kind == "grpo":  # 1/G sum_i 1/|o_i| sum_t
        return ((per_token * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()
    if kind in ("bnpo", "dapo"):  # every token of the batch weighs the same
        return (per_token * mask).sum() / mask.sum().clamp(min=1)
    if kind == "dr_grpo":  # a constant in place of the lengths
        return (per_token * mask).sum() / (B * case["max_completion_length"])
    raise ValueError(kind)


# --- cases --------------------------------------------------------------------

def make_case(name, seed, loss_type, beta, eps_low, eps_high, scale, groups=2, group=4, T=7,
              empty_row=False, flat_group=False):
    g = torch.Generator().manual_seed(seed)
    B = groups * group
    # Rewards as the Countdown task gives them (0, format 0.1, correct 1).
    levels = torch.tensor([0.0, 0.1, 1.0])
    rewards = levels[torch.randint(0, 3, (B,), generator=g)]
    if flat_group:  # every completion of the first prompt scored alike: no signal
        rewards[:group] = 0.1
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    if empty_row:
        lengths[1] = 0
    mask = (torch.arange(T).view(1, T) < lengths.view(B, 1)).to(torch.float64)
    logp = torch.log(torch.rand(B, T, generator=g) * 0.98 + 0.01)
    # Old and reference policies a little off, so ratios fall on both sides
    # of the clip range and the KL is not zero.
    old = logp + 0.35 * torch.randn(B, T, generator=g)
    ref = logp + 0.25 * torch.randn(B, T, generator=g)
    adv = trl_advantages(rewards.clone(), group, scale)
    adv_formula = formula_advantages(rewards.clone(), group, scale)
    assert torch.allclose(adv, adv_formula, rtol=0, atol=1e-12), (name, adv, adv_formula)
    return {
        "name": name, "loss_type": loss_type, "beta": beta, "epsilon_low": eps_low,
        "epsilon_high": eps_high, "max_completion_length": T, "scale_rewards": scale,
        "group_size": group, "batch": B, "length": T,
        "rewards": rewards.tolist(), "advantages": adv.tolist(),
        "logp": logp.reshape(-1).tolist(), "old_logp": old.reshape(-1).tolist(),
        "ref_logp": ref.reshape(-1).tolist(), "mask": mask.reshape(-1).tolist(),
    }


def main():
    cases = [
        make_case("grpo_no_kl", 1, "grpo", 0.0, 0.2, 0.2, "group"),
        make_case("grpo_kl", 2, "grpo", 0.04, 0.2, 0.2, "group"),
        make_case("grpo_kl_flat_group_empty_row", 3, "grpo", 0.04, 0.2, 0.2, "group",
                  empty_row=True, flat_group=True),
        make_case("bnpo_clip_higher", 4, "bnpo", 0.04, 0.2, 0.28, "group"),
        make_case("dapo_clip_higher", 5, "dapo", 0.0, 0.2, 0.28, "group", groups=3),
        make_case("dr_grpo_no_std", 6, "dr_grpo", 0.0, 0.2, 0.2, "none"),
        make_case("grpo_batch_std", 7, "grpo", 0.1, 0.1, 0.3, "batch", groups=1, group=6, T=5),
    ]
    worst = 0.0
    for c in cases:
        B, T = c["batch"], c["length"]
        x = torch.tensor(c["logp"]).view(B, T).requires_grad_(True)
        loss = trl_loss(c, x)
        loss.backward()
        y = torch.tensor(c["logp"]).view(B, T).requires_grad_(True)
        loss2 = formula_loss(c, y)
        loss2.backward()
        diff = max(abs(loss.item() - loss2.item()), (x.grad - y.grad).abs().max().item())
        worst = max(worst, diff)
        assert diff < 1e-12, (c["name"], loss.item(), loss2.item(), diff)
        c["loss"] = loss.item()
        c["grad"] = x.grad.reshape(-1).tolist()
        print(f"{c['name']:32s} loss {loss.item():+.12f}  |TRL - formula| {diff:.1e}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "source": "tools/gen_grpo_golden.py: TRL GRPOTrainer._compute_loss, "
                  "checked against a transcription of the DeepSeekMath formula",
        "trl": trl.__version__, "torch": torch.__version__,
        "max_difference_trl_vs_formula": worst,
        "cases": cases,
    }, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
