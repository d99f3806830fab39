"""File input and output: atomic writes and script logging, dl3flow's fast FITS writer
and reader, lazily parsed FITS headers, provenance records and data checksums.

The names below are imported from their module on first use (`dl3flow._lazy`):
importing this package imports none of its modules.
"""

from dl3flow._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "atomic": [
            "atomic_path",
            "atomic_write",
            "write_table",
            "write_figure",
            "write_observations",
            "read_observations",
            "read_geom_center",
            "script_logging",
        ],
        "fits": [
            "BLOCK",
            "Column",
            "FitsHDU",
            "FitsFile",
            "UnsupportedFITS",
            "card",
            "header_cards",
            "primary_hdu",
            "image_hdu",
            "table_hdu",
            "to_bytes",
            "to_hdulist",
            "read_fits",
        ],
        "header": [
            "HeaderMapping",
            "STRUCTURAL_KEYWORD",
        ],
        "provenance": [
            "ConfigHashError",
            "FORMAT_VERSION",
            "InputFile",
            "KEY_PACKAGES",
            "PROVENANCE_KEYWORDS",
            "Provenance",
            "ProvenanceError",
            "config_hash",
            "data_checksum",
            "file_checksum",
            "format_provenance",
            "hdu_checksums",
            "observation_files",
            "package_versions",
            "read_provenance",
            "sidecar_path",
        ],
    },
)
