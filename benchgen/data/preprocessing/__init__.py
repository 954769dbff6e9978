"""Preprocessing: the driver (in memory, in parallel) and the two folder writers built on it.

* :mod:`.driver` — :func:`process_items`: a source's items through a chain of steps, for the runner;
* :mod:`.folder` — :func:`preprocess_folder`: ``benchgen preprocess`` folder to folder;
* :mod:`.export` — :func:`export_dataset`: ``benchgen data export`` (any source as NIfTI files).
"""

from benchgen.data.preprocessing.driver import Failure, process_items, run_item
from benchgen.data.preprocessing.export import ExportReport, export_dataset, export_source
from benchgen.data.preprocessing.folder import PreprocessReport, preprocess_folder

__all__ = ["ExportReport", "Failure", "PreprocessReport", "export_dataset", "export_source", "preprocess_folder",
           "process_items", "run_item"]
