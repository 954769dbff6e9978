"""The full legend of a board (`benchgen leaderboard --explain`): what each column measures, and what its cells,
ranks and marks mean. The short legend under each rendered board is :meth:`benchgen.board.board.Board.caption`."""

from __future__ import annotations

from benchgen.board.board import Board

# What each column of a board measures, in full (`benchgen leaderboard --explain`, docs/metrics.md).
METRIC_LEGEND = {
    "mmd": "MMD, maximum mean discrepancy: the unbiased squared MMD between the real and synthetic volumes (by "
           "default with a linear kernel on voxels, as MONAI's MMDMetric); 0 when both sets come from one "
           "distribution, can be < 0",
    "frd": "FRD, Fréchet radiomics distance: the Fréchet distance between Gaussians fitted to 39 hand-written "
           "radiomic features per volume (intensity statistics, grey-level co-occurrence texture, filter "
           "responses), z-scored against the real set; benchgen's own feature set, not comparable with the FRD "
           "values published with the frd-score package",
    "fid": "FID, Fréchet distance between Gaussians fitted to deep features of a pretrained 3D network "
           "(MedicalNet, local weights); values of different extractors are never comparable",
    "kid": "KID, kernel inception distance: the unbiased squared MMD of radiomic features (by default) with a cubic "
           "polynomial kernel, averaged over random subsets (as torch-fidelity computes it); can be < 0",
    "ms-ssim": "MS-SSIM, multi-scale structural similarity: the mean over pairs of synthetic volumes (diversity: "
               "lower is more diverse); ranked by its distance to the real set's own value",
    "prdc": "PRDC, precision / recall / density / coverage (Naeem et al., 2020) on radiomic features: "
            "precision and density, how much of the synthetic set lies in the real set's k-nearest-neighbour "
            "neighbourhoods; recall and coverage, how much of the real set the synthetic set reaches",
    "memorization": "memorization.copies: the share of synthetic volumes closer to a training scan (normalized "
                    "cross-correlation over small shifts) than held-out real scans are (copying); "
                    "memorization.authpct: AuthPct (Alaa et al., 2022), the percentage of synthetic volumes "
                    "that are authentic (their nearest training scan is closer to another training scan than "
                    "to them), ranked by its distance to the held-out real scans' own value",
    "anatomy": "anatomy.w1: mean standardised Wasserstein-1 distance of regional tissue volumes (CSF, grey and "
               "white matter); anatomy.effect: the error between synthetic and real disease effect sizes per region",
    "utility": "utility: ΔAUC, the change in a condition classifier's AUC on held-out real scans when synthetic "
               "scans are added to its real training scans",
}


def metric_legend(column: str) -> str | None:
    """The full description of a board column (``prdc.recall`` and ``frd[ftd]`` by their metric's name)."""
    base = column.split("[", 1)[0]
    return METRIC_LEGEND.get(base) or METRIC_LEGEND.get(base.split(".", 1)[0])


def explain(boards: list[Board], width: int = 100) -> str:
    """The full legend of `boards`: what each column measures, and what the cells, ranks and marks mean."""
    import textwrap

    parts = []
    for b in boards:
        cols = sorted({c.split("[", 1)[0].split(".", 1)[0] for c in b.columns},
                      key=lambda m: next(i for i, c in enumerate(b.columns) if c.startswith(m)))
        items = [f"{m}: {metric_legend(m) or f'the metric plugin {m} (benchgen list {m})'}" for m in cols]
        items += ["", *b.caption().split(" · ")]
        lines = [b.title(), ""] + [textwrap.fill(t, width, initial_indent="  ", subsequent_indent="    ") if t else ""
                                   for t in items]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)

