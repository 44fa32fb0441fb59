"""aelab.data.load_wordnet_glosses: WordNet 3.0 noun glosses labeled by lexicographer file.

Small fake ``data.noun`` files (wndb(5WN) format: the synset offset is the line's byte position)
test the parser, the category labels and the damaged-file errors; the real Debian file, where
installed, gives WordNet 3.0's known counts.
"""

import sys
import types
from pathlib import Path

import pytest
import torch

from aelab import data
from aelab.data import DataError

HEADER = ["  1 This software and database is being provided to you, the LICENSEE, by  ",
          "  2 Princeton University under the following license.  "]
HAS_DEBIAN_WORDNET = (data.DEBIAN_WORDNET_DIR / "data.noun").is_file()


def write_noun_file(path: Path, synsets) -> Path:
    """Write ``(lex_filenum, word, gloss)`` synsets as a wndb data.noun file with correct byte offsets."""
    text = "".join(line + "\n" for line in HEADER)
    for lexfile, word, gloss in synsets:
        offset = len(text.encode("utf-8"))
        text += f"{offset:08d} {lexfile:02d} n 01 {word} 0 000 | {gloss}  \n"
    path.write_bytes(text.encode("utf-8"))
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
    with pytest.raises(ValueError, match="positive integer"):
        data.load_wordnet_glosses(min_per_category=0, path=nouns)


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
    monkeypatch.setattr(data, "DEBIAN_WORDNET_DIR", tmp_path / "absent")
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
    monkeypatch.setattr(data, "DEBIAN_WORDNET_DIR", tmp_path / "absent")
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
    monkeypatch.setattr(data, "DEBIAN_WORDNET_DIR", tmp_path / "absent")
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
