"""Instrument response functions in GADF DL3 format: effective area, energy dispersion,
PSF, background and RAD_MAX, read by their HDU class.

Readers for the GADF IRF table HDUs (`dl3flow.irf.io`) and evaluation functions
reproducing the numbers of gammapy 1.3 (``gammapy.irf``) to floating-point rounding,
without importing gammapy; `dl3flow.irf.axes` describes how.

The names below are imported from their module on first use (`dl3flow._lazy`):
importing this package imports none of its modules.

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018) for validation.
"""

from dl3flow._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "axes": ["IrfAxis", "IrfError"],
        "aeff": ["EffectiveArea2D"],
        "edisp": ["EnergyDispersion2D", "edisp_kernel"],
        "psf": ["PSF3Gauss", "PSFKing", "PSFTable", "psf_containment", "psf_profile"],
        "background": ["Background2D", "Background3D"],
        "rad_max": ["RadMax2D", "is_point_like", "rad_max_from_irf"],
        "io": ["read_irf"],
    },
)
