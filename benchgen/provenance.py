"""Versions and environment recorded with every score."""

from __future__ import annotations

import functools
import os
import subprocess
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch


def _version(pkg: str) -> str:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return "?"


@functools.lru_cache(maxsize=1)
def git_sha() -> str | None:
    """The benchgen source tree's commit (None when installed without git metadata)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def resolve_device(requested: str = "auto") -> str:
    from benchgen.errors import ConfigError

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA device is available",
                          'use device = "auto" or "cpu"')
    return requested


def device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(0)}"
    return "cpu"


def environment(device: str) -> dict[str, Any]:
    """Versions and hardware stored with every score. Floating-point kernels differ between CPU and GPU
    models, so the same config reproduces bit for bit only on the same hardware and library build."""
    from benchgen.version import __version__

    return {"benchgen_version": __version__, "git_sha": git_sha(), "torch_version": torch.__version__,
            "monai_version": _version("monai"), "device": device_name(device), "extra": {"hardware": hardware()}}


@functools.lru_cache(maxsize=1)
def hardware() -> dict[str, Any]:
    """The CPU model and thread count, and the GPU model when CUDA is present."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {"cpu": cpu, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                            "cpu_bf16": cpu_bf16()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of x86 bfloat16 arithmetic


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):  # x86, ARM
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@functools.lru_cache(maxsize=1)
def cpu_bf16() -> str:
    """How this CPU runs bfloat16 convolutions and matmuls (what `mixed_precision = "bf16"` costs on it):
    "native" (bf16 instructions: avx512_bf16 / amx_bf16, ARM bf16), "emulated" (oneDNN converts to fp32 on
    AVX-512 without them), or "none" (no oneDNN bf16 kernels: reference code, many times slower than fp32 —
    docs/performance.md)."""
    flags = cpu_flags()
    if flags & {*BF16_FLAGS, "bf16"}:
        return "native"
    try:
        kernels = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())  # torch's own query (no public API)
    except (AttributeError, RuntimeError):
        kernels = "avx512bw" in flags
    return "emulated" if kernels else "none"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def tool_versions() -> dict[str, str]:
    """Versions of the libraries that can change preprocessed voxels."""
    from importlib import metadata

    out = {}
    for dist in ("benchgen", "numpy", "scipy", "scikit-image", "nibabel", "nilearn", "SimpleITK", "torch"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out
