"""Running a benchmark: the grid of cells (:mod:`.grid`), the runner (:mod:`.runner`), the worker that runs one
task (:mod:`.worker`), the executors (:mod:`.executors`: local pool, Dask) and what a run records about itself
(:mod:`.provenance`). Per-cell isolation lives here."""
