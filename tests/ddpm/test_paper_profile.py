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
