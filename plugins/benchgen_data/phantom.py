"""`phantom`: a deterministic cohort of synthetic, skull-stripped T1 brains built from the MNI152
2009a template, GM/WM maps and brain mask in nilearn's wheel (no downloads).

Each subject ``i`` is a pure function of (params, i) — not of ``n_subjects`` — so growing a cohort
keeps its first subjects. Per subject, drawn from ``SeedSequence([seed, condition, i])``:

* metadata: age (uniform in [age_min, age_max]), sex, site, condition;
* anatomy: head-size scaling (men ~4 % larger), a small residual pose (rotation/translation), a random
  smooth deformation (coarse Gaussian field, trilinear), ventricle enlargement (a fold-free radial
  magnification around the ventricles) and cortical thinning (outer grey matter turned into CSF),
  both growing with age; ``condition = "ftd-like"`` adds frontal/temporal grey-matter loss (asymmetric)
  and more ventricle enlargement; ``condition = "als-like"`` a mild, asymmetric thinning of the precentral
  (motor) cortex — both scaled by a per-subject severity draw (in the metadata);
* image: per-subject and per-site contrast changes of GM/WM, a smooth multiplicative bias field,
  a scanner gain, Rician noise; background exactly 0 outside the (deformed) brain mask, as in
  skull-stripped data.

``conditions = { healthy = 270, ftd-like = 30, als-like = 30 }`` makes one mixed cohort: the
concatenation of the single-condition cohorts of those sizes (subject ``i`` of condition ``c`` is subject
``i`` of ``condition = c``, bit for bit, with the same item key and id: ``sub-0001``, ``sub-ftd0001``,
``sub-als0001``).

The output grid is the template's grid at ``voxel_mm`` (MNI space, RAS), so volumes behave like
scans after registration and skull stripping. Warps use torch's ``grid_sample`` (one trilinear pass).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from benchgen.errors import DataError
from benchgen.hashing import fingerprint
from benchgen.interfaces import DataItem, DatasetSource
from benchgen.params import added_later, params_to_dict
from benchgen.volumes import Volume
from benchgen_data.templates import load_template, voxel_world_coords

CONDITIONS = {"healthy": 0, "ftd-like": 1, "als-like": 2}  # the value seeds each subject's draws: never renumber
ID_PREFIX = {"healthy": "sub-", "ftd-like": "sub-ftd", "als-like": "sub-als"}
# MNI box of the precentral (primary motor) gyrus: the cortical band just anterior to the central sulcus
PRECENTRAL_MM: dict[str, Any] = {"y": (-30.0, 0.0), "z_min": 40.0, "abs_x": (20.0, 60.0)}


@dataclass(frozen=True)
class PhantomParams:
    n_subjects: int = 300
    voxel_mm: float = 2.0          # generation resolution (isotropic); the template grid at this size
    condition: Literal["healthy", "ftd-like", "als-like"] = "healthy"
    seed: int = 0
    age_min: float = 20.0
    age_max: float = 90.0
    n_sites: int = 4
    head_scale_sd: float = 0.05    # sd of the global head-size factor
    pose_deg: float = 2.0          # sd of the residual rotation per axis (degrees)
    pose_mm: float = 2.0           # sd of the residual translation per axis (mm)
    deformation_mm: float = 2.0    # sd of the random smooth displacement (mm)
    atrophy: float = 1.0           # multiplies the age (and disease) effects; 0 turns them off
    bias: float = 0.1              # sd of the log bias-field coefficients
    noise: float = 0.02            # Rician noise sd relative to white-matter intensity
    contrast: float = 0.03         # sd of per-subject/per-site GM and WM intensity changes
    # condition -> number of subjects: a mixed cohort (replaces `condition` and `n_subjects`)
    conditions: dict[str, int] | None = added_later(None)

    def __post_init__(self) -> None:
        if self.n_subjects < 1:
            raise ValueError(f"n_subjects must be ≥ 1, got {self.n_subjects}")
        if self.conditions is not None:
            unknown = [c for c in self.conditions if c not in CONDITIONS]
            if unknown:
                raise ValueError(f"conditions: unknown condition '{unknown[0]}'; allowed: {', '.join(CONDITIONS)}")
            bad = {c: n for c, n in self.conditions.items() if isinstance(n, bool) or not isinstance(n, int) or n < 0}
            if bad:
                raise ValueError(f"conditions: counts must be integers ≥ 0, got {bad}")
            if sum(self.conditions.values()) < 1:
                raise ValueError(f"conditions: the cohort needs at least one subject, got {self.conditions}")
            if self.n_subjects != 300 or self.condition != "healthy":
                raise ValueError("conditions sets the cohort's conditions and counts: drop n_subjects and condition")
        if not 0.5 <= self.voxel_mm <= 8.0:
            raise ValueError(f"voxel_mm must be within [0.5, 8] mm, got {self.voxel_mm}")
        if not 0 <= self.age_min < self.age_max <= 120:
            raise ValueError(f"need 0 ≤ age_min < age_max ≤ 120, got {self.age_min}, {self.age_max}")
        if self.n_sites < 1:
            raise ValueError(f"n_sites must be ≥ 1, got {self.n_sites}")
        for name in ("head_scale_sd", "pose_deg", "pose_mm", "deformation_mm", "atrophy", "bias",
                     "noise", "contrast"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be ≥ 0, got {getattr(self, name)}")
        if self.head_scale_sd > 0.3:
            raise ValueError(f"head_scale_sd must be ≤ 0.3, got {self.head_scale_sd}")


# ------------------------------------------------------------------------------ template-space maps
@dataclass(frozen=True)
class _Maps:
    t1: np.ndarray
    gm: np.ndarray
    wm: np.ndarray
    mask: np.ndarray  # float32 0/1
    depth_mm: np.ndarray  # distance to the brain surface
    frontal: np.ndarray  # (2, ...) left/right frontal weights
    temporal: np.ndarray  # (2, ...) left/right temporal weights
    precentral: np.ndarray  # (2, ...) left/right precentral (motor cortex) weights
    c_gm: float
    c_wm: float
    c_csf: float
    centre_brain: np.ndarray
    centre_vent: np.ndarray
    affine: np.ndarray
    inv_affine: np.ndarray
    shape: tuple[int, int, int]
    voxel_mm: float


@functools.lru_cache(maxsize=2)
def _maps(voxel_mm: float) -> _Maps:
    from scipy import ndimage

    tpl = load_template(voxel_mm)
    mask = tpl.mask
    xyz = voxel_world_coords(mask.shape, tpl.affine)
    depth = ndimage.distance_transform_edt(mask).astype(np.float32) * tpl.voxel_mm
    csf = np.clip(mask - tpl.gm - tpl.wm, 0, 1)
    # Tissue intensities of the template: least squares T1 ≈ a·GM + b·WM + c·CSF inside the brain.
    design = np.stack([tpl.gm[mask], tpl.wm[mask], csf[mask]], axis=1)
    c_gm, c_wm, c_csf = np.linalg.lstsq(design, tpl.t1[mask], rcond=None)[0]
    centre_brain = xyz[mask].mean(axis=0)
    # the lateral ventricles: CSF deep inside the brain, near the midline, above the third ventricle
    deep_csf = mask & (csf > 0.5) & (depth > 20.0) & (np.abs(xyz[..., 0]) < 30) & (xyz[..., 2] > 0)
    if deep_csf.sum() < 3:  # very coarse grids: fall back to a point near the ventricles in MNI space
        centre_vent = np.array([0.0, -10.0, 15.0], dtype=np.float32)
    else:
        centre_vent = xyz[deep_csf].mean(axis=0)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    front = 1.0 / (1.0 + np.exp(-(y - 5.0) / 6.0))
    temporal = [np.exp(-0.5 * (((x - sx * 48.0) / 12.0) ** 2 + ((y + 15.0) / 28.0) ** 2 + ((z + 20.0) / 12.0) ** 2))
                for sx in (-1.0, 1.0)]
    left, right = (x < 0).astype(np.float32), (x >= 0).astype(np.float32)
    motor = precentral_weight(xyz)
    return _Maps(
        t1=tpl.t1.astype(np.float32), gm=tpl.gm.astype(np.float32), wm=tpl.wm.astype(np.float32),
        mask=mask.astype(np.float32), depth_mm=depth,
        frontal=np.stack([front * left, front * right]).astype(np.float32),
        temporal=np.stack(temporal).astype(np.float32),
        precentral=np.stack([motor * left, motor * right]).astype(np.float32),
        c_gm=float(c_gm), c_wm=float(c_wm), c_csf=float(c_csf),
        centre_brain=centre_brain.astype(np.float64), centre_vent=np.asarray(centre_vent, dtype=np.float64),
        affine=tpl.affine, inv_affine=np.linalg.inv(tpl.affine), shape=tuple(mask.shape),
        voxel_mm=tpl.voxel_mm)


def precentral_weight(xyz: np.ndarray, edge_mm: float = 3.0) -> np.ndarray:
    """Soft (sigmoid-edged, `edge_mm`) indicator of :data:`PRECENTRAL_MM` at world points ``(..., 3)``."""
    def inside(v: np.ndarray, lo: float, hi: float = np.inf) -> np.ndarray:
        up = 1.0 / (1.0 + np.exp(-(v - lo) / edge_mm))
        return up if hi == np.inf else up / (1.0 + np.exp((v - hi) / edge_mm))

    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    b = PRECENTRAL_MM
    return inside(y, *b["y"]) * inside(z, b["z_min"]) * inside(np.abs(x), *b["abs_x"])


# --------------------------------------------------------------------------------- subject draws
def _rng(p: PhantomParams, index: int, stream: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([p.seed, CONDITIONS[p.condition], index, stream]))


def subject_metadata(p: PhantomParams, index: int) -> dict[str, Any]:
    """Age, sex, site and condition of subject `index` (cheap: no voxels), and the severity of a disease."""
    rng = _rng(p, index, 0)
    age = float(rng.uniform(p.age_min, p.age_max))
    sex = "M" if rng.random() < 0.5 else "F"
    site = int(rng.integers(p.n_sites))
    meta: dict[str, Any] = {"age": round(age, 1), "sex": sex, "site": f"site-{site}", "condition": p.condition}
    if p.condition != "healthy":
        meta["severity"] = round(_severity(p, _rng(p, index, 1)), 3)
    return meta


def _severity(p: PhantomParams, rng: np.random.Generator) -> float:
    """A disease's severity in [0.4, 1.0] × atrophy: the first draw of the subject's anatomy stream."""
    return float(rng.uniform(0.4, 1.0)) * p.atrophy


def single_condition(p: PhantomParams) -> list[PhantomParams]:
    """The single-condition cohorts a (possibly mixed) cohort is made of, in :data:`CONDITIONS` order."""
    if p.conditions is None:
        return [p]
    return [dataclasses.replace(p, conditions=None, condition=c, n_subjects=p.conditions[c])  # type: ignore[arg-type]
            for c in CONDITIONS if p.conditions.get(c, 0) > 0]


def _site_effects(p: PhantomParams, site: int) -> dict[str, float]:
    rng = np.random.default_rng(np.random.SeedSequence([p.seed, 10_000 + site]))
    return {"d_gm": float(rng.normal(0, p.contrast)), "d_wm": float(rng.normal(0, p.contrast)),
            "noise": float(rng.uniform(0.7, 1.4)), "bias": float(rng.uniform(0.7, 1.3))}


def _rotation(angles: np.ndarray) -> np.ndarray:
    ax, ay, az = angles
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def generate_subject(p: PhantomParams, index: int, with_gm: bool = False) -> Any:
    """The voxels of subject `index` on the template grid at ``p.voxel_mm`` (float32, background 0); with
    `with_gm`, also its true grey-matter map (the template's GM probability after atrophy, warped the same
    way: the ground truth of tissue segmentation)."""
    import torch
    import torch.nn.functional as F

    m = _maps(float(p.voxel_mm))
    meta = subject_metadata(p, index)
    rng = _rng(p, index, 1)
    site = _site_effects(p, int(meta["site"].split("-")[1]))
    age_eff = float(np.clip((meta["age"] - 20.0) / 70.0, 0.0, 1.2)) * p.atrophy
    ftd, als = p.condition == "ftd-like", p.condition == "als-like"
    severity = _severity(p, rng) if ftd or als else 0.0
    lat = float(rng.uniform(-0.5, 0.5))

    # -- coarse sampling map: output world x -> template world p, computed every ~4 mm, then upsampled.
    step = max(1, int(round(4.0 / m.voxel_mm)))
    cshape = tuple(max(2, (s - 1) // step + 2) for s in m.shape)
    cidx = np.stack(np.meshgrid(*[np.linspace(0, s - 1, c) for s, c in zip(m.shape, cshape)], indexing="ij"), -1)
    x = cidx @ m.affine[:3, :3].T + m.affine[:3, 3]
    head = 1.0 + p.head_scale_sd * rng.standard_normal() + (0.02 if meta["sex"] == "M" else -0.02)
    head *= 1.0 - 0.04 * age_eff  # the brain shrinks with age
    scale = head * (1.0 + 0.02 * rng.standard_normal(3))
    rot = _rotation(np.deg2rad(p.pose_deg * rng.standard_normal(3)))
    shift = p.pose_mm * rng.standard_normal(3)
    c = m.centre_brain
    pts = ((x - c - shift) @ rot) / scale + c  # inverse of: scale about c, rotate, translate
    # random smooth displacement: Gaussian noise on a ~16 mm lattice, smoothed, trilinear in between
    lattice = tuple(max(2, int(round(s * m.voxel_mm / 16.0)) + 1) for s in m.shape)
    field = rng.standard_normal((3, *lattice)).astype(np.float32) * p.deformation_mm
    field_t = F.interpolate(torch.from_numpy(field)[None], size=cshape, mode="trilinear", align_corners=True)[0]
    pts = pts + field_t.permute(1, 2, 3, 0).numpy().astype(np.float64)
    # ventricle enlargement: p <- p - a (p - c_v) g(p); fold-free for a < 1 (a radial magnification)
    amp = min(0.7, 0.5 * age_eff ** 1.5 + 0.04 * abs(rng.standard_normal()) + 0.15 * severity)
    d = (pts - m.centre_vent) / np.array([18.0, 30.0, 16.0])
    pts = pts - amp * (pts - m.centre_vent) * np.exp(-0.5 * (d ** 2).sum(-1, keepdims=True))
    # smooth multiplicative bias field: exp of a random quadratic polynomial in normalised coordinates
    u = (x - c) / 90.0
    terms = [u[..., 0], u[..., 1], u[..., 2], u[..., 0] * u[..., 1], u[..., 0] * u[..., 2],
             u[..., 1] * u[..., 2], u[..., 0] ** 2 - 0.3, u[..., 1] ** 2 - 0.3, u[..., 2] ** 2 - 0.3]
    coef = rng.normal(0.0, p.bias * site["bias"], len(terms))
    log_bias = sum(ci * ti for ci, ti in zip(coef, terms))
    vox = pts @ m.inv_affine[:3, :3].T + m.inv_affine[:3, 3]  # template voxel index (i, j, k)
    norm = 2.0 * vox / (np.asarray(m.shape) - 1.0) - 1.0
    coarse = np.concatenate([norm[..., ::-1], log_bias[..., None]], axis=-1)  # grid_sample wants (k, j, i)
    full = F.interpolate(torch.from_numpy(coarse.astype(np.float32)).permute(3, 0, 1, 2)[None], size=m.shape,
                         mode="trilinear", align_corners=True)[0]
    grid = full[:3].permute(1, 2, 3, 0)[None]
    bias_field = torch.exp(full[3]).numpy()

    # -- template-space intensities with atrophy and contrast changes, then one warp
    thin = 0.5 * age_eff * np.exp(-m.depth_mm / 3.0)
    loss = thin
    if ftd:
        wl, wr = 1.0 + lat, 1.0 - lat
        region = wl * (m.frontal[0] + m.temporal[0]) + wr * (m.frontal[1] + m.temporal[1])
        loss = loss + 0.55 * severity * region
    if als:  # mild, one side more than the other (onset is often unilateral)
        wl, wr = 1.0 + 1.2 * lat, 1.0 - 1.2 * lat
        loss = loss + 0.35 * severity * (wl * m.precentral[0] + wr * m.precentral[1])
    loss = np.clip(loss, 0.0, 0.9)
    d_gm = site["d_gm"] + rng.normal(0.0, p.contrast)
    d_wm = site["d_wm"] + rng.normal(0.0, p.contrast)
    img = m.t1 + m.gm * (loss * (m.c_csf - m.c_gm) + d_gm) + m.wm * d_wm
    channels = [img.astype(np.float32), m.mask] + ([(m.gm * (1.0 - loss)).astype(np.float32)] if with_gm else [])
    stack = torch.from_numpy(np.stack(channels))[None]
    warped = F.grid_sample(stack, grid, mode="bilinear", padding_mode="zeros", align_corners=True)[0].numpy()
    brain = warped[1] > 0.5
    gain = float(rng.uniform(0.85, 1.15))
    signal = np.clip(warped[0], 0.0, None) * bias_field * gain
    sigma = p.noise * site["noise"] * max(m.c_wm, 1e-3) * gain
    n1 = rng.standard_normal(m.shape, dtype=np.float32)
    n2 = rng.standard_normal(m.shape, dtype=np.float32)
    out = np.sqrt((signal + sigma * n1) ** 2 + (sigma * n2) ** 2)  # Rician magnitude
    out[~brain] = 0.0
    if with_gm:
        return out.astype(np.float32), np.where(brain, warped[2], 0.0).astype(np.float32)
    return out.astype(np.float32)


def chained_cohort(p: PhantomParams, shape: tuple[int, int, int], with_gm: bool = False) -> Any:
    """The cohort of `p` through the suites' chain (crop-pad to the MNI box, resize to `shape`, scale-01),
    in memory; with `with_gm` also the true GM maps (``N×D×H×W``) through the same geometric steps."""
    from benchgen.interfaces import PrepContext
    from benchgen.volumes import Cohort
    from benchgen_data.steps import CropPad, Resize, ScaleUnit

    src = PhantomSource(p)
    ctx = PrepContext(target_shape=shape)
    affine = _maps(float(p.voxel_mm)).affine
    vols, gms = [], []
    for (sid, sp, i), item in zip(src._subjects(), src.items()):
        arr, gm = generate_subject(sp, i, with_gm=True)
        v, g = Volume(arr, affine.copy(), sid, dict(item.metadata)), Volume(gm, affine.copy(), sid)
        for step in (CropPad(), Resize()):
            v, g = step(v, ctx), step(g, ctx)
        vols.append(ScaleUnit()(v, ctx))
        gms.append(g.array)
    cohort = Cohort.from_volumes(vols)
    return (cohort, np.stack(gms)) if with_gm else cohort


# ------------------------------------------------------------------------------------------ plugin
class PhantomSource(DatasetSource):
    """Built-in synthetic cohort (see module docstring); needs no files."""

    version = "1"
    Params = PhantomParams
    tiny_params = {"n_subjects": 4, "voxel_mm": 6.0}

    def _subjects(self) -> list[tuple[str, PhantomParams, int]]:
        """(id, single-condition params, index) of every subject: a mixed cohort lists each condition's."""
        out = []
        for p in single_condition(self.params):
            width = max(4, len(str(p.n_subjects)))
            out += [(f"{ID_PREFIX[p.condition]}{i + 1:0{width}d}", p, i) for i in range(p.n_subjects)]
        return out

    def items(self) -> list[DataItem]:
        out = []
        for sid, p, i in self._subjects():  # keys as the single-condition cohort's: a subject's content identity
            gen = {k: v for k, v in params_to_dict(p).items() if k != "n_subjects"}
            key = fingerprint({"plugin": "phantom", "version": self.version, "params": gen, "index": i})
            out.append(DataItem(sid, key, subject_metadata(p, i), path=None))
        return out

    def load(self, item: DataItem) -> Volume:
        subjects = self._subjects()
        found = [(p, i) for sid, p, i in subjects if sid == item.subject_id]
        if not found:
            raise DataError(f"phantom: no subject '{item.subject_id}' in a cohort of {len(subjects)}")
        p, index = found[0]
        array = generate_subject(p, index)
        where = f"phantom[{index}]" if self.params.conditions is None else f"phantom[{p.condition}:{index}]"
        return Volume(array, _maps(float(p.voxel_mm)).affine.copy(), item.subject_id,
                      dict(item.metadata), source=where)
