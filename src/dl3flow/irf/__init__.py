"""Instrument response functions in GADF DL3 format: effective area, energy dispersion,
PSF, background and RAD_MAX, read by their HDU class.

The names below are imported from their module on first use (`dl3flow._lazy`):
importing this package imports none of its modules.
"""

from dl3flow._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "core": [
            "Background2D",
            "Background3D",
            "EffectiveArea2D",
            "EnergyDispersion2D",
            "IrfAxis",
            "IrfError",
            "PSF3Gauss",
            "PSFKing",
            "PSFTable",
            "RadMax2D",
            "edisp_kernel",
            "is_point_like",
            "psf_containment",
            "rad_max_from_irf",
            "psf_profile",
            "read_irf",
        ],
    },
)
