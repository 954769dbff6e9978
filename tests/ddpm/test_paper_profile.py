"""The paper profile: the published network size and noise schedule (no forward pass at full size)."""

import torch
from benchgen_ddpm.network import build_unet, check_shape, count_parameters
from benchgen_ddpm.schedule import ddim_scheduler, ddpm_scheduler

from benchgen import registry


def test_paper_network_and_schedule():
    gen = registry.create("generators", "ddpm", {})  # defaults are the paper's configuration
    p = gen.params
    assert (p.channels, p.attention_levels, p.num_head_channels, p.num_res_blocks) == (
        (128, 128, 256), (False, False, True), (0, 0, 256), 2)
    assert (p.lr, p.epochs, p.sampler, p.inference_steps, p.prediction_type) == (5e-5, 400, "ddpm", 1000, "epsilon")
    assert count_parameters(build_unet(p)) == 47_475_969
    s = ddpm_scheduler(p)
    got = s.alphas_cumprod[[0, 499, 999]].double()
    assert torch.allclose(got, torch.tensor([0.9995, 0.227525, 0.000428362], dtype=torch.float64), rtol=2e-5)
    # scaled_linear_beta: betas are a linear ramp in sqrt-space between beta_start and beta_end
    assert abs(float(s.betas[0]) - 0.0005) < 1e-9 and abs(float(s.betas[-1]) - 0.0195) < 1e-7
    # DDIM runs on the same betas
    assert torch.equal(ddim_scheduler(p, 50).alphas_cumprod, s.alphas_cumprod)
    check_shape((84, 128, 84), p)  # the paper's volume fits the 3-level UNet


def _conv_flops(net: torch.nn.Module, shape: tuple[int, int, int]) -> float:
    """2 × multiply-adds of every Conv3d in one forward pass, from each output's shape (forward hooks, meta)."""
    total = [0.0]

    def hook(m: torch.nn.Conv3d, _: object, out: torch.Tensor) -> None:
        k = m.kernel_size[0] * m.kernel_size[1] * m.kernel_size[2]
        total[0] += 2.0 * out.numel() * (m.in_channels // m.groups) * k

    for m in net.modules():
        if isinstance(m, torch.nn.Conv3d):
            m.register_forward_hook(hook)
    with torch.device("meta"):
        net(torch.zeros(1, 1, *shape), torch.zeros(1, dtype=torch.long))
    return total[0]


def test_paper_cost_is_counted_from_the_network_and_printed_on_a_cuda_machine(monkeypatch, capsys):
    """The FLOPs of the paper profile: one forward pass at 84×128×84 (torch's counter on the meta device) against
    the convolutions counted by hand (most of it; attention and linear layers add the rest), times the passes
    of 400 epochs of training (3 each) and of sampling; the CLI prints GPU-hours and the command to start it."""
    from pathlib import Path

    from benchgen.cli import run as run_cli
    from benchgen.suite.cost import ASSUMED_FLOP_PER_S, profile_cost
    from benchgen.suite.load import load_suite

    suite_path = Path(__file__).parents[2] / "benchmarks" / "healthy_t1.toml"
    cost = profile_cost(suite_path)
    assert cost is not None and cost.shape == (84, 128, 84) and set(cost.flops) == {"ddpm"}
    p = registry.create("generators", "ddpm", {}).params
    passes = 3 * p.epochs * round(1017 * 0.8) + 86 * 3 * p.inference_steps
    with torch.device("meta"):
        convs = _conv_flops(build_unet(p), (84, 128, 84))
    assert convs <= cost.flops["ddpm"] / passes <= 1.3 * convs
    assert cost.gpu_hours == sum(cost.flops.values()) / ASSUMED_FLOP_PER_S / 3600
    monkeypatch.setattr("benchgen.suite.load.cuda_available", lambda: True)
    run_cli.print_paper_cost(load_suite(suite_path), suite_path, "auto", ())
    err = " ".join(capsys.readouterr().err.split())
    assert "GPU-hours at an assumed 50 TFLOP/s" in err and f"benchgen run {suite_path} --profile paper" in err
