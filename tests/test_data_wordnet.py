"""aelab.data.wordnet: WordNet 3.0 noun glosses labeled by lexicographer file.

Small fake ``data.noun`` files (wndb(5WN) format: the synset offset is the line's byte position,
pointers name other synsets' offsets) test the parser, the category labels and the damaged-file
errors (a file cut at a line boundary included); the real Debian file, where installed, gives
WordNet 3.0's known counts and is refused once cut.
"""

import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from aelab import data
from aelab.data import DataError, wordnet

HEADER = ["  1 This software and database is being provided to you, the LICENSEE, by  ",
          "  2 Princeton University under the following license.  "]
HAS_DEBIAN_WORDNET = (data.DEBIAN_WORDNET_DIR / "data.noun").is_file()


def _noun_lines(synsets, offsets) -> list[str]:
    """wndb lines; synset i points to i-1 (``@`` hypernym) and i+1 (``~`` hyponym), as WordNet's do."""
    lines = []
    for i, (lexfile, word, gloss) in enumerate(synsets):
        pointers = [f"@ {offsets[i - 1]:08d} n 0000"] if i > 0 else []
        pointers += [f"~ {offsets[i + 1]:08d} n 0000"] if i + 1 < len(synsets) else []
        lines.append(f"{offsets[i]:08d} {lexfile:02d} n 01 {word} 0 {len(pointers):03d} "
                     + "".join(p + " " for p in pointers) + f"| {gloss}  \n")
    return lines


def write_noun_file(path: Path, synsets, header=HEADER) -> Path:
    """Write ``(lex_filenum, word, gloss)`` synsets as a wndb data.noun file with correct byte offsets."""
    text = "".join(line + "\n" for line in header)
    offsets, position = [], len(text.encode("utf-8"))
    for line in _noun_lines(synsets, [0] * len(synsets)):  # fixed-width fields: lengths do not depend on offsets
        offsets.append(position)
        position += len(line.encode("utf-8"))
    path.write_bytes((text + "".join(_noun_lines(synsets, offsets))).encode("utf-8"))
    return path


SYNSETS = [(5, "dog", "a domesticated carnivorous mammal"), (13, "bread", "food made from dough"),
           (5, "cat", "a feline mammal; \"the cat purred\""), (6, "chair", "a seat for one person"),
           (13, "apple", "fruit with red or yellow skin"), (5, "horse", "a solid-hoofed mammal")]


@pytest.fixture
def nouns(tmp_path):
    return write_noun_file(tmp_path / "data.noun", SYNSETS)


def test_glosses_and_category_labels(nouns):
    docs, labels, names = data.load_wordnet_glosses(min_per_category=1, path=nouns)
    assert docs == [gloss for _, _, gloss in SYNSETS]            # gloss text, trailing spaces stripped
    assert names == ("noun.animal", "noun.artifact", "noun.food")   # lexicographer-file order (05, 06, 13)
    assert labels.dtype == torch.int64 and labels.tolist() == [0, 2, 0, 1, 2, 0]
    assert [names[i] for i in labels] == [data.WORDNET_NOUN_LEXNAMES[lex] for lex, _, _ in SYNSETS]


def test_small_categories_are_left_out_and_labels_renumbered(nouns):
    docs, labels, names = data.load_wordnet_glosses(min_per_category=2, path=nouns.parent)  # a folder works too
    assert names == ("noun.animal", "noun.food")
    assert "a seat for one person" not in docs and len(docs) == 5
    assert labels.tolist() == [0, 1, 0, 1, 0]
    with pytest.raises(ValueError, match="no category has 4"):
        data.load_wordnet_glosses(min_per_category=4, path=nouns)
    with pytest.raises(ValueError, match="min_per_category must be at least 1"):
        data.load_wordnet_glosses(min_per_category=0, path=nouns)
    assert data.load_wordnet_glosses(min_per_category=np.int64(2), path=nouns)[2] == names  # NumPy integers are fine
    with pytest.raises(TypeError, match="min_per_category must be an integer"):
        data.load_wordnet_glosses(min_per_category=2.0, path=nouns)


def test_truncated_file_names_the_file_and_the_fix(nouns):
    nouns.write_bytes(nouns.read_bytes()[:-20])
    fix = r"apt-get install --reinstall wordnet-base"
    with pytest.raises(DataError, match=rf"(?s)data\.noun is damaged.*truncated.*{fix}"):
        data.load_wordnet_glosses(min_per_category=1, path=nouns)


@pytest.mark.parametrize("damage", ["shift", "garbage", "lexfile", "verb"])
def test_damaged_lines_are_rejected(nouns, damage):
    raw = nouns.read_bytes()
    if damage == "shift":          # one byte lost in the middle: later offsets no longer match
        cut = raw.index(b"feline")
        raw = raw[:cut] + raw[cut + 1:]
    elif damage == "garbage":
        raw = raw.replace(b"a seat for one person", b"\x00\x01")
        raw = raw.replace(b" | \x00\x01", b" \x00\x01")
    elif damage == "lexfile":
        raw = raw.replace(b" 06 n 01 chair", b" 44 n 01 chair")
    else:
        raw = raw.replace(b" 06 n 01 chair", b" 06 v 01 chair")
    nouns.write_bytes(raw)
    with pytest.raises(DataError, match=rf"{nouns.name} is damaged: line \d+"):
        data.load_wordnet_glosses(min_per_category=1, path=nouns)


def test_empty_file_is_damaged(tmp_path):
    path = tmp_path / "data.noun"
    path.write_text("".join(line + "\n" for line in HEADER))
    with pytest.raises(DataError, match="holds no synset lines"):
        data.load_wordnet_glosses(path=path)


def test_offline_without_wordnet_says_how_to_install_it(monkeypatch, tmp_path):
    """No Debian files and no NLTK corpus: a DataError at once (nothing is downloaded)."""
    monkeypatch.setattr(wordnet, "DEBIAN_WORDNET_DIR", tmp_path / "absent")
    monkeypatch.setitem(sys.modules, "nltk", None)                 # `import nltk` fails
    monkeypatch.setitem(sys.modules, "nltk.data", None)
    with pytest.raises(DataError, match=r"(?s)not installed.*apt-get install wordnet-base.*nltk"):
        data.load_wordnet_glosses()
    with pytest.raises(DataError, match="does not exist"):
        data.load_wordnet_glosses(path=tmp_path / "nowhere" / "data.noun")


def test_nltk_corpus_is_the_fallback(monkeypatch, tmp_path):
    """Without Debian's package, an already-downloaded NLTK wordnet corpus is read (no download)."""
    corpus = tmp_path / "nltk_data" / "corpora" / "wordnet"
    corpus.mkdir(parents=True)
    write_noun_file(corpus / "data.noun", SYNSETS)
    fake_data = types.ModuleType("nltk.data")
    fake_data.path = [str(tmp_path / "elsewhere"), str(tmp_path / "nltk_data")]
    fake = types.ModuleType("nltk")
    fake.data = fake_data
    monkeypatch.setitem(sys.modules, "nltk", fake)
    monkeypatch.setitem(sys.modules, "nltk.data", fake_data)
    monkeypatch.setattr(wordnet, "DEBIAN_WORDNET_DIR", tmp_path / "absent")
    docs, labels, names = data.load_wordnet_glosses(min_per_category=1)
    assert len(docs) == len(SYNSETS) and names[0] == "noun.animal"


def _fake_nltk(monkeypatch, tmp_path):
    """NLTK importable with its data path at tmp_path/nltk_data, and no Debian WordNet."""
    fake_data = types.ModuleType("nltk.data")
    fake_data.path = [str(tmp_path / "nltk_data")]
    fake = types.ModuleType("nltk")
    fake.data = fake_data
    monkeypatch.setitem(sys.modules, "nltk", fake)
    monkeypatch.setitem(sys.modules, "nltk.data", fake_data)
    monkeypatch.setattr(wordnet, "DEBIAN_WORDNET_DIR", tmp_path / "absent")
    corpora = tmp_path / "nltk_data" / "corpora"
    corpora.mkdir(parents=True)
    return corpora


def test_nltk_zipped_corpus_is_read(monkeypatch, tmp_path):
    """NLTK's downloader leaves WordNet as corpora/wordnet.zip (not unpacked): it is read from the zip."""
    import zipfile

    corpora = _fake_nltk(monkeypatch, tmp_path)
    raw = write_noun_file(tmp_path / "data.noun", SYNSETS).read_bytes()
    with zipfile.ZipFile(corpora / "wordnet.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("wordnet/data.noun", raw)
        archive.writestr("wordnet/LICENSE", "license")
    docs, labels, names = data.load_wordnet_glosses(min_per_category=1)
    assert docs == [gloss for _, _, gloss in SYNSETS] and labels.tolist() == [0, 2, 0, 1, 2, 0]
    assert data.load_wordnet_glosses(min_per_category=1, path=corpora / "wordnet.zip")[0] == docs


@pytest.mark.parametrize("damage", ["not a zip", "no data.noun", "truncated member"])
def test_damaged_nltk_zip_names_the_file_and_the_fix(monkeypatch, tmp_path, damage):
    import zipfile

    corpora = _fake_nltk(monkeypatch, tmp_path)
    raw = write_noun_file(tmp_path / "data.noun", SYNSETS).read_bytes()
    if damage == "not a zip":
        (corpora / "wordnet.zip").write_bytes(raw[:100])
    else:
        with zipfile.ZipFile(corpora / "wordnet.zip", "w") as archive:
            archive.writestr("wordnet/data.noun" if damage != "no data.noun" else "wordnet/index.noun",
                             raw[:-20] if damage == "truncated member" else raw)
    with pytest.raises(DataError, match=r"(?s)wordnet\.zip.*damaged.*wordnet\.zip and download it again"):
        data.load_wordnet_glosses(min_per_category=1)


@pytest.mark.skipif(not HAS_DEBIAN_WORDNET, reason="Debian's wordnet-base is not installed")
def test_debian_wordnet_counts():
    docs, labels, names = data.load_wordnet_glosses(min_per_category=1)
    assert len(docs) == 82115 and len(names) == 26                # WordNet 3.0's noun synsets
    docs, labels, names = data.load_wordnet_glosses()
    assert len(docs) == 80816 and len(names) == 21
    assert torch.bincount(labels).min() >= 500 and "noun.Tops" not in names
    animal = [d for d, label in zip(docs, labels.tolist()) if names[label] == "noun.animal"]
    assert sum("mammal" in d for d in animal) > 100               # the labels are the glosses' own


# --- issue 22 item 8: a file cut at a line boundary, a broken NLTK, a permission error -----------

def _cut_at_line_boundary(raw: bytes, fraction: float) -> bytes:
    """The first lines of ``raw`` up to about ``fraction`` of its bytes, ending with a whole line."""
    return raw[:raw.rindex(b"\n", 0, int(len(raw) * fraction)) + 1]


@pytest.mark.parametrize("fraction", [0.5, 0.7, 0.9])
def test_file_cut_at_a_line_boundary_is_refused(nouns, fraction):
    """Every line is sound and ends with a newline: only the pointers past the end show the cut."""
    nouns.write_bytes(_cut_at_line_boundary(nouns.read_bytes(), fraction))
    with pytest.raises(DataError, match=r"(?s)data\.noun is damaged: line \d+ points to the synset at byte \d+, "
                                        r"but no synset line starts there.*truncated.*"
                                        r"apt-get install --reinstall wordnet-base"):
        data.load_wordnet_glosses(min_per_category=1, path=nouns)


def test_pointer_to_the_middle_of_a_line_is_refused(nouns):
    raw = nouns.read_bytes()
    first = raw.index(b"@ ") + 2
    nouns.write_bytes(raw[:first] + b"%08d" % (int(raw[first:first + 8]) + 1) + raw[first + 8:])
    with pytest.raises(DataError, match="no synset line starts there"):
        data.load_wordnet_glosses(min_per_category=1, path=nouns)


def test_a_wordnet_30_file_must_hold_all_its_noun_synsets(tmp_path):
    """A file whose licence names WordNet 3.0 but holds fewer synsets (whole lines lost from the end)."""
    path = write_noun_file(tmp_path / "data.noun", SYNSETS, header=HEADER + ["  3 WordNet 3.0 Copyright 2006 by "
                                                                             "Princeton University.  "])
    with pytest.raises(DataError, match="holds 6 noun synsets, but WordNet 3.0 has 82115"):
        data.load_wordnet_glosses(min_per_category=1, path=path)


@pytest.mark.skipif(not HAS_DEBIAN_WORDNET, reason="Debian's wordnet-base is not installed")
def test_debian_file_cut_at_a_line_boundary_is_refused(tmp_path):
    """The issue's case: half of the real file, cut after a whole line, loaded 41,076 of 80,816 glosses."""
    raw = (data.DEBIAN_WORDNET_DIR / "data.noun").read_bytes()
    for fraction in (0.5, 0.999):
        cut = tmp_path / f"cut-{fraction}" / "data.noun"
        cut.parent.mkdir()
        cut.write_bytes(_cut_at_line_boundary(raw, fraction))
        with pytest.raises(DataError, match=r"damaged: line \d+ points to the synset at byte"):
            data.load_wordnet_glosses(path=cut)


@pytest.mark.parametrize("error", [RuntimeError, AttributeError, OSError, SyntaxError])
def test_an_nltk_that_fails_to_import_is_no_fallback_not_a_crash(monkeypatch, tmp_path, error):
    package = tmp_path / "site" / "nltk"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"raise {error.__name__}('a broken NLTK install')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in [m for m in sys.modules if m == "nltk" or m.startswith("nltk.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(wordnet, "DEBIAN_WORDNET_DIR", tmp_path / "absent")
    with pytest.raises(DataError, match=r"(?s)not installed.*apt-get install wordnet-base"):
        data.load_wordnet_glosses()


def _no_apt_get_for_permissions(info) -> None:
    msg = str(info.value)
    assert "permission denied" in msg and "chmod" in msg, msg
    assert "apt-get" not in msg, msg


def test_a_permission_error_says_how_to_make_the_file_readable(monkeypatch, nouns):
    real = Path.read_bytes

    def denied(self):
        if self == nouns:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)  # simulated: the tests may run as root
    with pytest.raises(DataError) as info:
        data.load_wordnet_glosses(min_per_category=1, path=nouns)
    assert str(nouns) in str(info.value)
    _no_apt_get_for_permissions(info)


def test_a_folder_that_cannot_be_searched_is_a_permission_error_too(monkeypatch, nouns):
    real = Path.is_dir

    def denied(self):
        if self == nouns.parent:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "is_dir", denied)
    with pytest.raises(DataError) as info:
        data.load_wordnet_glosses(min_per_category=1, path=nouns.parent)
    _no_apt_get_for_permissions(info)


def test_an_unreadable_nltk_zip_is_a_permission_error(monkeypatch, tmp_path):
    import zipfile

    corpora = _fake_nltk(monkeypatch, tmp_path)
    with zipfile.ZipFile(corpora / "wordnet.zip", "w") as archive:
        archive.writestr("wordnet/data.noun", write_noun_file(tmp_path / "data.noun", SYNSETS).read_bytes())

    class Denied(zipfile.ZipFile):
        def __init__(self, *args, **kwargs):
            raise PermissionError(13, "Permission denied", str(args[0]))

    monkeypatch.setattr(wordnet.zipfile, "ZipFile", Denied)
    with pytest.raises(DataError) as info:
        data.load_wordnet_glosses(min_per_category=1)
    _no_apt_get_for_permissions(info)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads any file: the simulated tests above cover it")
def test_a_real_unreadable_file(nouns):
    nouns.chmod(0)
    try:
        with pytest.raises(DataError) as info:
            data.load_wordnet_glosses(min_per_category=1, path=nouns)
        _no_apt_get_for_permissions(info)
    finally:
        nouns.chmod(0o644)
