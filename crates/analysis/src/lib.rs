//! Pure analysis engine of OpenScouter (spec `analysis.md`): no I/O, no async, no clock.
