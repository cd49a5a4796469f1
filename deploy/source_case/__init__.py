"""The source case, ready to load: the Đắk Lắk provincial federation's 2022 peak campaign
(letter 1335/LĐLĐ), its hierarchy, targets and the 696 initiatives registered at its start."""
