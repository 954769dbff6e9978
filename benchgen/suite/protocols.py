"""Named metric presets ("protocols"): the metric settings of a published evaluation, so that a user's number
is comparable with the paper's.

A protocol is a metric table of exactly the shape of a suite's ``[evaluation.metrics]`` (label -> plugin +
params), validated by the same code, plus what the source fixes besides: the sample counts it scores and the
volume shape. It is chosen with ``[evaluation] protocol = "NAME"`` in a suite or ``benchgen evaluate
--protocol NAME``; ``benchgen protocols`` lists them. Every record stores its protocol's name ("" = the
suite's own metrics), boards never rank two protocols together, and a run with fewer volumes than the
protocol scores still runs, but its records and boards say "n below protocol (48 < 1000)".

Where each setting comes from (repository + file) is in each preset's ``sources`` and in docs/metrics.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchgen.errors import ConfigError

# Params a user may still set on a protocol's metrics: they change where weights are read from or the width
# of the confidence interval, never the number (the weights' sha256 is recorded with every score).
NEUTRAL_PARAMS = ("weights", "bootstrap")
BELOW = "n below protocol"


@dataclass(frozen=True)
class Protocol:
    name: str
    description: str  # one line
    citation: str  # the paper
    sources: tuple[str, ...]  # "repository: path (what it fixes)" for each setting's source
    metrics: dict[str, dict[str, Any]]  # label -> {"plugin": ..., "params": {...}}, as [evaluation.metrics]
    primary: str  # the label boards rank by, unless the suite names another of the protocol's labels
    min_samples: int | None = None  # synthetic volumes the protocol scores (None: not fixed)
    min_real: int | None = None  # real volumes it scores (None: not fixed)
    shape: tuple[int, int, int] | None = None  # the volume shape it scores at, where it fixes one
    needs: str = ""  # what the user must provide (weights files)
    notes: tuple[str, ...] = field(default_factory=tuple)  # where benchgen's computation differs

    def shortfall(self, n_real: int | None, n_synthetic: int) -> str:
        """'' when the sample counts are met, else ``n below protocol (48 < 1000)`` (n_real named when short;
        None: not known yet, not checked)."""
        parts = []
        if self.min_samples is not None and n_synthetic < self.min_samples:
            parts.append(f"{n_synthetic} < {self.min_samples}")
        if self.min_real is not None and n_real is not None and n_real < self.min_real:
            parts.append(f"n_real {n_real} < {self.min_real}")
        return f"{BELOW} ({'; '.join(parts)})" if parts else ""

    def check(self, n_real: int, n_synthetic: int, shape: tuple[int, ...] | None = None) -> dict[str, Any]:
        """What a record stores about meeting the protocol: its fixed counts and shape, and the shortfall."""
        note = self.shortfall(n_real, n_synthetic)
        out: dict[str, Any] = {"name": self.name, "min_samples": self.min_samples, "min_real": self.min_real,
                               "shape": list(self.shape) if self.shape else None, "below": bool(note),
                               "note": note}
        if shape is not None and self.shape is not None:
            out["shape_differs"] = tuple(shape) != self.shape
        return out


def _fid(depth: int) -> dict[str, Any]:
    return {"plugin": "fid", "params": {"features": f"medicalnet-resnet{depth}"}}


def _msssim(kernel_size: int) -> dict[str, Any]:
    return {"plugin": "ms-ssim", "params": {"kernel_size": kernel_size, "kernel_sigma": 1.5, "data_range": 1.0,
                                            "scales": 5}}


_RESNET = ("benchgen's MedicalNet extractor is MONAI's ResNet (layers 2-4 strided) with each volume z-scored; "
           "the source's MedicalNet ResNet keeps layers 3-4 at stride 1 with dilation 2 and 4 and feeds the "
           "volume as it is: same weights, different feature maps, so FIDs are comparable within benchgen only "
           "until the dilated layout is added")
_WEIGHTS = ("MedicalNet {file} (Tencent/MedicalNet): a local file via --param fid.weights=PATH, a suite's "
            "[evaluation.metrics.fid] params = {{ weights = \"PATH\" }}, or $BENCHGEN_MEDICALNET_WEIGHTS; "
            "without it FID is `skipped` with the download instructions")

PRESETS: tuple[Protocol, ...] = (
    Protocol(
        name="seed-paper",
        description="the reference study: MONAI linear MMD on voxels, FID on MedicalNet features, MS-SSIM "
                    "kernel 4, 86 vs 86 volumes at 84×128×84",
        citation="the reference study (a 3D DDPM for T1w brain MRI; docs/reference-study.md)",
        sources=("the paper's §5.2 'Evaluation metrics': unbiased MMD, FID with MedicalNet "
                 "for 3D, MS-SSIM within a set, 86 real and 86 synthetic images",
                 "the paper's §4.2 (preprocessing): images resized to 84×128×84",
                 "benchmarks/healthy_t1.toml: MS-SSIM kernel 4 (not stated in the paper; MONAI's tutorials' "
                 "value); MMD = MONAI MMDMetric (linear kernel on voxels)"),
        metrics={"mmd": {"plugin": "mmd", "params": {"kernel": "linear", "features": "voxels"}},
                 "fid": _fid(10), "ms-ssim": _msssim(4)},
        primary="mmd", min_samples=86, min_real=86, shape=(84, 128, 84),
        needs=_WEIGHTS.format(file="resnet_10_23dataset.pth"),
        notes=("the paper names MedicalNet but not its depth: ResNet-10 (23 datasets), the MedicalNet network "
               "MONAI uses by default, is an assumption", _RESNET)),
    Protocol(
        name="wdm-3d",
        description="WDM-3D (Friedrich et al., 2024): FID on MedicalNet ResNet-50 (23 datasets) features of 1000 "
                    "samples; mean MS-SSIM over all synthetic pairs, kernel 7, data range 1",
        citation="Friedrich et al., 'WDM: 3D Wavelet Diffusion Models for High-Resolution Medical Image "
                 "Synthesis', DGM4MICCAI 2024",
        sources=("pfriedri/wdm-3d: eval/fid.py (model_depth 50, shortcut B, 2048-d global average pool, "
                 "num_samples = 1000 real and 1000 synthetic, Fréchet distance with eps 1e-6 only when singular)",
                 "pfriedri/wdm-3d: eval/pretrained/pretrained.txt (weights resnet_50_23dataset.pth from "
                 "Tencent/MedicalNet)",
                 "pfriedri/wdm-3d: eval/ms_ssim.py (MultiScaleSSIMMetric(spatial_dims=3, data_range=1.0, "
                 "kernel_size=7), MONAI defaults sigma 1.5, 5 scales; every pair of distinct samples)"),
        metrics={"fid": _fid(50), "ms-ssim": _msssim(7)},
        primary="fid", min_samples=1000, min_real=1000,
        needs=_WEIGHTS.format(file="resnet_50_23dataset.pth"),
        notes=("volumes 128³ or 256³ in [0, 1] in the source (not fixed here: shape free)",
               "MS-SSIM's reference (the real set's own value) is computed too; the source reports the "
               "synthetic value only", _RESNET)),
    Protocol(
        name="ha-gan",
        description="HA-GAN (Sun et al., 2022): FID on MedicalNet ResNet-50 features of 2048 samples; "
                    "Gaussian-kernel MMD on the same features, median heuristic",
        citation="Sun et al., 'Hierarchical Amortized GAN for 3D High Resolution Medical Image Synthesis', "
                 "IEEE JBHI 2022",
        sources=("batmanlab/HA-GAN: evaluation/fid_score.py (resnet50 shortcut B, conv_seg replaced by global "
                 "average pooling: 2048 features, weights resnet_50.pth, --num_samples 2048 generated volumes "
                 "against stored real-set features; calculate_mmd: torch_two_sample MMDStatistic with "
                 "alphas='median' on the same features)",
                 "batmanlab/HA-GAN: evaluation/resnet3D.py (the MedicalNet ResNet layout)"),
        metrics={"fid": _fid(50),
                 "mmd": {"plugin": "mmd", "params": {"kernel": "gaussian", "features": "medicalnet-resnet50",
                                                     "bandwidth": None}}},
        primary="fid", min_samples=2048,
        needs=_WEIGHTS.format(file="resnet_50.pth (the source's file; resnet_50_23dataset.pth also loads)"),
        notes=("MMD bandwidth: benchgen's median heuristic (σ = median pairwise distance of the pooled features, "
               "k = exp(-d²/2σ²)); the source's torch-two-sample fork (lisun-ai/torch-two-sample) is not in our "
               "snapshot, so its exact median rule is unverified",
               "volumes 256³ (or 128³) in [-1, 1] in the source; benchgen's extractor z-scores each volume, so "
               "the intensity range does not matter", _RESNET)),
    Protocol(
        name="brain-ldm",
        description="MONAI model-zoo brain LDM bundle (Pinaya et al., 2022): mean MS-SSIM over all pairs of "
                    "1000 samples, kernel 7, data range 1, at 160×224×160",
        citation="Pinaya et al., 'Brain Imaging Generation with Latent Diffusion Models', DGM4MICCAI 2022 "
                 "(MONAI bundle brain_image_synthesis_latent_diffusion_model: MS-SSIM 0.6555)",
        sources=("Project-MONAI/model-zoo: models/brain_image_synthesis_latent_diffusion_model/configs/"
                 "metadata.json (eval_metrics msssim 0.6555; output 160×224×160 in [0, 1]); the bundle has no "
                 "evaluation script",
                 "Warvito/generative_brain: src/python/testing/compute_msssim_sample.py (the first author's "
                 "script: MultiScaleSSIMMetric(spatial_dims=3, data_range=1.0, kernel_size=7), every pair of "
                 "distinct samples, 'between 1000 samples', crop/pad to 160×224×160)"),
        metrics={"ms-ssim": _msssim(7)},
        primary="ms-ssim", min_samples=1000, shape=(160, 224, 160),
        notes=("the bundle's FID (0.0076) is not part of this preset: its extractor and settings are not in the "
               "bundle",)),
)
PROTOCOLS: dict[str, Protocol] = {p.name: p for p in PRESETS}


def get(name: str, where: str = "protocol") -> Protocol:
    """The preset called `name`; one ConfigError line naming it and the known ones otherwise."""
    if name not in PROTOCOLS:
        raise ConfigError(f"{where}: unknown protocol {name!r}; known protocols: {', '.join(PROTOCOLS)}",
                          "`benchgen protocols` lists them with their settings")
    return PROTOCOLS[name]


def metric_tables(protocol: Protocol, given: dict[str, Any] | None, where: str) -> dict[str, dict[str, Any]]:
    """The protocol's metric tables, with the user's protocol-neutral params (weights, bootstrap) merged in.

    `given` maps a label to its table, as in a suite's ``[evaluation.metrics]`` (``--param`` values arrive as
    ``{"params": {...}}``). A label the protocol does not have, a `plugin`, or any other param is a
    ConfigError: a protocol fixes its metrics. `where` prefixes the label in messages
    (``evaluation.metrics.``, ``--param ``).
    """
    out = {label: {"plugin": t["plugin"], "params": dict(t["params"])} for label, t in protocol.metrics.items()}
    for label, table in (given or {}).items():
        if label not in out:
            raise ConfigError(f"{where}{label}: protocol '{protocol.name}' fixes its metrics "
                              f"({', '.join(out)}); '{label}' is not one of them",
                              "drop the protocol to choose your own metrics")
        params = table.get("params") or {}
        fixed = (sorted(set(table) - {"params", "description", "stratify"})
                 + sorted(k for k in params if k not in NEUTRAL_PARAMS))
        if fixed:
            raise ConfigError(f"{where}{label}: protocol '{protocol.name}' fixes {', '.join(fixed)}; only "
                              f"{' and '.join(NEUTRAL_PARAMS)} may be set on its metrics",
                              "drop the protocol to choose your own settings")
        out[label]["params"].update(params)
        if "stratify" in table:  # per-condition columns besides the protocol's pooled number
            out[label]["stratify"] = table["stratify"]
    return out


def record_note(record: dict[str, Any]) -> str:
    """A stored record's "n below protocol (...)" note, '' when none."""
    return str(((record.get("extra") or {}).get("protocol") or {}).get("note") or "")
