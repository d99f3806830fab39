"""Tests of dl3flow.io.provenance: records, FITS header / sidecar round trips, checksums, CLI."""

import dataclasses
import hashlib
import json
import os
import subprocess
import sys

import astropy.units as u
import numpy as np
import pytest
from _factories import make_dataset, make_geom
from astropy.io import fits
from astropy.table import Table

from dl3flow import __version__
from dl3flow.cli import main
from dl3flow.datasets.map import read_dataset
from dl3flow.datasets.onoff import MapDatasetOnOff, read_dataset_onoff
from dl3flow.io import provenance as provmod
from dl3flow.io.provenance import (
    PROVENANCE_KEYWORDS,
    ConfigHashError,
    InputFile,
    Provenance,
    ProvenanceError,
    add_to_header,
    config_hash,
    data_checksum,
    file_checksum,
    format_provenance,
    hdu_checksums,
    package_versions,
    read_provenance,
    sidecar_path,
)
from dl3flow.makers.exclusion import ExclusionMask, read_mask
from dl3flow.makers.safe import SafeMask
from dl3flow.makers.safe_io import read_safe_mask, write_safe_mask

# A string that astropy's long-string (CONTINUE) splitting does not round-trip as is.
TRICKY = "it's a 'quoted' & ampersanded && string  with  double  spaces, é, " * 7


def _geom():
    return make_geom(
        center=(83.6, 22.0),
        width=(0.5, 0.4),
        energy=[1.0, 3.0, 10.0],
        energy_true=[0.5, 1.0, 5.0, 20.0],
    )


def _dataset(scale=1.0):
    counts = np.arange(40, dtype=float).reshape(2, 4, 5)
    return make_dataset(_geom(), counts=counts * scale, exposure=1e6, background=counts / 8.0)


@pytest.fixture
def inputs(tmp_path):
    a = tmp_path / "in" / "a.fits"
    b = tmp_path / "in" / "b.ecsv"
    a.parent.mkdir()
    a.write_bytes(b"first input" * 100)
    b.write_text("second input\n")
    return a, b


@pytest.fixture
def prov(inputs, tmp_path):
    return Provenance.create(
        rule="reduce_observation",
        config_section={"geom": {"binsz": "0.02 deg", "width": ["5 deg", "4 deg"]}},
        inputs=list(inputs),
        obs_ids=[23523, np.int64(23526)],
        parameters={"offset_max": 2.5 * u.deg, "edisp": True, "note": TRICKY},
        analysis="crab",
        checksum_cache=tmp_path / "cache",
    )


# ----------------------------------------------------------------------- config hash


def test_config_hash_is_sha256_of_canonical_json():
    section = {"b": [1, 2.5], "a": {"y": None, "x": "0.3 deg"}}
    canonical = '{"a":{"x":"0.3 deg","y":null},"b":[1,2.5]}'
    assert config_hash(section) == hashlib.sha256(canonical.encode()).hexdigest()


def test_config_hash_ignores_key_order_and_container_types():
    one = {"geom": {"binsz": "0.02 deg", "width": ("5 deg", "4 deg")}, "psf": True}
    two = {"psf": True, "geom": {"width": ["5 deg", "4 deg"], "binsz": "0.02 deg"}}
    assert config_hash(one) == config_hash(two)
    assert config_hash(one) != config_hash({**two, "psf": False})
    assert config_hash(None) is None


def test_config_hash_converts_numpy_paths_and_quantities(tmp_path):
    numpy_values = {"n": np.int64(3), "on": np.bool_(True)}
    assert config_hash(numpy_values) == config_hash({"n": 3, "on": True})
    assert config_hash({"p": tmp_path}) == config_hash({"p": str(tmp_path)})
    assert config_hash({"r": 0.3 * u.deg}) == config_hash({"r": "0.3 deg"})
    assert config_hash({"x": float("nan")}) == config_hash({"x": "nan"})


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"a": {"b": {1, 2}}}, r"^a\.b: set"),
        ({"a": [1, object()]}, r"^a\[1\]: object"),
        ({"a": {(1, 2): 3}}, r"^a: key \(1, 2\) is not a string"),
        ([1, 2], "config_section must be a mapping"),
    ],
)
def test_config_hash_errors_name_the_key(section, match):
    with pytest.raises(ConfigHashError, match=match):
        config_hash(section)


# ----------------------------------------------------------------------- versions


def test_package_versions_skips_missing_packages():
    versions = package_versions(["numpy", "no-such-package-dl3flow"])
    assert versions == {"numpy": np.__version__}


def test_create_does_not_import_matplotlib_or_snakemake(tmp_path):
    code = (
        "import sys; from dl3flow.io.provenance import Provenance; "
        "p = Provenance.create(rule='r'); "
        "assert 'numpy' in p.packages; "
        "print(sorted(m for m in ('matplotlib', 'snakemake') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------------- checksums of files


def test_file_checksum_without_cache(inputs):
    a, _ = inputs
    assert file_checksum(a) == hashlib.sha256(a.read_bytes()).hexdigest()


def test_file_checksum_is_cached_and_revalidated(inputs, tmp_path, monkeypatch):
    a, _ = inputs
    cache = tmp_path / "cache"
    calls = []
    real = provmod._sha256_file
    monkeypatch.setattr(provmod, "_sha256_file", lambda p: calls.append(p) or real(p))
    first = file_checksum(a, cache_dir=cache)
    assert file_checksum(a, cache_dir=cache) == first
    assert len(calls) == 1
    (entry,) = cache.glob("*.json")
    content = json.loads(entry.read_text())
    assert content["path"] == str(a.resolve())
    assert content["sha256"] == first
    # a changed file (size and mtime) is hashed again
    a.write_bytes(b"changed")
    os.utime(a, ns=(1, 1))
    assert file_checksum(a, cache_dir=cache) == hashlib.sha256(b"changed").hexdigest()
    assert len(calls) == 2
    # a corrupt cache entry is ignored and rewritten
    entry.write_text("{not json")
    assert file_checksum(a, cache_dir=cache) == hashlib.sha256(b"changed").hexdigest()
    assert len(calls) == 3
    assert json.loads(entry.read_text())["sha256"] == hashlib.sha256(b"changed").hexdigest()


def test_file_checksum_cache_writes_nothing_beside_the_input(inputs, tmp_path):
    a, b = inputs
    before = sorted(p.name for p in a.parent.iterdir())
    file_checksum(a, cache_dir=tmp_path / "cache")
    assert sorted(p.name for p in a.parent.iterdir()) == before


def test_file_checksum_of_a_missing_file(tmp_path):
    with pytest.raises(ProvenanceError, match=r"input file .*missing\.fits does not exist"):
        file_checksum(tmp_path / "missing.fits", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_file_checksum_of_a_directory(tmp_path):
    with pytest.raises(ProvenanceError, match=f"input {tmp_path} is not a regular file"):
        file_checksum(tmp_path)


# ----------------------------------------------------------------------- the record


def test_create_records_everything(prov, inputs):
    a, b = inputs
    assert prov.rule == "reduce_observation"
    assert prov.analysis == "crab"
    assert prov.dl3flow_version == __version__
    assert prov.python_version == ".".join(map(str, sys.version_info[:3]))
    assert {"numpy", "scipy", "astropy", "regions"} <= set(prov.packages)
    assert prov.config_hash == config_hash(
        {"geom": {"binsz": "0.02 deg", "width": ["5 deg", "4 deg"]}}
    )
    assert prov.obs_ids == (23523, 23526)
    assert [i.path for i in prov.inputs] == [str(a), str(b)]
    assert [i.sha256 for i in prov.inputs] == [
        hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b)
    ]
    assert [i.size for i in prov.inputs] == [1100, 13]
    assert prov.parameters == {"offset_max": "2.5 deg", "edisp": True, "note": TRICKY}
    assert prov.created.endswith("Z")


def test_create_accepts_a_single_input_and_obs_id(inputs):
    a, _ = inputs
    p = Provenance.create(rule="r", inputs=a, obs_ids=7)
    assert len(p.inputs) == 1 and p.obs_ids == (7,)
    assert p.config_hash is None and p.parameters == {}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rule": ""}, "rule must be a non-empty string"),
        ({"rule": "r", "obs_ids": [1, "2"]}, r"obs_ids must be integers, got '2'"),
        ({"rule": "r", "obs_ids": [True]}, "obs_ids must be integers, got True"),
        ({"rule": "r", "parameters": {"cut": {"x": {1}}}}, r"^parameters\.cut\.x: set"),
        ({"rule": "r", "inputs": ["nowhere.fits"]}, r"input file nowhere\.fits does not exist"),
        ({"rule": "r", "config_section": {"a": {1}}}, r"^a: set"),
    ],
)
def test_create_errors(kwargs, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProvenanceError, match=match):
        Provenance.create(**kwargs)


def test_dict_round_trip(prov):
    data = json.loads(prov.to_json())
    assert data["format"] == provmod.FORMAT_VERSION
    assert Provenance.from_dict(data) == prov


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d.update(format=99), "src: unsupported provenance format 99"),
        (lambda d: d.pop("format"), "src: unsupported provenance format None"),
        (lambda d: d.pop("rule"), "src: missing field.s. rule"),
        (lambda d: d["inputs"][0].pop("sha256"), "src: malformed inputs or obs_ids"),
        (lambda d: d.update(obs_ids=["x"]), "src: malformed inputs or obs_ids"),
    ],
)
def test_from_dict_errors(prov, change, match):
    data = prov.as_dict()
    change(data)
    with pytest.raises(ProvenanceError, match=match):
        Provenance.from_dict(data, source="src")


def test_from_dict_needs_an_object():
    with pytest.raises(ProvenanceError, match="src: expected a JSON object, got list"):
        Provenance.from_dict([], source="src")


# ----------------------------------------------------------------------- FITS header


def test_header_round_trip_through_a_file_is_lossless(prov, tmp_path):
    header = prov.to_header()
    assert header["PROVRULE"] == "reduce_observation"
    assert header["CONFHASH"] == prov.config_hash
    assert "'" not in header["PROVENAN"] and "&" not in header["PROVENAN"]
    path = tmp_path / "product.fits"
    fits.PrimaryHDU(header=header).writeto(path)
    assert "CONTINUE  '" in fits.getheader(path).tostring()  # the FITS long-string convention
    assert read_provenance(path) == prov


def test_header_round_trip_of_random_strings(tmp_path):
    rng = np.random.default_rng(1)
    alphabet = np.array(list(" '&&''  abcXYZ019{}[]\",:\\/é€"))
    for i in range(20):
        text = "".join(rng.choice(alphabet, size=int(rng.integers(0, 400))))
        p = Provenance(
            rule="r",
            created="t",
            dl3flow_version="v",
            python_version="3",
            platform="",
            parameters={"text": text, "end": text.rstrip() + " "},
        )
        path = tmp_path / f"p{i}.fits"
        fits.PrimaryHDU(header=p.to_header()).writeto(path)
        assert read_provenance(path) == p


def test_header_holds_a_stacked_product_with_many_inputs(tmp_path):
    inputs = tuple(
        InputFile(f"results/crab/obs/{20000 + i}/dataset.fits", f"{i:064x}", 10_000 + i)
        for i in range(300)
    )
    p = Provenance(
        rule="stack_datasets",
        created="t",
        dl3flow_version="v",
        python_version="3",
        platform="",
        obs_ids=tuple(range(20000, 20300)),
        inputs=inputs,
    )
    path = tmp_path / "stacked.fits"
    _dataset().write(path, provenance=p)
    assert read_provenance(path) == p
    assert read_dataset(path).counts.sum() == _dataset().counts.sum()


def test_to_header_copies_and_replaces(prov):
    header = fits.Header({"OBJECT": "Crab"})
    out = prov.to_header(header)
    assert "PROVENAN" not in header
    assert out["OBJECT"] == "Crab"
    other = Provenance.create(rule="other")
    again = other.to_header(out)
    assert again["PROVRULE"] == "other"
    assert list(again.keys()).count("PROVENAN") == 1
    assert "CONFHASH" not in again  # the old record's hash does not linger


def test_add_to_header_accepts_mappings_and_none():
    header = fits.Header()
    add_to_header(header, None)
    assert len(header) == 0
    add_to_header(header, {"DATASET": "ds.fits", "CONFHASH": ("abc", "hash")})
    assert header["DATASET"] == "ds.fits" and header["CONFHASH"] == "abc"


def test_add_to_header_rejects_other_types():
    with pytest.raises(ProvenanceError, match="provenance must be a Provenance.*got list"):
        add_to_header(fits.Header(), [("A", 1)])


# ----------------------------------------------------------------------- sidecar


def test_sidecar_round_trip(prov, tmp_path):
    product = tmp_path / "tables" / "norms.ecsv"
    path = prov.to_sidecar(product)
    assert path == sidecar_path(product) == tmp_path / "tables" / "norms.ecsv.prov.json"
    assert not product.exists()
    product.write_text("x\n1\n")
    assert read_provenance(product) == prov
    assert read_provenance(path) == prov
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


def test_fits_without_header_record_falls_back_to_sidecar(prov, tmp_path):
    path = tmp_path / "plain.fits"
    fits.PrimaryHDU().writeto(path)
    prov.to_sidecar(path)
    assert read_provenance(path) == prov


@pytest.mark.parametrize(
    ("setup", "match"),
    [
        (lambda p: None, r"missing\.fits does not exist"),
        (
            lambda p: fits.PrimaryHDU().writeto(p),
            r"missing\.fits: no provenance record \(no PROVENAN keyword in its primary "
            r"header and no sidecar missing\.fits\.prov\.json\)",
        ),
        (lambda p: p.write_bytes(b"SIMPLE  = garbage"), r"missing\.fits: cannot read the FITS"),
        (
            lambda p: fits.PrimaryHDU(header=fits.Header({"PROVENAN": "{x"})).writeto(p),
            r"missing\.fits: PROVENAN is not valid JSON",
        ),
        (
            lambda p: (fits.PrimaryHDU().writeto(p), sidecar_path(p).write_text("[1")),
            r"missing\.fits\.prov\.json: not a readable provenance sidecar",
        ),
    ],
    ids=["missing", "no-record", "not-fits", "bad-json", "bad-sidecar"],
)
def test_read_provenance_errors(tmp_path, setup, match):
    path = tmp_path / "missing.fits"
    setup(path)
    with pytest.raises(ProvenanceError, match=match):
        read_provenance(path)


def test_read_provenance_of_a_table_without_sidecar(tmp_path):
    path = tmp_path / "t.ecsv"
    Table({"a": [1]}).write(path)
    with pytest.raises(ProvenanceError, match=r"t\.ecsv: no provenance record \(no sidecar"):
        read_provenance(path)


# ----------------------------------------------------------------------- product writers


def test_dataset_write_records_provenance_outside_meta(prov, tmp_path):
    path = tmp_path / "dataset.fits"
    _dataset().write(path, provenance=prov)
    assert read_provenance(path) == prov
    ds = read_dataset(path)
    assert not PROVENANCE_KEYWORDS & set(ds.meta)
    # re-writing a read dataset with a new record keeps exactly one record
    again = Provenance.create(rule="again")
    ds.write(tmp_path / "again.fits", provenance=again)
    assert read_provenance(tmp_path / "again.fits") == again


def test_dataset_meta_may_not_use_provenance_keywords(tmp_path):
    from dl3flow.datasets.io import DatasetError

    ds = dataclasses.replace(_dataset(), meta={"PROVRULE": "x"})
    with pytest.raises(DatasetError, match="meta key 'PROVRULE' is reserved"):
        ds.write(tmp_path / "x.fits")
    assert not (tmp_path / "x.fits").exists()


def test_dataset_write_without_provenance_is_unchanged(tmp_path):
    _dataset().write(tmp_path / "plain.fits")
    assert "PROVENAN" not in fits.getheader(tmp_path / "plain.fits")


def test_onoff_write_records_provenance(prov, tmp_path):
    ds = _dataset()
    onoff = MapDatasetOnOff(
        geom=ds.geom,
        counts=ds.counts,
        counts_off=ds.counts * 2,
        acceptance=np.ones_like(ds.counts),
        acceptance_off=np.full_like(ds.counts, 2.0),
        exposure=ds.exposure,
        mask_safe=ds.mask_safe,
        name="ring",
        meta={"LIVETIME": 10.0},
    )
    onoff.write(tmp_path / "ring.fits", provenance=prov)
    assert read_provenance(tmp_path / "ring.fits") == prov
    assert not PROVENANCE_KEYWORDS & set(read_dataset_onoff(tmp_path / "ring.fits").meta)


def _safe_mask():
    ds = _dataset()
    return SafeMask(
        mask=ds.mask_safe,
        sky=ds.geom.sky,
        energy=ds.geom.energy,
        methods=("offset-max",),
        energy_min=None,
        energy_max=None,
        details={},
        parameters={"offset_max": 2.5},
        obs_id=1,
    )


@pytest.mark.parametrize("kind", ["record", "mapping"])
def test_safe_mask_write_records_provenance(prov, tmp_path, kind):
    path = tmp_path / "mask_safe.fits"
    write_safe_mask(_safe_mask(), path, provenance=prov if kind == "record" else {"DATASET": "d"})
    if kind == "record":
        assert read_provenance(path) == prov
    else:
        assert fits.getheader(path)["DATASET"] == "d"
    assert read_safe_mask(path).obs_id == 1


@pytest.mark.parametrize("kind", ["record", "mapping"])
def test_exclusion_write_records_provenance(prov, tmp_path, kind):
    sky = _geom().sky
    mask = ExclusionMask(mask=np.ones(sky.shape, bool), geom=sky, recipe={"kind": "regions"})
    path = tmp_path / "exclusion.fits"
    mask.write(path, provenance=prov if kind == "record" else {"CONFHASH": "abc"})
    if kind == "record":
        assert read_provenance(path) == prov
    else:
        assert fits.getheader(path)["CONFHASH"] == "abc"
    assert read_mask(path)[2] == {"kind": "regions"}


# ----------------------------------------------------------------------- data checksums


def test_data_checksum_ignores_headers(prov, tmp_path):
    _dataset().write(tmp_path / "a.fits")
    _dataset().write(tmp_path / "b.fits", provenance=prov)
    with fits.open(tmp_path / "b.fits", mode="update") as hdulist:
        hdulist["COUNTS"].header["DATE"] = "2001-01-01"
    assert data_checksum(tmp_path / "a.fits") == data_checksum(tmp_path / "b.fits")
    _dataset(scale=1.000001).write(tmp_path / "c.fits")
    assert data_checksum(tmp_path / "c.fits") != data_checksum(tmp_path / "a.fits")


def test_hdu_checksums_name_each_hdu(tmp_path):
    _dataset().write(tmp_path / "a.fits")
    _dataset(scale=2.0).write(tmp_path / "b.fits")
    a, b = hdu_checksums(tmp_path / "a.fits"), hdu_checksums(tmp_path / "b.fits")
    assert list(a)[:4] == ["0:PRIMARY", "1:COUNTS", "2:COUNTS_BANDS", "3:EXPOSURE"]
    assert [key for key in a if a[key] != b[key]] == ["1:COUNTS"]


def test_data_checksum_of_byte_order_and_compression(tmp_path):
    data = np.arange(12, dtype=">f8").reshape(3, 4)
    fits.PrimaryHDU(data).writeto(tmp_path / "big.fits")
    fits.PrimaryHDU(data.astype("<f8")).writeto(tmp_path / "little.fits")
    fits.PrimaryHDU(data).writeto(tmp_path / "big.fits.gz")
    checksums = {data_checksum(tmp_path / n) for n in ("big.fits", "little.fits", "big.fits.gz")}
    assert len(checksums) == 1


def test_data_checksum_of_variable_length_columns(tmp_path):
    col = fits.Column(name="V", format="PD()", array=np.array([[1.0], [2.0, 3.0]], dtype=object))
    fits.BinTableHDU.from_columns([col]).writeto(tmp_path / "v.fits")
    col2 = fits.Column(name="V", format="PD()", array=np.array([[1.0], [2.0, 4.0]], dtype=object))
    fits.BinTableHDU.from_columns([col2]).writeto(tmp_path / "w.fits")
    assert data_checksum(tmp_path / "v.fits") != data_checksum(tmp_path / "w.fits")


def test_data_checksum_of_ecsv_ignores_volatile_meta(tmp_path):
    table = Table({"OBS_ID": [1, 2], "NORM": [1.0, 0.5] * u.one}, masked=True)
    table["NORM"].mask = [False, True]
    table.meta = {"DATE": "2024-01-01", "CREATOR": "dl3flow 0.1", "n": 2}
    table.write(tmp_path / "a.ecsv")
    table.meta.update(DATE="2025-02-02", CREATOR="dl3flow 0.2")
    table["NORM"].data.data[1] = 99.0  # masked: does not count
    table.write(tmp_path / "b.ecsv")
    assert data_checksum(tmp_path / "a.ecsv") == data_checksum(tmp_path / "b.ecsv")
    table.meta["n"] = 3
    table.write(tmp_path / "c.ecsv")
    assert data_checksum(tmp_path / "c.ecsv") != data_checksum(tmp_path / "a.ecsv")


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("none.fits", None, r"none\.fits does not exist"),
        ("plot.png", b"\x89PNG", r"plot\.png: data_checksum reads FITS"),
        ("bad.fits", b"not fits at all", r"bad\.fits: cannot read the FITS data"),
        ("bad.ecsv", b"# %ECSV 1.0\n# ---\n# bogus", r"bad\.ecsv: cannot read the ECSV table"),
    ],
)
def test_data_checksum_errors(tmp_path, name, content, match):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(ProvenanceError, match=match):
        data_checksum(tmp_path / name)


def test_hdu_checksums_missing_file(tmp_path):
    with pytest.raises(ProvenanceError, match=r"x\.fits does not exist"):
        hdu_checksums(tmp_path / "x.fits")


# ----------------------------------------------------------------------- CLI


def test_format_provenance_lists_the_fields(prov):
    text = format_provenance(prov, title="results/x.fits")
    lines = text.splitlines()
    assert lines[0] == "results/x.fits"
    for expected in (
        "rule:",
        "reduce_observation",
        "analysis:    crab",
        f"dl3flow:     {__version__}",
        f"config hash: sha256:{prov.config_hash}",
        "obs_ids (2): 23523, 23526",
        'offset_max = "2.5 deg"',
        f"sha256:{prov.inputs[0].sha256}",
        "numpy " + np.__version__,
    ):
        assert expected in text


def test_cli_provenance_prints_a_fits_record(prov, tmp_path, capsys):
    path = tmp_path / "dataset.fits"
    _dataset().write(path, provenance=prov)
    assert main(["provenance", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(str(path))
    assert "obs_ids (2): 23523, 23526" in out
    assert f"sha256:{prov.config_hash}" in out


def test_cli_provenance_json_of_a_sidecar(prov, tmp_path, capsys):
    product = tmp_path / "t.ecsv"
    prov.to_sidecar(product)
    assert main(["provenance", "--json", str(product)]) == 0
    assert Provenance.from_dict(json.loads(capsys.readouterr().out)) == prov


def test_cli_provenance_error_exit_status(tmp_path, capsys, prov):
    good = tmp_path / "good.fits"
    _dataset().write(good, provenance=prov)
    assert main(["provenance", str(tmp_path / "nope.fits"), str(good)]) == 1
    captured = capsys.readouterr()
    assert "error: " in captured.err and "nope.fits does not exist" in captured.err
    assert "reduce_observation" in captured.out  # the good file is still printed
