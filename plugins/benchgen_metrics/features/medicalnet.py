"""MedicalNet 3D ResNet features (Chen et al., 2019, "Med3D") for Fréchet distances.

MONAI's 3D ResNet with the MedicalNet arguments (shortcut type B, ``bias_downsample=False``, one input
channel, no classifier), global average pooling → 512 (ResNet-10) or 2048 (ResNet-50) features.
Each volume is z-scored by its own mean and std first, as MedicalNet's training data loader does.

Weights come only from a local file: the ``weights`` param, else ``$BENCHGEN_MEDICALNET_WEIGHTS`` (a file,
or a folder holding ``resnet_10_23dataset.pth`` / ``resnet_50_23dataset.pth`` / ``resnet_10.pth`` ...).
Never a network call: MONAI's ``pretrained=True`` would reach the Hugging Face hub. Both bare state
dicts and the original files (``{"state_dict": ...}`` with ``module.`` prefixes) load.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from benchgen.errors import DataError, MissingWeightsError
from benchgen.hashing import file_sha256
from benchgen.interfaces import FeatureExtractor

ENV_VAR = "BENCHGEN_MEDICALNET_WEIGHTS"


def _instructions(depth: int) -> str:
    return (f"MedicalNet ResNet-{depth} weights not found: download resnet_{depth}_23dataset.pth from "
            f"https://huggingface.co/TencentMedicalNet/MedicalNet-Resnet{depth}/tree/main (or resnet_{depth}.pth "
            f"from https://github.com/Tencent/MedicalNet), put it anywhere (e.g. ~/.benchgen/weights/), and pass "
            f"its path with --param <metric>.weights=PATH (suite: params = {{ weights = \"PATH\" }}) or set "
            f"{ENV_VAR}=PATH (a file, or the folder holding it)")


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A bare or wrapped (``{"state_dict": ...}``, ``module.`` prefixes) MedicalNet state dict."""
    try:
        obj: Any = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle / zip errors of many kinds all mean "not a weights file"
        why = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split("WeightsUnpickler error:")[-1].strip().split("\n\n")[0]
        why = " ".join(why.split())  # torch's text spans many lines: keep its first paragraph
        raise DataError(f"{path}: not a readable PyTorch weights file ({type(exc).__name__}: "
                        f"{why.split('. ')[0][:200]})", "expected a MedicalNet state dict such as "
                        "resnet_10_23dataset.pth (see `benchgen list medicalnet-resnet10`)") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a state dict, found {type(obj).__name__}")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}


def build_resnet(depth: int) -> torch.nn.Module:
    from monai.networks.nets import resnet10, resnet50

    fn = {10: resnet10, 50: resnet50}[depth]
    return fn(pretrained=False, spatial_dims=3, n_input_channels=1, shortcut_type="B",
              bias_downsample=False, feed_forward=False)


class _MedicalNet(FeatureExtractor):
    depth: ClassVar[int] = 10
    standardize: ClassVar[bool] = False
    version = "1"

    @dataclass(frozen=True)
    class Params:
        weights: str | None = None
        batch_size: int = 2

        def __post_init__(self) -> None:
            if self.batch_size < 1:
                raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")

    def __init__(self, params: Any = None):
        super().__init__(params)
        self._model: torch.nn.Module | None = None
        self._sha: str | None = None

    def weights_path(self) -> Path:
        """The local weights file; MissingWeightsError with download instructions when there is none."""
        given = self.params.weights or os.environ.get(ENV_VAR)
        if not given:
            raise MissingWeightsError(_instructions(self.depth))
        p = Path(given).expanduser()
        if p.is_dir():
            for name in (f"resnet_{self.depth}_23dataset.pth", f"resnet_{self.depth}.pth"):
                if (p / name).is_file():
                    return p / name
            raise MissingWeightsError(f"{p}: no resnet_{self.depth}_23dataset.pth or resnet_{self.depth}.pth "
                                      f"in this folder. " + _instructions(self.depth))
        if not p.is_file():
            raise MissingWeightsError(f"{p}: no such file. " + _instructions(self.depth))
        return p

    def weights_sha256(self) -> str | None:
        if self._sha is None:
            self._sha = file_sha256(self.weights_path())
        return self._sha

    def fingerprint(self) -> str:
        from benchgen.hashing import fingerprint
        cfg = self.config()
        cfg["params"] = {k: v for k, v in cfg["params"].items() if k != "weights"}  # the path is not content
        return fingerprint({**cfg, "weights_sha256": self.weights_sha256()})

    def model(self) -> torch.nn.Module:
        if self._model is None:
            path = self.weights_path()
            net = build_resnet(self.depth)
            try:
                net.load_state_dict(load_state_dict(path), strict=True)
            except RuntimeError as exc:
                first = str(exc).splitlines()[0]
                raise DataError(f"{path}: not MedicalNet ResNet-{self.depth} weights ({first})",
                                "use medicalnet-resnet10 for resnet_10*.pth and medicalnet-resnet50 for "
                                "resnet_50*.pth") from None
            self._model = net.eval()
        return self._model

    def extract(self, volumes: torch.Tensor, device: str = "cpu") -> np.ndarray:
        net = self.model().to(device)
        vols = torch.as_tensor(volumes).float()
        if vols.ndim == 4:
            vols = vols[:, None]
        out = []
        with torch.no_grad():
            for s in range(0, len(vols), self.params.batch_size):
                x = vols[s:s + self.params.batch_size].to(device)
                mean = x.mean(dim=(1, 2, 3, 4), keepdim=True)
                std = x.std(dim=(1, 2, 3, 4), keepdim=True).clamp_min(1e-8)
                out.append(net((x - mean) / std).double().cpu())
        return torch.cat(out).numpy()


class MedicalNetResNet10(_MedicalNet):
    """MedicalNet ResNet-10 (512 features); weights from a local file only."""

    depth = 10


class MedicalNetResNet50(_MedicalNet):
    """MedicalNet ResNet-50 (2048 features); weights from a local file only."""

    depth = 50
