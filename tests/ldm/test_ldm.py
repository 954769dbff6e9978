"""The ldm plugin: stage 1 (AutoencoderKL) and stage 2 (the ddpm's denoiser on latents) in the one loop,
its recorded latent scale and reconstruction quality, sampling against MONAI's LatentDiffusionInferer, the
adversarial term's gradient isolation, and bad input caught before training."""

from __future__ import annotations

import json

import pytest
import torch
from benchgen_ldm.autoencoder import AutoencoderWithCritic, autoencoder_objective, encode_latents
from benchgen_ldm.params import LDMParams

from benchgen import registry
from benchgen.errors import ConfigError
from benchgen.interfaces import FitContext, SuiteCheck

from .conftest import SHAPE, tiny


def test_scale_factor_is_one_over_the_std_of_the_training_latents(fitted, tiny_train):
    gen, ckpt, _ = fitted
    meta = json.loads((ckpt / "ddpm.json").read_text())
    info = meta["training"]["autoencoder"]
    from benchgen_ddpm.intensity import encode
    z = encode_latents(gen._autoencoder, encode(tiny_train.data, 0.0), 2, "cpu")
    assert info["scale_factor"] == pytest.approx(1.0 / float(z.std()), rel=1e-5)
    assert info["latent_shape"] == [2, 4, 6, 4]
    assert info["steps"] == 4
    rec = info["reconstruction"]
    assert rec["of"] == "validation" and rec["volumes"] == 3
    assert 0 < rec["psnr"] < 60 and -1 <= rec["ssim"] <= 1
    assert gen.sampler_info()["latent"]["scale_factor"] == info["scale_factor"]
    for name in ("weights.safetensors", "autoencoder.safetensors", "reconstructions.safetensors",
                 "reconstructions.png", "loss.png", "autoencoder-loss.png"):
        assert (ckpt / name).is_file(), name


def test_reconstruction_quality_is_psnr_against_the_validation_scans(fitted, tiny_val):
    gen, _, _ = fitted
    recon = gen._reconstructions
    mse = float(((recon - tiny_val.data) ** 2).mean(dim=(1, 2, 3, 4)).mean())
    psnr_each = (10 * torch.log10(1.0 / ((recon - tiny_val.data) ** 2).mean(dim=(1, 2, 3, 4)))).mean()
    assert gen._ae_info["reconstruction"]["psnr"] == pytest.approx(float(psnr_each), abs=1e-3)
    assert mse > 0


def test_sampling_equals_monai_latent_diffusion_inferer(fitted):
    """DDIM-4 through our loop == MONAI's LatentDiffusionInferer.sample on the same starting noise."""
    from benchgen_ddpm.intensity import decode
    from benchgen_ddpm.sampling import _seed
    from benchgen_ddpm.schedule import sampling_scheduler
    from monai.inferers import LatentDiffusionInferer

    gen, _, _ = fitted  # unconditional: tiny() has no conditions
    ours = gen.sample(2, seed=5)
    noise = torch.stack([torch.randn((2, 4, 6, 4), generator=torch.Generator().manual_seed(_seed(5, 0, i)))
                         for i in range(2)])
    scheduler = sampling_scheduler(gen.params)
    inferer = LatentDiffusionInferer(scheduler, scale_factor=gen._scale)
    with torch.no_grad():
        theirs = inferer.sample(noise, gen._autoencoder, gen._model, scheduler, verbose=False)
    assert torch.allclose(ours, decode(theirs, 0.0), atol=1e-5)


def test_reconstruct_mode_returns_the_stored_reconstructions_cycled(fitted):
    gen, ckpt, _ = fitted
    rec = registry.create("generators", "ldm", tiny(reconstruct=True))
    rec.load(ckpt)
    x = rec.sample(5, seed=0)
    assert torch.equal(x[:3], gen._reconstructions) and torch.equal(x[3:], gen._reconstructions[:2])
    assert rec.sampler_info()["sampler"] == "reconstruct"
    assert rec.conditions() == ()


def test_adversarial_gradients_reach_each_network_only_through_its_own_loss(tiny_train):
    """One backward of the combined loss == the autoencoder's grads from its terms, the discriminator's
    from the discriminator loss alone."""
    from monai.losses import PatchAdversarialLoss

    p = LDMParams(**{k: tuple(v) if isinstance(v, list) else v for k, v in tiny(adv_weight=0.5, disc_channels=8, disc_layers=1).items()})
    torch.manual_seed(0)
    net = AutoencoderWithCritic(p)
    x = tiny_train.data[:2] * 2 - 1
    obj = autoencoder_objective(p, x, seed=0)
    obj.loss(net, x, torch.arange(2), torch.Generator().manual_seed(0), 10, "cpu").backward()
    combined = {k: v.grad.clone() for k, v in net.named_parameters()}

    adv = PatchAdversarialLoss(criterion="least_squares")
    net.zero_grad()
    mu, sigma = net.autoencoder.encode(x)  # the objective's reparameterisation, with the same generator
    recon = net.autoencoder.decode(mu + torch.randn(mu.shape, generator=torch.Generator().manual_seed(0)) * sigma)
    d_loss = 0.5 * (adv(net.discriminator(recon.detach())[-1], target_is_real=False, for_discriminator=True)
                    + adv(net.discriminator(x)[-1], target_is_real=True, for_discriminator=True))
    d_loss.backward()
    for k, v in net.discriminator.named_parameters():
        assert torch.allclose(combined[f"discriminator.{k}"], v.grad, atol=1e-6), k
    assert any(combined[k].abs().sum() > 0 for k in combined if k.startswith("autoencoder."))
    # the autoencoder's adversarial term moves the autoencoder: without it its grads differ
    net.zero_grad()
    obj0 = autoencoder_objective(LDMParams(**{**p.__dict__, "adv_weight": 0.0}), x, seed=0)
    obj0.loss(net, x, torch.arange(2), torch.Generator().manual_seed(0), 10, "cpu").backward()
    k = next(k for k, _ in net.autoencoder.named_parameters())
    assert not torch.allclose(combined[f"autoencoder.{k}"], dict(net.autoencoder.named_parameters())[k].grad)


def test_adversarial_training_runs_and_is_recorded(tmp_path, tiny_train, tiny_val):
    gen = registry.create("generators", "ldm", tiny(adv_weight=0.01, adv_start_step=2, disc_channels=8,
                                                    disc_layers=1, max_steps=2))
    gen.fit(tiny_train, FitContext(workdir=tmp_path, seed=0, val=tiny_val))
    assert gen.train_info["autoencoder"]["steps"] == 4
    assert torch.isfinite(gen.sample(2, seed=0)).all()


@pytest.mark.parametrize("shape, changes, words", [
    ((9, 12, 8), {}, "does not fit a 2-level autoencoder"),
    ((6, 12, 8), {}, "latent shape (3, 6, 4)"),
    ((8, 12, 8), {"channels": [8, 16, 16], "attention_levels": [False, False, True],
                  "num_head_channels": [0, 0, 16]}, "does not fit a 3-level UNet"),
])
def test_shapes_that_do_not_fit_fail_before_training(tmp_path, shape, changes, words):
    gen = registry.create("generators", "ldm", tiny(**changes))
    with pytest.raises(ConfigError) as exc:
        gen.check_suite(SuiteCheck(shape=shape, n_samples=4, device="cpu", where="generators.ldm"))
    assert words in exc.value.message and "generators.ldm" in exc.value.message


def test_a_discriminator_too_deep_for_the_volume_fails_before_training():
    gen = registry.create("generators", "ldm", tiny(adv_weight=0.1, disc_layers=3))
    with pytest.raises(ConfigError, match="disc_layers = 3 is too deep"):
        gen.check_suite(SuiteCheck(shape=SHAPE, n_samples=4, device="cpu", where="generators.ldm"))


def test_an_autoencoder_of_another_shape_is_refused(fitted):
    _, ckpt, _ = fitted
    gen = registry.create("generators", "ldm", tiny(autoencoder=str(ckpt)))
    with pytest.raises(ConfigError, match=r"trained on volumes of shape \(8, 12, 8\)"):
        gen.check_suite(SuiteCheck(shape=(16, 12, 8), n_samples=4, device="cpu", where="generators.ldm"))
    other = registry.create("generators", "ldm", tiny(autoencoder=str(ckpt), ae_latent_channels=3))
    with pytest.raises(ConfigError, match="other autoencoder settings .*ae_latent_channels"):
        other.check_suite(SuiteCheck(shape=SHAPE, n_samples=4, device="cpu", where="generators.ldm"))
    with pytest.raises(ConfigError, match="not an ldm checkpoint folder"):
        registry.create("generators", "ldm", tiny(autoencoder=str(ckpt.parent))).check_suite(
            SuiteCheck(shape=SHAPE, n_samples=4, device="cpu", where="generators.ldm"))


def test_a_stored_autoencoder_is_reused_without_training(fitted, tmp_path, tiny_train, tiny_val):
    gen0, ckpt, _ = fitted
    gen = registry.create("generators", "ldm", tiny(autoencoder=str(ckpt)))
    gen.fit(tiny_train, FitContext(workdir=tmp_path, seed=1, val=tiny_val))
    assert not (tmp_path / "autoencoder").exists()
    assert gen._scale == gen0._scale
    assert all(torch.equal(a, b) for a, b in zip(gen._autoencoder.state_dict().values(),
                                                 gen0._autoencoder.state_dict().values()))


@pytest.mark.parametrize("changes, words", [
    ({"perceptual_weight": 1.0}, "needs perceptual_weights"),
    ({"clip_sample": True}, "clip_sample = true"),
    ({"schedule": "rflow", "sampler": "rflow", "prediction_type": "epsilon"}, "v_prediction"),
    ({"ae_channels": [8, 6]}, "divisible by ae_norm_num_groups"),
])
def test_bad_params_are_one_clear_error(changes, words):
    from benchgen.errors import BenchgenError
    with pytest.raises((ValueError, BenchgenError), match=words.replace("(", r"\(")):
        registry.create("generators", "ldm", tiny(**changes))


def test_a_missing_perceptual_weights_file_fails_before_training(tmp_path, tiny_train):
    gen = registry.create("generators", "ldm", tiny(perceptual_weight=0.1,
                                                    perceptual_weights=str(tmp_path / "resnet50.pth")))
    with pytest.raises(ConfigError, match="resnet50.pth does not exist"):
        gen.check_suite(SuiteCheck(shape=SHAPE, n_samples=4, device="cpu", where="generators.ldm"))
    with pytest.raises(ConfigError, match="does not exist"):
        gen.fit(tiny_train, FitContext(workdir=tmp_path / "w", seed=0))
    assert not (tmp_path / "w" / "autoencoder" / "latest.json").exists()


def test_perceptual_loss_from_local_weights(tmp_path, tiny_train):
    torchvision = pytest.importorskip("torchvision")
    path = tmp_path / "resnet50.pth"
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), path)
    gen = registry.create("generators", "ldm", tiny(perceptual_weight=0.1, perceptual_weights=str(path),
                                                    ae_max_steps=1, max_steps=1))
    gen.fit(tiny_train, FitContext(workdir=tmp_path / "w", seed=0))
    assert gen.train_info["autoencoder"]["final_loss"] > 0
