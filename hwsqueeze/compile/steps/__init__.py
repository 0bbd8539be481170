"""The build's step functions, one module per stage: ``frontend`` (model -> streamlined integer
graph), ``dataflow`` (HW layers, folding, estimates, generated sources), ``deploy`` (the board's
package) and ``vivado`` (synthesis and bitstream, when the tools exist). Each is
``step(ctx, model) -> model``; the order, files and checks are in :mod:`hwsqueeze.compile.pipeline`.
"""
