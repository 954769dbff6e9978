import pytest
import torch
from benchgen_ddpm.params import DDPMParams
from benchgen_ddpm.schedule import ddim_scheduler, ddpm_scheduler, zero_terminal_snr_betas

from benchgen.errors import ConfigError
from benchgen.params import parse_params


def test_rescaled_schedule_ends_in_pure_noise_and_keeps_its_start():
    p = DDPMParams(prediction_type="v_prediction", zero_terminal_snr=True, sampler="ddim", inference_steps=50)
    plain = ddpm_scheduler(DDPMParams()).alphas_cumprod
    abar = ddpm_scheduler(p).alphas_cumprod
    assert float(abar[-1]) == 0 and float(abar[0]) == pytest.approx(float(plain[0]), rel=1e-6)
    assert bool((abar[1:] < abar[:-1]).all())  # still strictly decreasing
    # Lin et al. 2023: sqrt(abar) is an affine map of the original sqrt(abar)
    a, b = plain.double().sqrt(), abar.double().sqrt()
    slope = (b[0] - b[500]) / (a[0] - a[500])
    assert torch.allclose(b, (a - a[-1]) * slope, atol=1e-6)
    d = ddim_scheduler(p, 50)
    assert d.timesteps[0] == 999 and d.timesteps[-1] == 19 and len(d.timesteps) == 50


def test_betas_helper_is_finite_and_ends_at_one():
    betas = zero_terminal_snr_betas(torch.linspace(1e-4, 0.02, 1000))
    assert torch.isfinite(betas).all() and float(betas[-1]) == pytest.approx(1.0)


def test_zero_snr_needs_v_prediction():
    with pytest.raises(ConfigError, match="zero_terminal_snr needs prediction_type"):
        parse_params(DDPMParams, {"zero_terminal_snr": True}, "generators.ddpm.params")
