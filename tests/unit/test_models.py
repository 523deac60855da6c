"""Model loading: names, embedded-part checks, and the errors users see."""

from __future__ import annotations

import hashlib
import sys

import pytest

from edshook.errors import ModelLoadError, UnknownModelError
from edshook.models import EMBEDDED_MODELS, load_model
from edshook.models.embedded import EmbeddedModel, assemble_gguf


def test_unknown_model_lists_known_names():
    with pytest.raises(UnknownModelError) as info:
        load_model("no-such-model")
    for name in EMBEDDED_MODELS:
        assert name in str(info.value)


def test_missing_gguf_file(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(str(tmp_path / "absent.gguf"))


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Two installed 'packages' holding the halves of a small file, and the spec that joins them."""
    payload = b"GGUF" + bytes(range(256)) * 40
    halves = (payload[:5000], payload[5000:])
    for i, half in enumerate(halves, start=1):
        folder = tmp_path / f"fakemodel_part{i}" / "data"
        folder.mkdir(parents=True)
        (folder.parent / "__init__.py").write_text("")
        (folder / f"part{i:02d}.bin").write_bytes(half)
    monkeypatch.syspath_prepend(str(tmp_path))
    for i in (1, 2):
        sys.modules.pop(f"fakemodel_part{i}", None)
    spec = EmbeddedModel(
        name="fake",
        parts=tuple((f"fakemodel-part{i}", f"fakemodel_part{i}", f"data/part{i:02d}.bin") for i in (1, 2)),
        sha256=hashlib.sha256(payload).hexdigest(),
        size=len(payload),
        extra="fake",
        n_layers=1,
        d_model=1,
    )
    return spec, tmp_path


def test_assemble_checks_and_joins(fake_parts):
    spec, tmp_path = fake_parts
    target = assemble_gguf(spec, tmp_path / "out" / "fake.gguf")
    assert hashlib.sha256(target.read_bytes()).hexdigest() == spec.sha256


def test_corrupted_part_names_package_to_reinstall(fake_parts):
    spec, tmp_path = fake_parts
    part = tmp_path / "fakemodel_part2" / "data" / "part02.bin"
    data = bytearray(part.read_bytes())
    data[10] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(
        ModelLoadError, match=r"corrupted or truncated.*fakemodel-part1, fakemodel-part2.*--force-reinstall"
    ):
        assemble_gguf(spec, tmp_path / "out" / "fake.gguf")
    assert not (tmp_path / "out" / "fake.gguf").exists()


def test_truncated_part(fake_parts):
    spec, tmp_path = fake_parts
    part = tmp_path / "fakemodel_part1" / "data" / "part01.bin"
    part.write_bytes(part.read_bytes()[:100])
    with pytest.raises(ModelLoadError, match="truncated"):
        assemble_gguf(spec, tmp_path / "out" / "fake.gguf")


def test_missing_package(fake_parts):
    spec, tmp_path = fake_parts
    missing = EmbeddedModel(**{**spec.__dict__, "parts": (("absent-pkg", "absent_pkg_xyz", "data/x.bin"),)})
    with pytest.raises(ModelLoadError, match=r"needs the package 'absent-pkg'.*pip install"):
        assemble_gguf(missing, tmp_path / "out" / "fake.gguf")


def test_two_first_loads_at_once_convert_the_model_once(fake_parts, monkeypatch):
    """A second process (here a thread) waits for the first conversion instead of writing the same files."""
    import threading
    import time

    from edshook.models import loader

    spec, tmp_path = fake_parts
    monkeypatch.setenv("EDSHOOK_CACHE", str(tmp_path / "cache"))
    conversions = []

    class Saved:
        def save_pretrained(self, folder):
            folder.mkdir(parents=True, exist_ok=True)
            time.sleep(0.2)  # long enough for the other thread to arrive while this one converts
            (folder / "config.json").write_text("{}")

    def convert(path, options):
        conversions.append(path.read_bytes() == b"GGUF" + bytes(range(256)) * 40)
        return Saved(), Saved()

    monkeypatch.setattr(loader, "_from_gguf", convert)
    folders, errors = [], []

    def load():
        try:
            folders.append(loader._embedded_folder(spec))
        except Exception as err:  # reported below, from either thread
            errors.append(err)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and conversions == [True]
    assert folders[0] == folders[1] and (folders[0] / "config.json").is_file()
