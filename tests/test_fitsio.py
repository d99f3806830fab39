"""dl3flow.io.fits against astropy.io.fits: the same cards, readable files, the same data."""

import gzip

import numpy as np
import pytest
from astropy.io import fits

from dl3flow.io import fits as fitsio


@pytest.mark.parametrize(
    ("keyword", "value", "comment", "expected"),
    [
        ("OBS_ID", 23523, None, "OBS_ID  =                23523"),
        ("E_MIN", 1.5, "[TeV]", "E_MIN   =                  1.5 / [TeV]"),
        ("SMALL", 1e-30, None, "SMALL   =                1E-30"),
        ("THIRD", 1 / 3, None, "THIRD   =   0.3333333333333333"),
        ("F32", np.float32(0.1), None, "F32     =                  0.1"),
        ("BIG", 2.0**70, None, "BIG     = 1.18059162071741E+21"),
        ("OK", True, None, "OK      =                    T"),
        ("BAD", np.bool_(False), "no", "BAD     =                    F / no"),
        ("NAME", "crab", None, "NAME    = 'crab    '"),
        ("EMPTY", "", None, "EMPTY   = ''"),
        ("QUOTE", "it's", None, "QUOTE   = 'it''s   '"),
        ("COMMENT", "a note", None, "COMMENT a note"),
    ],
)
def test_card_as_astropy_formats_it(keyword, value, comment, expected):
    image = fitsio.card(keyword, value, comment)
    assert image == f"{expected:80}"
    assert image == fits.Card(keyword, value, comment).image


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("LONG", "x" * 100),  # CONTINUE cards
        ("HIERARCH LONG KEYWORD", 1),
        ("JSON", '{"a": "' + "b" * 80 + '"}'),
    ],
)
def test_card_leaves_long_and_hierarch_cards_to_astropy(keyword, value):
    assert fitsio.card(keyword, value) == fits.Card(keyword, value).image


def test_card_refuses_what_astropy_refuses():
    with pytest.raises(ValueError, match="(?i)nan"):
        fitsio.card("BAD", float("nan"))


def _example_hdus():
    image = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    mask = np.array([[1, 0, 1], [0, 1, 1]], dtype=np.uint8)
    columns = [
        fitsio.Column("CHANNEL", np.arange(3, dtype=np.int64)),
        fitsio.Column("E_MIN", np.array([1.0, 2.0, 4.0]), unit="TeV"),
        fitsio.Column("PAIR", np.arange(6.0).reshape(3, 2)),
        fitsio.Column("CUBE", np.arange(12.0, dtype=np.float32).reshape(3, 2, 2)),
        fitsio.Column("FLAG", np.array([True, False, True])),
        fitsio.Column("SMALL", np.array([1, 2, 3], dtype=np.int16)),
        fitsio.Column("ONE", np.array([[5], [6], [7]])),  # a vector of one stays a vector
        fitsio.Column("NAME", np.array(["a", "bcd", ""])),
        fitsio.Column("NAMES", np.array([["x", "yy"], ["z", "w"], ["", "q"]])),
    ]
    primary = fitsio.primary_hdu({"NAME": "test", "OBS_ID": (7, "an obs"), "TEXT": "y" * 200})
    return (
        [
            primary,
            fitsio.image_hdu(image, name="COUNTS", cards=[fitsio.card("BUNIT", "")]),
            fitsio.image_hdu(mask, name="MASK"),
            fitsio.table_hdu(columns, name="TABLE", cards=[fitsio.card("AXCOLS1", "E_MIN,E_MAX")]),
            fitsio.table_hdu([fitsio.Column("START", np.zeros(0), unit="s")], name="EMPTY"),
        ],
        image,
        mask,
        columns,
    )


def test_written_file_is_valid_fits_with_the_same_content(tmp_path):
    hdus, image, mask, columns = _example_hdus()
    path = tmp_path / "a.fits"
    path.write_bytes(fitsio.to_bytes(hdus))
    assert path.stat().st_size % fitsio.BLOCK == 0
    with fits.open(path) as hdulist:
        hdulist.verify("exception")
        assert [h.name for h in hdulist] == ["PRIMARY", "COUNTS", "MASK", "TABLE", "EMPTY"]
        assert hdulist[0].header["TEXT"] == "y" * 200
        assert hdulist[0].header.comments["OBS_ID"] == "an obs"
        np.testing.assert_array_equal(hdulist["COUNTS"].data, image)
        assert hdulist["MASK"].data.dtype == np.uint8
        np.testing.assert_array_equal(hdulist["MASK"].data, mask)
        table = hdulist["TABLE"]
        assert table.header["AXCOLS1"] == "E_MIN,E_MAX"
        assert table.columns["E_MIN"].unit == "TeV"
        for col in columns:
            np.testing.assert_array_equal(np.asarray(table.data[col.name]), col.array)
        assert len(hdulist["EMPTY"].data) == 0


def test_read_fits_reads_what_astropy_reads(tmp_path):
    hdus, image, mask, columns = _example_hdus()
    path = tmp_path / "a.fits"
    path.write_bytes(fitsio.to_bytes(hdus))
    f = fitsio.read_fits(path)
    assert len(f) == 5 and "counts" in f and "NOPE" not in f
    assert f[0].header["OBS_ID"] == 7
    assert f["COUNTS"].data.dtype == np.float32
    assert f["COUNTS"].data.dtype.byteorder in ("=", "|")
    np.testing.assert_array_equal(f["COUNTS"].data, image)
    np.testing.assert_array_equal(f["MASK"].data, mask)
    table = f["TABLE"]
    assert table.columns.names == [c.name for c in columns]
    assert table.columns["E_MIN"].unit == "TeV" and table.columns["PAIR"].unit is None
    for col in columns:
        values = table.data[col.name]
        assert values.shape == col.array.shape, col.name
        np.testing.assert_array_equal(values, col.array)
    assert len(f["EMPTY"].data) == 0
    with pytest.raises(KeyError, match="'NOPE' not found"):
        f["NOPE"]


def test_read_fits_reads_astropy_written_tables_and_images(tmp_path):
    path = tmp_path / "b.fits"
    table = fits.BinTableHDU.from_columns(
        [
            fits.Column("X", "D", unit="deg", array=np.array([1.0, 2.0])),
            fits.Column("V", "3J", array=np.arange(6, dtype=np.int32).reshape(2, 3)),
            fits.Column("L", "L", array=np.array([True, False])),
        ],
        name="T",
    )
    image = fits.ImageHDU(np.arange(6.0).reshape(2, 3), name="IMG")
    fits.HDUList([fits.PrimaryHDU(), image, table]).writeto(path)
    f = fitsio.read_fits(path)
    np.testing.assert_array_equal(f["IMG"].data, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(f["T"].data["V"], np.arange(6).reshape(2, 3))
    assert f["T"].data["L"].tolist() == [True, False]
    assert f["T"].columns["X"].unit == "deg"


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p.write_bytes(gzip.compress(b"SIMPLE  =")), "not a plain FITS file"),
        (
            lambda p: fits.PrimaryHDU(np.arange(4, dtype=np.uint16)).writeto(p),
            "scaled or null-valued",
        ),
        (
            lambda p: fits.HDUList(
                [
                    fits.PrimaryHDU(),
                    fits.BinTableHDU.from_columns(
                        [fits.Column("V", "PJ()", array=[np.arange(2), np.arange(3)])]
                    ),
                ]
            ).writeto(p),
            "heap",
        ),
    ],
)
def test_read_fits_leaves_other_files_to_astropy(tmp_path, make, match):
    path = tmp_path / "c.fits"
    make(path)
    with pytest.raises(fitsio.UnsupportedFITS, match=match):
        fitsio.read_fits(path)


def test_truncated_file_is_refused(tmp_path):
    hdus, *_ = _example_hdus()
    path = tmp_path / "d.fits"
    path.write_bytes(fitsio.to_bytes(hdus)[: 3 * fitsio.BLOCK + 10])
    with pytest.raises(fitsio.UnsupportedFITS, match="truncated|no END card"):
        fitsio.read_fits(path)


def test_unwritable_values_are_refused():
    with pytest.raises(fitsio.UnsupportedFITS, match="image X: cannot write dtype complex128"):
        fitsio.image_hdu(np.zeros(2, dtype=complex), name="X")
    with pytest.raises(fitsio.UnsupportedFITS, match="columns of different lengths"):
        fitsio.table_hdu(
            [fitsio.Column("A", np.zeros(2)), fitsio.Column("B", np.zeros(3))], name="T"
        )
    bad = fitsio.table_hdu([fitsio.Column("C", np.zeros(2, dtype=complex))], name="T")
    with pytest.raises(fitsio.UnsupportedFITS, match="column C: cannot write dtype complex128"):
        fitsio.to_bytes([fitsio.primary_hdu(), bad])
    with pytest.raises(fitsio.UnsupportedFITS, match="the first HDU must be the primary HDU"):
        fitsio.to_bytes([bad])
