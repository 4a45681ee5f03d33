"""Writing the report folder: refusing to replace files without ``--overwrite``, and
writing every file atomically (a temporary file, then a rename)."""

import os
import shutil
import tempfile

from .data import ReportError

OUTPUT_FILES = (
    "summary.md",
    "summary.html",
    "predicted_vs_actual.png",
    "influential_rows.csv",
    "coefficients.csv",
    "results.csv",
)


#: Written when the model has them (the diagnostics figure: not for multinomial models;
#: label issues: classifiers with probabilities; the removal curve: unless a removal
#: leaves a model that cannot be refitted).
OPTIONAL_OUTPUT_FILES = (
    "diagnostics.png", "label_issues.csv", "removal_curve.csv", "removal_curve.png",
)


# -- output folder ---------------------------------------------------------------------
def _prepare_out(path, overwrite):
    """Check the output folder before any long computation; return True if it was created."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ReportError(f"--out {path!r} exists and is not a folder; choose another --out.")
    existing = [
        f for f in OUTPUT_FILES + OPTIONAL_OUTPUT_FILES if os.path.exists(os.path.join(path, f))
    ]
    if existing and not overwrite:
        raise ReportError(
            f"{path}/ already holds a report ({', '.join(existing)}); pass --overwrite to "
            "replace it or choose another --out."
        )
    created = not os.path.exists(path)
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".skrif-write-test-"):
            pass
    except OSError as exc:
        raise ReportError(
            f"cannot write to output folder {path!r} ({exc.strerror or exc}); choose a "
            "writable --out."
        ) from None
    return created


def _write_file(folder, name, data):
    """Write ``data`` (str or bytes) to ``folder/name`` with the usual permissions."""
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(folder, name), mode, **({} if mode == "wb" else {"encoding": "utf-8", "newline": ""})) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _write_report(folder, files):
    """Write every report file, then swap them in: never a mix of old and new files.

    All files are first written (and synced) into a temporary folder inside
    ``folder``; only when every one is complete are they moved into place with
    ``os.replace`` (a rename within one file system: no data is written, so a full
    disk cannot interrupt it). Any failure before that leaves the old report
    untouched and removes the temporary folder.
    """
    stage = tempfile.mkdtemp(dir=folder, prefix=".skrif-staging-")
    try:
        umask = os.umask(0)
        os.umask(umask)
        for name, data in files.items():
            _write_file(stage, name, data)
            os.chmod(os.path.join(stage, name), 0o666 & ~umask)  # not mkstemp's 0600
        for name in files:
            os.replace(os.path.join(stage, name), os.path.join(folder, name))
    except OSError as exc:
        raise ReportError(
            f"writing the report to {folder}/ failed ({exc.strerror or exc}); the previous "
            "files there are unchanged."
        ) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
