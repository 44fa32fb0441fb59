"""WordNet 3.0's noun glosses, labelled by lexicographer file: lecture 06's and lab 06's documents.

Lecture 06's text retrieval (a document autoencoder vs LSA and TF-IDF) and lab 06 read them with
:func:`load_wordnet_glosses`. Nothing is downloaded: the file comes from Debian's
``wordnet-base`` (``/usr/share/wordnet/data.noun``), else from an NLTK ``wordnet`` corpus already
on disk (unpacked or zipped), which is the same WordNet 3.0.

The file is verified with what its format carries (``wndb(5WN)``): every synset line starts with
its own byte offset, and every pointer to another noun synset names that synset's byte offset.
A file cut anywhere, even at a line boundary, leaves pointers to offsets past its end (each
synset's hypernym points back to it), so a truncated file raises :class:`~aelab.data.DataError`
instead of silently loading half the glosses; a file whose licence names WordNet 3.0 must also
hold its 82,115 noun synsets.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from .._validation import integer
from ._idx import DataError

__all__ = ["DEBIAN_WORDNET_DIR", "WORDNET_NOUN_LEXNAMES", "load_wordnet_glosses"]

#: Where Debian's ``wordnet-base`` package installs WordNet 3.0's database files.
DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")
#: lex_filenum → lexicographer file name for nouns (WordNet 3.0, ``lexnames(5WN)``).
WORDNET_NOUN_LEXNAMES = {
    3: "noun.Tops", 4: "noun.act", 5: "noun.animal", 6: "noun.artifact", 7: "noun.attribute",
    8: "noun.body", 9: "noun.cognition", 10: "noun.communication", 11: "noun.event", 12: "noun.feeling",
    13: "noun.food", 14: "noun.group", 15: "noun.location", 16: "noun.motive", 17: "noun.object",
    18: "noun.person", 19: "noun.phenomenon", 20: "noun.plant", 21: "noun.possession", 22: "noun.process",
    23: "noun.quantity", 24: "noun.relation", 25: "noun.shape", 26: "noun.state", 27: "noun.substance",
    28: "noun.time"}
_WORDNET_INSTALL = ("Fix: `sudo apt-get install wordnet-base` (installs WordNet 3.0 under /usr/share/wordnet), "
                    "or, where NLTK is installed, run `python -m nltk.downloader wordnet` once with network access")


#: The noun file's name inside NLTK's ``corpora/wordnet.zip``.
_WORDNET_ZIP_MEMBER = "wordnet/data.noun"
#: Noun synsets in WordNet 3.0's ``data.noun`` (Princeton's release statistics, ``wnstats(7WN)``).
_WORDNET30_NOUN_SYNSETS = 82115
_NOUN_POINTER = re.compile(rb" (\d{8}) n [0-9a-f]{4}(?= )")
_REINSTALL = ("Fix: `sudo apt-get install --reinstall wordnet-base` (or delete NLTK's corpora/wordnet and "
              "corpora/wordnet.zip and download it again).")


def _unreadable(file: Path, exc: OSError) -> DataError:
    """A file that exists but cannot be read: permissions are fixed with chmod, not by installing."""
    if isinstance(exc, PermissionError):
        return DataError(f"{file} cannot be read: permission denied. Fix: make it readable for your user "
                         f"(e.g. `sudo chmod a+r {file}` and `a+x` on its folders), or pass path= a readable "
                         "copy of data.noun.")
    return DataError(f"{file} cannot be read ({exc.strerror or exc}). {_REINSTALL}")


def _nltk_wordnet_dir() -> Path | None:
    """NLTK's already-downloaded ``wordnet`` corpus, if NLTK and the corpus are there (never downloads).

    The unpacked folder ``corpora/wordnet`` if there is one, else ``corpora/wordnet.zip`` itself:
    NLTK's downloader leaves WordNet zipped (its index marks it ``unzip="0"`` since 2022). An NLTK
    that fails to import for any reason (missing, broken, incompatible) is simply no fallback.
    """
    try:
        import nltk.data

        folders = [Path(folder) for folder in getattr(nltk.data, "path", [])]
    except Exception:  # a broken NLTK is a missing fallback, not a crash
        return None
    for folder in folders:
        candidate = folder / "corpora" / "wordnet"
        try:
            if (candidate / "data.noun").is_file():
                return candidate
            if candidate.with_suffix(".zip").is_file():
                return candidate.with_suffix(".zip")
        except OSError:  # a folder on NLTK's path that cannot be searched
            continue
    return None


def _wordnet_noun_file(path: str | Path | None) -> Path:
    """The ``data.noun`` file to read: ``path`` (a file or its folder), else Debian's, else NLTK's."""
    if path is not None:
        path = Path(path)
        try:
            file = path / "data.noun" if path.is_dir() else path      # a data.noun file, its folder, or wordnet.zip
            exists = file.is_file()
        except PermissionError as exc:
            raise _unreadable(path, exc) from exc
        if not exists:
            raise DataError(f"WordNet's noun file {file} does not exist. {_WORDNET_INSTALL}, or pass the folder "
                            "that holds data.noun.")
        return file
    try:
        if (DEBIAN_WORDNET_DIR / "data.noun").is_file():
            return DEBIAN_WORDNET_DIR / "data.noun"
    except PermissionError as exc:
        raise _unreadable(DEBIAN_WORDNET_DIR / "data.noun", exc) from exc
    nltk_dir = _nltk_wordnet_dir()
    if nltk_dir is not None:
        return nltk_dir if nltk_dir.suffix == ".zip" else nltk_dir / "data.noun"
    raise DataError(f"WordNet 3.0 is not installed: neither {DEBIAN_WORDNET_DIR / 'data.noun'} nor NLTK's wordnet "
                    f"corpus exists. {_WORDNET_INSTALL}.")


def _read_noun_bytes(file: Path) -> tuple[bytes, Path]:
    """The bytes of ``data.noun`` (from NLTK's zip too) and the name to give it in messages."""
    try:
        if file.suffix == ".zip":                                     # NLTK's zipped corpus
            try:
                with zipfile.ZipFile(file) as archive:
                    raw = archive.read(_WORDNET_ZIP_MEMBER)
            except (zipfile.BadZipFile, KeyError, EOFError, zlib.error) as exc:
                raise DataError(f"{file} is damaged: it is not a zip file holding {_WORDNET_ZIP_MEMBER} ({exc}). "
                                f"{_REINSTALL}") from None
            return raw, Path(f"{file}:{_WORDNET_ZIP_MEMBER}")         # named so in the messages
        return file.read_bytes(), file
    except OSError as exc:
        raise _unreadable(file, exc) from exc


def _parse_wordnet_nouns(file: Path) -> tuple[list[str], list[int]]:
    """Glosses and lex_filenums of every synset line of a ``data.noun`` file, verified (wndb(5WN)).

    A synset line is ``synset_offset lex_filenum ss_type w_cnt word lex_id ... p_cnt
    [pointer_symbol synset_offset pos source/target]... | gloss``; ``w_cnt`` is hexadecimal.
    """
    raw, file = _read_noun_bytes(file)

    def damaged(what: str) -> DataError:
        return DataError(f"{file} is damaged: {what}. {_REINSTALL}")

    if not raw.endswith(b"\n"):
        raise damaged(f"it does not end with a newline ({len(raw)} bytes): the file is truncated")
    glosses, lexfiles, starts, position = [], [], set(), 0
    header = b""
    for number, line in enumerate(raw.split(b"\n")[:-1], start=1):
        start, position = position, position + len(line) + 1
        if line.startswith(b"  "):                                   # the license header
            header += line
            continue
        fields = line.split(b" ", 4)
        # synset_offset lex_filenum ss_type w_cnt ... | gloss; the offset is the line's byte position.
        if (len(fields) < 5 or not fields[0].isdigit() or int(fields[0]) != start or b" | " not in line
                or fields[2] != b"n" or not fields[1].isdigit()):
            raise damaged(f"line {number} is not a noun synset line whose offset is its byte position "
                          f"({line[:60]!r})")
        lexfile = int(fields[1])
        if lexfile not in WORDNET_NOUN_LEXNAMES:
            raise damaged(f"line {number} names lexicographer file {lexfile}, not a noun file (03-28)")
        head, gloss = line.split(b" | ", 1)
        try:
            glosses.append(gloss.decode("utf-8").strip())
        except UnicodeDecodeError:
            raise damaged(f"line {number} is not valid text") from None
        lexfiles.append(lexfile)
        starts.add(fields[0])                                        # as written: 8 digits
    if not glosses:
        raise damaged("it holds no synset lines")
    # pointers to noun synsets: "pointer_symbol synset_offset n source/target" (8 decimal, 4 hex digits)
    missing = set(_NOUN_POINTER.findall(raw)) - starts
    if missing:
        offset = int(min(missing))
        number = raw.count(b"\n", 0, raw.index(b" %08d n " % offset)) + 1
        raise damaged(f"line {number} points to the synset at byte {offset}, but no synset line starts there "
                      f"({len(missing)} such offsets; the file has {len(raw)} bytes): the file is truncated "
                      "or lines were lost")
    if b"WordNet 3.0" in header and len(glosses) != _WORDNET30_NOUN_SYNSETS:
        raise damaged(f"it holds {len(glosses)} noun synsets, but WordNet 3.0 has {_WORDNET30_NOUN_SYNSETS}")
    return glosses, lexfiles


def load_wordnet_glosses(*, min_per_category: int = 500, path: str | Path | None = None
                         ) -> tuple[list[str], torch.Tensor, tuple[str, ...]]:
    """WordNet 3.0's noun glosses, each labeled by its lexicographer file (lecture 06's documents).

    A *gloss* is a synset's short definition, often followed by example sentences, e.g.
    ``'a member of the genus Canis ...; "the dog barked all night"'``. Each noun synset belongs to
    one of 26 lexicographer files (``noun.animal``, ``noun.artifact``, ``noun.food``, …, see
    ``lexnames(5WN)``): its *category* here. Categories with fewer than ``min_per_category``
    glosses are left out (with the default 500: 80,816 glosses in 21 categories of WordNet 3.0's
    82,115 noun synsets). Nothing is downloaded: the files come from Debian's ``wordnet-base``
    (``/usr/share/wordnet/data.noun``, format ``wndb(5WN)``), else from NLTK's ``wordnet``
    corpus where it was downloaded before (the same WordNet 3.0).

    Parameters
    ----------
    min_per_category : int
        Keep categories with at least this many glosses (>= 1).
    path : path, optional
        A ``data.noun`` file, the folder holding it, or NLTK's ``wordnet.zip``; default: Debian's,
        then NLTK's (unpacked or zipped).

    Returns
    -------
    documents : list of str
        N glosses, in file order.
    labels : torch.Tensor
        int64, ``(N,)``, in ``[0, C)``: the index of each gloss's category in ``names``.
    names : tuple of str
        C category names (e.g. ``"noun.animal"``), in lexicographer-file order.

    Raises
    ------
    DataError
        If WordNet is not installed (the message says ``apt-get install wordnet-base``, or NLTK's
        downloader); if the file cannot be read (a permission error says how to make it
        readable); or if it is damaged: truncated (even at a line boundary: a pointer to a synset
        past the end), a line that is not a noun synset line, an offset that is not the line's
        byte position, a WordNet 3.0 file without its 82,115 noun synsets (the message names the
        file and ``apt-get install --reinstall wordnet-base``).
    TypeError
        If ``min_per_category`` is not an integer.
    ValueError
        If ``min_per_category`` is below 1, or no category has that many glosses.
    """
    min_per_category = integer(min_per_category, "min_per_category", minimum=1)
    glosses, lexfiles = _parse_wordnet_nouns(_wordnet_noun_file(path))
    counts = np.bincount(lexfiles, minlength=max(WORDNET_NOUN_LEXNAMES) + 1)
    kept = [lex for lex in sorted(WORDNET_NOUN_LEXNAMES) if counts[lex] >= min_per_category]
    if not kept:
        raise ValueError(f"no category has {min_per_category} glosses or more (the largest has {counts.max()})")
    index = {lex: i for i, lex in enumerate(kept)}
    rows = [i for i, lex in enumerate(lexfiles) if lex in index]
    labels = torch.tensor([index[lexfiles[i]] for i in rows], dtype=torch.int64)
    return [glosses[i] for i in rows], labels, tuple(WORDNET_NOUN_LEXNAMES[lex] for lex in kept)
