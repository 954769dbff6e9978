"""The template parcels (the default regions of `utility` and `anatomy`) are reproducible and do not follow
the phantom's disease regions."""

from __future__ import annotations

import numpy as np
from benchgen_data.phantom import precentral_weight
from benchgen_data.templates import load_template, voxel_world_coords
from benchgen_metrics import parcels


def test_parcels_are_reproducible_and_identified_by_their_checksum():
    c = parcels.centroids()
    assert c.shape == (parcels.N_PARCELS, 3)
    # the recorded identity of the default regions: a change of scikit-learn's k-means that moves the parcels
    # changes this, and the metrics' versions must follow
    assert parcels.checksum() == "d6b11b5d8cc6c922"
    assert parcels.parcel_index(c[[3, 17]]).tolist() == [3, 17]


def test_no_parcel_coincides_with_a_disease_region_of_the_phantom():
    """Dice of every parcel with each region the phantom plants its diseases in (the soft maps of
    benchgen_data.phantom above 0.5, on the 2 mm template grid) stays below 0.5: each disease region is split
    between parcels, and no parcel is a copy of one."""
    tpl = load_template(2.0)
    xyz = voxel_world_coords(tpl.mask.shape, tpl.affine)[tpl.mask].astype(np.float64)
    x, y, z = xyz.T
    motor = precentral_weight(xyz) > 0.5
    regions = {"precentral_l": motor & (x < 0), "precentral_r": motor & (x >= 0),
               **{f"temporal_{s}": np.exp(-0.5 * (((x - sx * 48.0) / 12.0) ** 2 + ((y + 15.0) / 28.0) ** 2
                                                  + ((z + 20.0) / 12.0) ** 2)) > 0.5
                  for s, sx in (("l", -1.0), ("r", 1.0))}}
    label = parcels.parcel_index(xyz)
    dice = {name: max(2 * (r & (label == k)).sum() / (r.sum() + (label == k).sum())
                      for k in range(parcels.N_PARCELS)) for name, r in regions.items()}
    # measured: 0.49, 0.44, 0.31, 0.49
    assert max(dice.values()) < 0.5, dice
    # the frontal half (y > 0) is covered by many parcels, none of which straddles far beyond it
    assert len(np.unique(label[y > 5])) >= 10


def test_grid_cubes_are_offset_from_round_coordinates():
    pts = np.array([[-3.5, 0.0, 0.0], [-2.5, 0.0, 0.0], [16.9, 0.0, 0.0], [17.1, 0.0, 0.0]])
    a, b, c, d = parcels.grid_index(pts)
    assert a != b and b == c and c != d  # faces at -3 and 17 mm (7 + 20 k)
