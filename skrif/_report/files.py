"""Writing the report folder: refusing to replace files without ``--overwrite``, and
writing every file atomically (a temporary file, then a rename)."""

import os
import shutil
import tempfile

import numpy as np

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
    # lexists: a dangling symlink named like a report file is a file too.
    existing = [
        f for f in OUTPUT_FILES + OPTIONAL_OUTPUT_FILES if os.path.lexists(os.path.join(path, f))
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
    ``folder``. Then the old files are moved aside into a backup folder and the
    new ones moved in, all by ``os.replace`` (renames within one file system: no
    data is written, so a full disk cannot interrupt them). If any step fails the
    new files are taken out and the old ones moved back, so the folder holds the
    old report whole; should even that fail, the error names the files that
    changed. A name taken by a folder is refused before anything moves.
    """
    blocked = [name for name in files if os.path.isdir(os.path.join(folder, name))
               and not os.path.islink(os.path.join(folder, name))]
    if blocked:
        raise ReportError(
            f"cannot write the report to {folder}/: {', '.join(blocked)} is a folder; "
            "remove or rename it. No file was changed."
        )
    stage = tempfile.mkdtemp(dir=folder, prefix=".skrif-staging-")
    backup = tempfile.mkdtemp(dir=folder, prefix=".skrif-previous-")
    moved_aside, moved_in = [], []
    try:
        umask = os.umask(0)
        os.umask(umask)
        for name, data in files.items():
            _write_file(stage, name, data)
            os.chmod(os.path.join(stage, name), 0o666 & ~umask)  # not mkstemp's 0600
        for name in files:
            target = os.path.join(folder, name)
            if os.path.lexists(target):
                os.replace(target, os.path.join(backup, name))
                moved_aside.append(name)
            os.replace(os.path.join(stage, name), target)
            moved_in.append(name)
    except OSError as exc:
        changed = _roll_back(folder, backup, moved_aside, moved_in)
        what = (
            "the previous files there are unchanged"
            if not changed
            else f"these files could not be restored and changed: {', '.join(changed)}"
        )
        raise ReportError(
            f"writing the report to {folder}/ failed ({exc.strerror or exc}); {what}."
        ) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        shutil.rmtree(backup, ignore_errors=True)


def _roll_back(folder, backup, moved_aside, moved_in):
    """Undo a partial swap; return the names that could not be restored."""
    changed = []
    for name in moved_in:
        try:
            os.remove(os.path.join(folder, name))
        except OSError:
            changed.append(name)
    for name in moved_aside:
        try:
            os.replace(os.path.join(backup, name), os.path.join(folder, name))
        except OSError:
            if name not in changed:
                changed.append(name)
    return changed


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV
#: injection"): such text cells are written with a leading apostrophe.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


_RISKY = np.frompyfunc(lambda v: isinstance(v, str) and v.startswith(FORMULA_START), 1, 1)


def csv_text(frame):
    """``frame.to_csv(index=False)`` with text cells that a spreadsheet would run as a
    formula (``=cmd|' /C calc'!A0``, a feature name from the user's CSV header)
    prefixed with ``'``; numbers are written as they are. O(cells of text columns)."""
    text = [
        j for j, dtype in enumerate(frame.dtypes)
        if dtype.kind in "OUS" or str(dtype) in ("string", "str")
    ]
    out = frame
    if text:
        cells = frame.iloc[:, text].to_numpy(dtype=object)
        risky = _RISKY(cells).astype(bool)  # one pass over every text cell
        if risky.any():
            out = frame.copy()
            for k in np.flatnonzero(risky.any(axis=0)):
                column = cells[:, k].copy()
                column[risky[:, k]] = ["'" + v for v in column[risky[:, k]]]
                out.isetitem(text[k], column)
    header = ["'" + c if isinstance(c, str) and c.startswith(FORMULA_START) else c
              for c in frame.columns]
    return out.to_csv(index=False, header=header)
