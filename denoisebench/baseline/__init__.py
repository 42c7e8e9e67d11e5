"""Baselines and drift: the baseline file (:mod:`.file`) and the comparison of a candidate run with it
(:mod:`.drift`). This package reads runs; it never runs cells."""
