"""Compile stage: QONNX -> FINN+ dataflow accelerator -> deploy package.

``pipeline.py`` is the ordered step table, ``steps/`` the step functions, ``runner.py`` runs them
(resume + provenance), ``verify.py`` checks each stage, ``config.py`` holds the typed
configuration and state; ``transforms/`` the graph passes, ``folding.py``/``estimates.py`` the
parallelism search, ``assemble.py`` the deploy package, ``finn_env.py`` FINN+'s environment.
"""
